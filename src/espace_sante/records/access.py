"""The one access entry point to a record's documents: facts → ``policy`` → audit.

Every read goes through here (or through ``records.documents``, which uses the same pieces):
the facts are gathered (``records.facts``), ``policy.record_access.decide`` decides, and the
audit entry is written in the caller's transaction, before any content is read — so a read
without its entry cannot happen, and rolling the transaction back removes both. Audited:
every read of content (view, download) by anyone, every metadata read and list by a
professional, and every refused attempt by a professional.

The outcomes carry ``first_access`` (this professional's first access to this record) and
``emergency`` so that the web and FHIR layers queue the patient's notices in the same
transaction (``records`` does not import ``notify``).

Callers open a write transaction (``storage.engine.transaction``) for reads by professionals
and for content reads: they write audit entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante import audit
from espace_sante.policy.record_access import (
    NOT_AUTHORISED,
    Actor,
    ActorKind,
    Decision,
    Operation,
    ProfessionMayRead,
    RecordFacts,
    decide,
    record_entry,
)
from espace_sante.records.access_matrix import load_access_matrix
from espace_sante.records.facts import document_facts, record_facts
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Document, RecordProfessional

NOT_FOUND = Decision(False, "not_found", "Document introuvable", existence_disclosed=False)

_PROFESSIONALS = cast(Table, RecordProfessional.__table__)
_HOLDERS = (ActorKind.PATIENT, ActorKind.GUARDIAN)
_READ_ACTIONS = {
    Operation.LIST: "document.listed",
    Operation.METADATA: "document.metadata_read",
    Operation.VIEW: "document.viewed",
    Operation.DOWNLOAD: "document.downloaded",
}
_CONTENT = (Operation.VIEW, Operation.DOWNLOAD)


@dataclass(frozen=True)
class Caller:
    """Who acts, as the decision sees them, and how the audit log names them."""

    actor: Actor
    #: The audit log's actor: the account's address, or ``ps:<national id>``.
    name: str

    @classmethod
    def patient(cls, account_id: int, address: str) -> Caller:
        return cls(Actor(ActorKind.PATIENT, account_id=account_id), address)

    @classmethod
    def guardian(cls, account_id: int, address: str) -> Caller:
        """A guardian acting with their own account (``account_id``) on a dependant's record."""
        return cls(Actor(ActorKind.GUARDIAN, account_id=account_id), address)

    @classmethod
    def professional(
        cls,
        national_id: str,
        profession_code: str,
        *,
        kind: ActorKind = ActorKind.PROFESSIONAL,
        specialty: str = "",
    ) -> Caller:
        """A professional (``kind``: PROFESSIONAL, BREAK_GLASS or SAMU)."""
        actor = Actor(
            kind, professional_id=national_id, profession_code=profession_code, specialty=specialty
        )
        return cls(actor, f"ps:{national_id}")

    @property
    def is_holder(self) -> bool:
        """The patient or a guardian (not a professional)."""
        return self.actor.kind in _HOLDERS


@dataclass(frozen=True)
class DocumentOutcome:
    """The answer to one read: the decision, and when allowed the row (and content)."""

    decision: Decision
    document: Document | None = None
    content: bytes | None = None
    #: This professional's first access to this record (notify the patient).
    first_access: bool = False
    #: Through an emergency grant (notify the patient at once).
    emergency: bool = False

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


def matrix_or_default(profession_may_read: ProfessionMayRead | None) -> ProfessionMayRead:
    """The access matrix given, or the shipped one."""
    return profession_may_read or load_access_matrix().may_read


def now_or_utc(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


async def holder_entry(
    session: AsyncSession, caller: Caller, account_id: int, now: datetime
) -> Decision:
    """May the caller manage this record's settings (the patient, or a guardian in force)?"""
    if not caller.is_holder:
        return NOT_AUTHORISED
    return record_entry(caller.actor, await record_facts(session, account_id, now=now), now=now)


async def touch_professional(
    session: AsyncSession, account_id: int, professional_id: str, now: datetime
) -> bool:
    """Record a professional's access to the record; True on their first one (once, even when
    two accesses race: the conditional update decides)."""
    name = session.get_bind().dialect.name
    dialect_insert: Any = postgresql.insert if name == "postgresql" else sqlite.insert
    await session.execute(
        dialect_insert(_PROFESSIONALS)
        .values(account_id=account_id, professional_id=professional_id, state="none", changed_by="")
        .on_conflict_do_nothing(index_elements=["account_id", "professional_id"])
    )
    key = (_PROFESSIONALS.c.account_id == account_id) & (
        _PROFESSIONALS.c.professional_id == professional_id
    )
    first = await session.execute(
        update(_PROFESSIONALS)
        .where(key, _PROFESSIONALS.c.first_access_at.is_(None))
        .values(first_access_at=now)
    )
    await session.execute(update(_PROFESSIONALS).where(key).values(last_access_at=now))
    return bool(getattr(first, "rowcount", 0))


async def audit_access(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    *,
    action: str,
    decision: Decision,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Write one access's audit entry on the patient's chain and, for an allowed access by a
    professional, note it in ``record_professionals``; returns ``first_access``."""
    first = False
    pid = caller.actor.professional_id
    if decision.allowed and not caller.is_holder and pid:
        first = await touch_professional(session, account_id, pid, now)
    body = {
        **(detail or {}),
        "reason": decision.reason,
        "emergency": decision.emergency,
    }
    if first:
        body["first_access"] = True
    await audit.append(
        session, account_id=account_id, actor=caller.name, action=action, detail=body, at=now
    )
    return first


async def decide_on_row(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    document_id: int,
    operation: Operation,
    *,
    now: datetime,
    profession_may_read: ProfessionMayRead,
    record: RecordFacts | None = None,
) -> tuple[Decision, Document | None, RecordFacts]:
    """The decision on one document of ``account_id``'s record (unaudited)."""
    record = record or await record_facts(session, account_id, now=now)
    row = await session.get(Document, document_id)
    if row is None:
        return NOT_FOUND, None, record
    decision = decide(
        caller.actor,
        operation,
        document_facts(row),
        record,
        profession_may_read=profession_may_read,
        now=now,
    )
    return decision, (row if decision.allowed else None), record


async def get_document(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    document_id: int,
    *,
    operation: Operation = Operation.METADATA,
    now: datetime | None = None,
    profession_may_read: ProfessionMayRead | None = None,
) -> DocumentOutcome:
    """One document's metadata through the decision (audited for professionals)."""
    now = now_or_utc(now)
    decision, row, _ = await decide_on_row(
        session,
        caller,
        account_id,
        document_id,
        operation,
        now=now,
        profession_may_read=matrix_or_default(profession_may_read),
    )
    first = False
    if not caller.is_holder or operation in _CONTENT:
        action = _READ_ACTIONS[operation] if decision.allowed else "document.access_refused"
        if decision.allowed or not caller.is_holder:
            first = await audit_access(
                session,
                caller,
                account_id,
                action=action,
                decision=decision,
                now=now,
                detail={"document": document_id, "operation": operation.value},
            )
    return DocumentOutcome(decision, row, first_access=first, emergency=decision.emergency)


async def read_content(
    session: AsyncSession,
    storage: Storage,
    caller: Caller,
    account_id: int,
    document_id: int,
    *,
    operation: Operation = Operation.VIEW,
    now: datetime | None = None,
    profession_may_read: ProfessionMayRead | None = None,
) -> DocumentOutcome:
    """A document's bytes through the decision: the audit entry is written (flushed) in the
    caller's transaction first, then the blob is read and decrypted."""
    if operation not in _CONTENT:
        raise ValueError(f"read_content is for view or download, not {operation}")
    outcome = await get_document(
        session,
        caller,
        account_id,
        document_id,
        operation=operation,
        now=now,
        profession_may_read=profession_may_read,
    )
    if not outcome.allowed or outcome.document is None:
        return outcome
    await session.flush()
    row = outcome.document
    cipher = await storage.cipher_for(session, row.account_id)
    content = await storage.blobs.get(row.account_id, cipher, row.blob_id)
    return DocumentOutcome(
        outcome.decision,
        row,
        content,
        first_access=outcome.first_access,
        emergency=outcome.emergency,
    )
