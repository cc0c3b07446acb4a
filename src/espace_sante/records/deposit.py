"""Depositing documents into a patient's record (the DMP-style document store).

A deposit records the document's metadata, its visibility codes (TRE_A07), its patient-facing
category (``records.codes.category_of``, unless given) and who authored it; deciding whether the
depositor may deposit is the caller's (``policy.record_access.may_deposit``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from espace_sante import audit
from espace_sante.policy.record_access import INVISIBLE_PATIENT
from espace_sante.records.codes import category_of
from espace_sante.storage.schema import Document


def visibility_text(codes: frozenset[str]) -> str:
    """The ``documents.visibility`` column's form of a set of TRE_A07 codes."""
    return " ".join(sorted(codes))


@dataclass(frozen=True)
class NewDocument:
    """A document ready to be recorded: its bytes are already in the blob store."""

    blob_id: str
    source: str  # "xdm" | "attachment" | "upload"
    title: str
    mime_type: str
    size: int
    sha1: str
    filename: str | None = None
    unique_id: str | None = None
    patient_id: str | None = None
    class_code: str | None = None
    type_code: str | None = None
    format_code: str | None = None
    author_person: str | None = None
    author_institution: str | None = None
    creation_time: datetime | None = None
    #: TRE_A07 codes (``policy.record_access.normalise_visibility`` of what the sender said).
    visibility: frozenset[str] = frozenset()
    #: The patient-facing category key; None: ``records.codes.category_of`` of the codes.
    category: str | None = None
    #: National id (RPPS/ADELI) of the authoring professional, when known.
    author_professional_id: str | None = None
    #: The patient's or guardian's account, for a patient upload.
    uploaded_by_account_id: int | None = None
    #: The older version this document replaces (set by ``records.changes.replace_document``).
    replaces_id: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def hidden_from_patient(self) -> bool:
        return INVISIBLE_PATIENT in self.visibility


async def deposit_document(
    session: AsyncSession,
    *,
    account_id: int,
    document: NewDocument,
    deposited_by: str,
    message_row_id: int | None = None,
    at: datetime | None = None,
) -> Document:
    """Record one document in the patient's record, with its audit entry, in the caller's
    transaction."""
    events: list[audit.AuditEvent] = []
    (row,) = await deposit_documents(
        session,
        account_id=account_id,
        documents=[document],
        deposited_by=deposited_by,
        message_row_id=message_row_id,
        at=at,
        audit_events=events,
    )
    await audit.append_many(session, account_id, events)
    return row


async def deposit_documents(
    session: AsyncSession,
    *,
    account_id: int,
    documents: list[NewDocument],
    deposited_by: str,
    audit_events: list[audit.AuditEvent],
    message_row_id: int | None = None,
    at: datetime | None = None,
) -> list[Document]:
    """Record several documents in one write; their audit events are added to ``audit_events``
    for the caller to chain together with its own."""
    return await session.run_sync(
        lambda sync: deposit_documents_sync(
            sync,
            account_id=account_id,
            documents=documents,
            deposited_by=deposited_by,
            audit_events=audit_events,
            message_row_id=message_row_id,
            at=at,
        )
    )


def deposit_documents_sync(
    session: Session,
    *,
    account_id: int,
    documents: list[NewDocument],
    deposited_by: str,
    audit_events: list[audit.AuditEvent],
    message_row_id: int | None = None,
    at: datetime | None = None,
) -> list[Document]:
    """:func:`deposit_documents` for a synchronous session."""
    at = at or datetime.now(UTC)
    rows = [_document_row(account_id, d, deposited_by, message_row_id, at) for d in documents]
    if not rows:
        return rows
    session.add_all(rows)
    session.flush()
    for row, document in zip(rows, documents, strict=True):
        audit_events.append(
            audit.AuditEvent(
                actor=deposited_by,
                action="document.deposited",
                detail={
                    "document": row.id,
                    "source": document.source,
                    "class_code": document.class_code,
                    "type_code": document.type_code,
                    "visibility": sorted(document.visibility),
                    "category": row.category,
                },
                at=at,
            )
        )
    return rows


def _document_row(
    account_id: int,
    document: NewDocument,
    deposited_by: str,
    message_row_id: int | None,
    at: datetime,
) -> Document:
    return Document(
        account_id=account_id,
        blob_id=document.blob_id,
        source=document.source,
        message_row_id=message_row_id,
        unique_id=document.unique_id,
        title=document.title[:500],
        mime_type=document.mime_type[:128],
        filename=document.filename[:255] if document.filename else None,
        size=document.size,
        sha1=document.sha1,
        patient_id=document.patient_id,
        class_code=document.class_code,
        type_code=document.type_code,
        format_code=document.format_code,
        metadata_json=document.metadata,
        author_person=document.author_person,
        author_institution=document.author_institution,
        creation_time=document.creation_time,
        deposited_by=deposited_by,
        deposited_at=at,
        status="approved",
        replaces_id=document.replaces_id,
        visibility=visibility_text(document.visibility),
        category=document.category
        or category_of(document.class_code, document.type_code, document.mime_type).key,
        author_professional_id=document.author_professional_id,
        uploaded_by_account_id=document.uploaded_by_account_id,
        archived=False,
        updated_at=at,
    )
