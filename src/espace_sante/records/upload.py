"""A patient's (or guardian's) own documents: uploading them into the record.

The caller (web, FHIR) has already sniffed the bytes' type and made the file name safe; here the
size limit (``[records] upload_max_bytes``, 5 MB like Mon espace santé) is enforced, the blob is
written encrypted with its row (removed again if the transaction rolls back), and the document is
deposited as class 90 (``source="upload"``), authored by the patient, with the uploader's account
in ``uploaded_by_account_id`` — which is what later lets them delete it. Audited
``document.uploaded``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante import audit
from espace_sante.accounts.patients import holder_facts
from espace_sante.config import RecordsSettings
from espace_sante.policy.record_access import NOT_AUTHORISED, Decision, may_deposit
from espace_sante.records.access import Caller, now_or_utc
from espace_sante.records.changes import replace_document
from espace_sante.records.codes import CATEGORIES, category_of
from espace_sante.records.deposit import NewDocument, deposit_documents
from espace_sante.records.facts import record_facts
from espace_sante.storage.blob_rows import delete_blob, store_blob
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Document

PATIENT_CLASS = "90"
CATEGORY_KEYS = frozenset(category.key for category in CATEGORIES)
TOO_LARGE = Decision(
    False, "too_large", "Le document dépasse la taille maximale autorisée", existence_disclosed=True
)
EMPTY = Decision(False, "empty", "Le document est vide", existence_disclosed=True)
BAD_CATEGORY = Decision(
    False, "bad_category", "Catégorie de document inconnue", existence_disclosed=True
)
BAD_TYPE = Decision(
    False, "bad_type", "Type de document déposé par le patient inconnu", existence_disclosed=True
)


@dataclass(frozen=True)
class Upload:
    """What the patient gives: bytes already sniffed, a safe file name, a title, and a category
    key or a DOCPAT type code (TRE_A05), and the document's own date if they know it."""

    data: bytes
    mime_type: str
    filename: str
    title: str
    category: str | None = None
    type_code: str | None = None
    document_date: date | datetime | None = None


@dataclass(frozen=True)
class UploadOutcome:
    decision: Decision
    document: Document | None = None

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


def _creation_time(value: date | datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(12, 0), tzinfo=UTC)


async def upload_document(
    session: AsyncSession,
    storage: Storage,
    caller: Caller,
    account_id: int,
    upload: Upload,
    *,
    settings: RecordsSettings,
    replaces_id: int | None = None,
    now: datetime | None = None,
) -> UploadOutcome:
    """Store and deposit the patient's document (or, with ``replaces_id``, a new version of one
    of their uploads)."""
    now = now_or_utc(now)
    if not caller.is_holder:
        return UploadOutcome(NOT_AUTHORISED)
    if not upload.data:
        return UploadOutcome(EMPTY)
    if len(upload.data) > settings.upload_max_bytes:
        return UploadOutcome(TOO_LARGE)
    if upload.category is not None and upload.category not in CATEGORY_KEYS:
        return UploadOutcome(BAD_CATEGORY)
    type_code = (upload.type_code or "").strip().upper() or None
    if type_code is not None and not type_code.startswith("DOCPAT"):
        return UploadOutcome(BAD_TYPE)
    record = await record_facts(session, account_id, now=now)
    decision = may_deposit(caller.actor, record)
    if not decision.allowed:
        return UploadOutcome(decision)
    holder = await holder_facts(session, account_id)
    blob = await store_blob(session, storage, account_id, upload.data)
    new = NewDocument(
        blob_id=blob.id,
        source="upload",
        title=upload.title.strip() or upload.filename,
        mime_type=upload.mime_type,
        size=len(upload.data),
        sha1=hashlib.sha1(upload.data).hexdigest(),
        filename=upload.filename,
        class_code=PATIENT_CLASS,
        type_code=type_code,
        author_person=holder.display_name if holder else None,
        creation_time=_creation_time(upload.document_date),
        category=upload.category or category_of(PATIENT_CLASS, type_code, upload.mime_type).key,
        uploaded_by_account_id=caller.actor.account_id,
        metadata={"uploaded_by": caller.name},
    )
    if replaces_id is not None:
        changed = await replace_document(session, caller, account_id, replaces_id, new, now=now)
        if not changed.allowed:  # nothing references the blob: gone after the commit
            await delete_blob(session, storage, account_id, blob.id)
        return UploadOutcome(changed.decision, changed.replacement)
    (row,) = await deposit_documents(
        session,
        account_id=account_id,
        documents=[new],
        deposited_by=caller.name,
        audit_events=[],  # recorded below as an upload
        at=now,
    )
    await audit.append(
        session,
        account_id=account_id,
        actor=caller.name,
        action="document.uploaded",
        detail={
            "document": row.id,
            "category": row.category,
            "type_code": type_code,
            "size": row.size,
            "uploaded_by": caller.actor.account_id,
        },
        at=now,
    )
    return UploadOutcome(decision, row)
