"""Appending to and verifying the audit chains."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from espace_sante.storage.schema import AuditEntry, AuditHead

SYSTEM_ACCOUNT = 0
GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditProblem:
    account_id: int
    seq: int
    reason: str


def _canonical(detail: dict[str, Any]) -> str:
    return json.dumps(
        detail, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )


def _entry_hash(
    prev_hash: str, account_id: int, seq: int, at: datetime, actor: str, action: str, detail: str
) -> str:
    material = "\x1f".join(
        [prev_hash, str(account_id), str(seq), _iso(at), actor, action, detail]
    ).encode()
    return hashlib.sha256(material).hexdigest()


def _iso(at: datetime) -> str:
    if at.tzinfo is None:  # SQLite hands back naive UTC datetimes
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class AuditEvent:
    """One thing to record, before it is chained."""

    actor: str
    action: str
    detail: dict[str, Any]
    at: datetime


async def append(
    session: AsyncSession,
    *,
    account_id: int,
    actor: str,
    action: str,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry to ``account_id``'s chain inside the caller's transaction."""
    event = AuditEvent(actor, action, detail or {}, at or datetime.now(UTC))
    (entry,) = await append_many(session, account_id, [event])
    return entry


async def append_many(
    session: AsyncSession, account_id: int, events: list[AuditEvent]
) -> list[AuditEntry]:
    """Append ``events`` in order to ``account_id``'s chain inside the caller's transaction, with
    one read and one update of the chain head (a delivery records several events at once)."""
    if not events:
        return []
    return await session.run_sync(append_many_sync, account_id, events)


def append_many_sync(
    session: Session, account_id: int, events: list[AuditEvent]
) -> list[AuditEntry]:
    """:func:`append_many` for a synchronous session."""
    if not events:
        return []
    head = _locked_head(session, account_id)
    entries = []
    for event in events:
        seq = head.last_seq + 1
        body = _canonical(event.detail)
        digest = _entry_hash(
            head.last_hash, account_id, seq, event.at, event.actor, event.action, body
        )
        entries.append(
            AuditEntry(
                account_id=account_id,
                seq=seq,
                at=event.at,
                actor=event.actor,
                action=event.action,
                detail=body,
                prev_hash=head.last_hash,
                hash=digest,
            )
        )
        head.last_seq = seq
        head.last_hash = digest
    session.add_all(entries)
    session.flush()
    return entries


def _locked_head(session: Session, account_id: int) -> AuditHead:
    """The chain head, locked for the transaction (created at the genesis if missing)."""
    query = select(AuditHead).where(AuditHead.account_id == account_id).with_for_update()
    head = session.execute(query).scalar_one_or_none()
    if head is not None:
        return head
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(AuditHead)
        .values(account_id=account_id, last_seq=0, last_hash=GENESIS)
        .on_conflict_do_nothing(index_elements=["account_id"])
    )
    return session.execute(query).scalar_one()


async def verify(session: AsyncSession, account_id: int | None = None) -> list[AuditProblem]:
    """Recompute every chain (or one) and report each entry that does not link or hash."""
    problems: list[AuditProblem] = []
    heads_q = select(AuditHead)
    if account_id is not None:
        heads_q = heads_q.where(AuditHead.account_id == account_id)
    heads = {h.account_id: h for h in (await session.execute(heads_q)).scalars()}
    entries_q = select(AuditEntry).order_by(AuditEntry.account_id, AuditEntry.seq)
    if account_id is not None:
        entries_q = entries_q.where(AuditEntry.account_id == account_id)
    state: dict[int, tuple[int, str]] = {}
    for e in (await session.execute(entries_q)).scalars():
        last_seq, last_hash = state.get(e.account_id, (0, GENESIS))
        if e.seq != last_seq + 1:
            problems.append(AuditProblem(e.account_id, e.seq, f"gap: expected seq {last_seq + 1}"))
        if e.prev_hash != last_hash:
            problems.append(
                AuditProblem(e.account_id, e.seq, "does not link to the previous entry")
            )
        expected = _entry_hash(e.prev_hash, e.account_id, e.seq, e.at, e.actor, e.action, e.detail)
        if expected != e.hash:
            problems.append(AuditProblem(e.account_id, e.seq, "content does not match its hash"))
        state[e.account_id] = (e.seq, e.hash)
    for acc, head in heads.items():
        last_seq, last_hash = state.get(acc, (0, GENESIS))
        if (head.last_seq, head.last_hash) != (last_seq, last_hash):
            problems.append(
                AuditProblem(
                    acc, head.last_seq, "chain head does not match the last entry (truncated?)"
                )
            )
    return problems
