"""Gathering the facts the record's access decision needs (``policy.record_access``).

A document row gives its :class:`DocumentFacts`; a record's settings, professionals' standing,
emergency grants, guardians (asked of ``accounts``) and the holder's account status give its
:class:`RecordFacts`. Nothing here decides; ``records.access`` asks ``policy``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante.accounts.guardians import guardians_in_force
from espace_sante.accounts.patients import holder_facts
from espace_sante.policy.record_access import (
    DocumentFacts,
    DocumentStatus,
    EmergencyConsents,
    RecordFacts,
)
from espace_sante.storage.schema import (
    Document,
    EmergencyGrant,
    RecordProfessional,
    RecordSettings,
)

AUTHORISED = "authorised"
BLOCKED = "blocked"
NONE = "none"


def aware(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (SQLite hands back naive UTC ones)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def visibility_codes(text: str | None) -> frozenset[str]:
    """The codes of a ``documents.visibility`` value."""
    return frozenset((text or "").split())


def document_facts(row: Document) -> DocumentFacts:
    """The decision's view of one document row."""
    return DocumentFacts(
        account_id=row.account_id,
        class_code=row.class_code,
        type_code=row.type_code,
        visibility=visibility_codes(row.visibility),
        author_professional_id=row.author_professional_id,
        uploaded_by_patient=row.source == "upload" and row.uploaded_by_account_id is not None,
        status=DocumentStatus(row.status),
        archived=bool(row.archived),
    )


async def settings_row(
    session: AsyncSession, account_id: int, *, create: bool = False, now: datetime | None = None
) -> RecordSettings | None:
    """The record's settings row; created with the defaults (all consents given) on ``create``."""
    row = await session.get(RecordSettings, account_id)
    if row is None and create:
        row = RecordSettings(
            account_id=account_id,
            consent_samu=True,
            consent_break_glass=True,
            consent_masked_in_emergency=True,
            updated_at=now or datetime.now(UTC),
        )
        session.add(row)
        await session.flush()
    return row


def consents_of(row: RecordSettings | None) -> EmergencyConsents:
    if row is None:
        return EmergencyConsents()
    return EmergencyConsents(
        samu=row.consent_samu,
        break_glass=row.consent_break_glass,
        masked_documents=row.consent_masked_in_emergency,
    )


async def record_facts(session: AsyncSession, account_id: int, *, now: datetime) -> RecordFacts:
    """Everything the decision needs to know of ``account_id``'s record at ``now``."""
    holder = await holder_facts(session, account_id)
    settings = await settings_row(session, account_id)
    standing = (
        await session.execute(
            select(RecordProfessional.professional_id, RecordProfessional.state).where(
                RecordProfessional.account_id == account_id,
                RecordProfessional.state != NONE,
            )
        )
    ).all()
    grants: dict[str, datetime] = {}
    rows = (
        await session.execute(
            select(EmergencyGrant.professional_id, EmergencyGrant.expires_at).where(
                EmergencyGrant.account_id == account_id,
                EmergencyGrant.ended_at.is_(None),
                EmergencyGrant.expires_at > now,
            )
        )
    ).all()
    for pid, until in rows:
        until = aware(until)
        if pid not in grants or until > grants[pid]:
            grants[pid] = until
    guardians = await guardians_in_force(session, account_id, today=now.date())
    return RecordFacts(
        account_id=account_id,
        open=holder is not None and holder.status == "active",
        authorised=frozenset(pid for pid, state in standing if state == AUTHORISED),
        blocked=frozenset(pid for pid, state in standing if state == BLOCKED),
        attending_physician=settings.attending_physician_id if settings else None,
        consents=consents_of(settings),
        emergency_grants=grants,
        guardians=frozenset(g.id for g in guardians),
    )
