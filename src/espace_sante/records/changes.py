"""Changes to a record's documents, each through ``policy.record_access.may_change`` and audited.

Masking from professionals (``MASQUE_PS``), archiving, deprecating, lifting ``INVISIBLE_PATIENT``
(the author's alone), replacing (a new version row with ``replaces_id``, the old one
``superseded``, in one transaction) and deleting the patient's own uploads. Deletion removes the
row now and the blob's file once the transaction has committed (``storage.blob_rows``); nothing
a professional deposited is ever deleted — checked here as well as by the policy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante import audit
from espace_sante.policy.record_access import (
    INVISIBLE_PATIENT,
    MASQUE_PS,
    ONLY_OWN_UPLOADS,
    Change,
    Decision,
    DocumentStatus,
    ProfessionMayRead,
    may_change,
)
from espace_sante.records.access import NOT_FOUND, Caller, matrix_or_default, now_or_utc
from espace_sante.records.deposit import NewDocument, deposit_documents, visibility_text
from espace_sante.records.facts import document_facts, record_facts, visibility_codes
from espace_sante.storage.blob_rows import delete_blob
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Document

NOT_CURRENT = Decision(
    False,
    "not_current",
    "Ce document a été remplacé par une version plus récente",
    existence_disclosed=True,
)
NOT_APPROVED = Decision(
    False, "not_approved", "Ce document n'est plus en vigueur", existence_disclosed=True
)


@dataclass(frozen=True)
class ChangeOutcome:
    decision: Decision
    #: The document changed (deleted: the row as it was).
    document: Document | None = None
    #: For a replacement: the new version.
    replacement: Document | None = None

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


async def _checked(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    document_id: int,
    change: Change,
    now: datetime,
    profession_may_read: ProfessionMayRead | None,
) -> tuple[Decision, Document | None]:
    record = await record_facts(session, account_id, now=now)
    row = (
        await session.execute(
            select(Document)
            .where(Document.id == document_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:
        return NOT_FOUND, None
    decision = may_change(
        caller.actor,
        change,
        document_facts(row),
        record,
        profession_may_read=matrix_or_default(profession_may_read),
        now=now,
    )
    return decision, (row if decision.allowed else None)


async def _audit(
    session: AsyncSession,
    caller: Caller,
    row: Document,
    action: str,
    now: datetime,
    **detail: object,
) -> None:
    await audit.append(
        session,
        account_id=row.account_id,
        actor=caller.name,
        action=action,
        detail={"document": row.id, **detail},
        at=now,
    )


async def _set_codes(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    document_id: int,
    change: Change,
    code: str,
    present: bool,
    action: str,
    now: datetime | None,
    profession_may_read: ProfessionMayRead | None,
) -> ChangeOutcome:
    now = now_or_utc(now)
    decision, row = await _checked(
        session, caller, account_id, document_id, change, now, profession_may_read
    )
    if row is None:
        return ChangeOutcome(decision)
    codes = set(visibility_codes(row.visibility))
    codes.add(code) if present else codes.discard(code)
    row.visibility = visibility_text(frozenset(codes))
    row.updated_at = now
    await _audit(session, caller, row, action, now, visibility=sorted(codes))
    return ChangeOutcome(decision, row)


async def mask_document(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    document_id: int,
    *,
    masked: bool = True,
    now: datetime | None = None,
    profession_may_read: ProfessionMayRead | None = None,
) -> ChangeOutcome:
    """Hide the document from professionals (``MASQUE_PS``), or show it again."""
    action = "document.masked" if masked else "document.unmasked"
    return await _set_codes(
        session, caller, account_id, document_id, Change.MASK, MASQUE_PS, masked, action,
        now, profession_may_read,
    )  # fmt: skip


async def lift_invisible_patient(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    document_id: int,
    *,
    now: datetime | None = None,
    profession_may_read: ProfessionMayRead | None = None,
) -> ChangeOutcome:
    """Let the patient see the document (its author, once the result has been announced)."""
    return await _set_codes(
        session, caller, account_id, document_id, Change.LIFT_INVISIBLE_PATIENT,
        INVISIBLE_PATIENT, False, "document.made_visible", now, profession_may_read,
    )  # fmt: skip


async def set_archived(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    document_id: int,
    *,
    archived: bool = True,
    now: datetime | None = None,
    profession_may_read: ProfessionMayRead | None = None,
) -> ChangeOutcome:
    """Archive the document (out of the default lists), or bring it back."""
    now = now_or_utc(now)
    decision, row = await _checked(
        session, caller, account_id, document_id, Change.ARCHIVE, now, profession_may_read
    )
    if row is None:
        return ChangeOutcome(decision)
    row.archived = archived
    row.updated_at = now
    await _audit(
        session, caller, row, "document.archived" if archived else "document.unarchived", now
    )
    return ChangeOutcome(decision, row)


async def deprecate_document(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    document_id: int,
    *,
    now: datetime | None = None,
    profession_may_read: ProfessionMayRead | None = None,
) -> ChangeOutcome:
    """Mark an approved document deprecated (no longer in force; XDS status Deprecated)."""
    now = now_or_utc(now)
    decision, row = await _checked(
        session, caller, account_id, document_id, Change.DEPRECATE, now, profession_may_read
    )
    if row is None:
        return ChangeOutcome(decision)
    if row.status != DocumentStatus.APPROVED.value:
        return ChangeOutcome(NOT_APPROVED)
    row.status = DocumentStatus.DEPRECATED.value
    row.updated_at = now
    await _audit(session, caller, row, "document.deprecated", now)
    return ChangeOutcome(decision, row)


async def replace_document(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    document_id: int,
    new: NewDocument,
    *,
    now: datetime | None = None,
    profession_may_read: ProfessionMayRead | None = None,
) -> ChangeOutcome:
    """Deposit ``new`` (its blob already stored) as the next version of the document, which
    becomes ``superseded``. A holder's replacement is an upload of theirs; a professional's
    names them as its author unless it names another."""
    now = now_or_utc(now)
    decision, row = await _checked(
        session, caller, account_id, document_id, Change.REPLACE, now, profession_may_read
    )
    if row is None:
        return ChangeOutcome(decision)
    if row.status == DocumentStatus.SUPERSEDED.value:
        return ChangeOutcome(NOT_CURRENT)
    if caller.is_holder:
        new = dataclasses.replace(
            new, source="upload", uploaded_by_account_id=caller.actor.account_id
        )
    elif new.author_professional_id is None:
        new = dataclasses.replace(new, author_professional_id=caller.actor.professional_id)
    new = dataclasses.replace(new, replaces_id=row.id)
    row.status = DocumentStatus.SUPERSEDED.value
    row.updated_at = now
    events: list[audit.AuditEvent] = []
    (replacement,) = await deposit_documents(
        session,
        account_id=row.account_id,
        documents=[new],
        deposited_by=caller.name,
        audit_events=events,
        at=now,
    )
    events.append(
        audit.AuditEvent(
            caller.name,
            "document.replaced",
            {"document": row.id, "replacement": replacement.id},
            now,
        )
    )
    await audit.append_many(session, row.account_id, events)
    return ChangeOutcome(decision, row, replacement)


async def delete_document(
    session: AsyncSession,
    storage: Storage,
    caller: Caller,
    account_id: int,
    document_id: int,
    *,
    now: datetime | None = None,
    profession_may_read: ProfessionMayRead | None = None,
) -> ChangeOutcome:
    """Delete one of the patient's own uploads: the row now (the version chain closes over the
    gap), the blob's file after the commit."""
    now = now_or_utc(now)
    decision, row = await _checked(
        session, caller, account_id, document_id, Change.DELETE, now, profession_may_read
    )
    if row is None:
        return ChangeOutcome(decision)
    if row.source != "upload" or row.uploaded_by_account_id is None:
        return ChangeOutcome(ONLY_OWN_UPLOADS)
    newer = list(
        (
            await session.execute(
                select(Document).where(
                    Document.account_id == row.account_id, Document.replaces_id == row.id
                )
            )
        ).scalars()
    )
    for n in newer:
        n.replaces_id = row.replaces_id
    if not newer and row.replaces_id is not None and row.status != DocumentStatus.SUPERSEDED:
        previous = await session.get(Document, row.replaces_id)
        if previous is not None and previous.status == DocumentStatus.SUPERSEDED.value:
            previous.status = DocumentStatus.APPROVED.value  # the current version again
            previous.updated_at = now
    await session.flush()
    await _audit(session, caller, row, "document.deleted", now, category=row.category)
    await session.delete(row)
    await session.flush()
    await delete_blob(session, storage, row.account_id, row.blob_id)
    return ChangeOutcome(decision, row)
