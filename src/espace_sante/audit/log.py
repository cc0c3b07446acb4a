"""Appending to and verifying the audit chains."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
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
    """:func:`append_many` for a synchronous session.

    Three statements (SQL expressions, not ORM units of work: a delivery writes the chain on the
    hot path). The entries returned are not attached to the session."""
    if not events:
        return []
    last_seq, last_hash = _locked_head(session, account_id)
    rows: list[dict[str, Any]] = []
    for event in events:
        seq = last_seq + 1
        body = _canonical(event.detail)
        digest = _entry_hash(last_hash, account_id, seq, event.at, event.actor, event.action, body)
        rows.append(
            {
                "account_id": account_id,
                "seq": seq,
                "at": event.at,
                "actor": event.actor,
                "action": event.action,
                "detail": body,
                "prev_hash": last_hash,
                "hash": digest,
            }
        )
        last_seq, last_hash = seq, digest
    session.execute(insert(_ENTRIES), rows)
    session.execute(
        update(_HEADS)
        .where(_HEADS.c.account_id == account_id)
        .values(last_seq=last_seq, last_hash=last_hash)
    )
    return [AuditEntry(**row) for row in rows]


_ENTRIES = cast(Table, AuditEntry.__table__)
_HEADS = cast(Table, AuditHead.__table__)


def _locked_head(session: Session, account_id: int) -> tuple[int, str]:
    """The chain head's (seq, hash), locked for the transaction (created at the genesis)."""
    query = (
        select(_HEADS.c.last_seq, _HEADS.c.last_hash)
        .where(_HEADS.c.account_id == account_id)
        .with_for_update()
    )
    head = session.execute(query).one_or_none()
    if head is not None:
        return int(head[0]), str(head[1])
    dialect = session.get_bind().dialect.name
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        dialect_insert(AuditHead)
        .values(account_id=account_id, last_seq=0, last_hash=GENESIS)
        .on_conflict_do_nothing(index_elements=["account_id"])
    )
    seq, digest = session.execute(query).one()
    return int(seq), str(digest)


async def verify(session: AsyncSession, account_id: int | None = None) -> list[AuditProblem]:
    """Recompute every chain (or one) and report each entry that does not link or hash."""
    problems: list[AuditProblem] = []
    heads_q = select(AuditHead).execution_options(populate_existing=True)
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
