"""Claiming and settling ``outbound_queue`` rows, safely when several processes share the queue.

A row is ``queued`` until a worker claims it: one UPDATE sets ``status='sending'``, the worker's
id and a lease, and counts the attempt. On PostgreSQL the rows to claim are chosen with ``FOR
UPDATE SKIP LOCKED``, so concurrent workers take different rows without waiting; on SQLite the
UPDATE … WHERE id IN (SELECT …) runs under the database's single write lock. The worker renews
the lease while it works on the row. A row whose lease ran out (its worker died mid-delivery)
becomes claimable again, so a message may then be delivered
twice — as with any MTA that crashes between the peer's 250 and its own bookkeeping — never lost.
Settling a row checks that this worker still holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante.storage.engine import is_sqlite, transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import OutboundMessage

QUEUED = "queued"
SENDING = "sending"
DELIVERED = "delivered"
FAILED = "failed"
EXPIRED = "expired"


@dataclass(frozen=True)
class ClaimedMessage:
    """A row this worker holds until it settles it or its lease runs out."""

    id: int
    kind: str
    account_id: int | None
    mail_from: str
    rcpt_to: str
    domain: str
    raw: bytes
    attempts: int  # including the current one
    created_at: datetime


async def claim_due(
    storage: Storage,
    worker_id: str,
    *,
    limit: int,
    lease: float,
    exclude_domains: frozenset[str] = frozenset(),
    now: datetime | None = None,
) -> list[ClaimedMessage]:
    """Claim at most ``limit`` rows that are due (or whose lease expired), oldest due first."""
    if limit <= 0:
        return []
    now = now or datetime.now(UTC)
    q = OutboundMessage
    due = or_(
        and_(q.status == QUEUED, q.next_attempt_at <= now),
        and_(q.status == SENDING, q.lease_until < now),
    )
    chosen = select(q.id).where(due)
    if exclude_domains:
        chosen = chosen.where(or_(q.domain.is_(None), q.domain.not_in(sorted(exclude_domains))))
    chosen = chosen.order_by(q.next_attempt_at, q.id).limit(limit)
    # Look first with a read: an idle queue costs no write transaction (SQLite has one writer).
    async with storage.sessions() as session:
        if (await session.execute(chosen.limit(1))).first() is None:
            return []
    if not is_sqlite(storage.engine):
        chosen = chosen.with_for_update(skip_locked=True)
    statement = (
        update(q)
        .where(q.id.in_(chosen.scalar_subquery()))
        .values(
            status=SENDING,
            claimed_by=worker_id,
            lease_until=now + timedelta(seconds=lease),
            attempts=q.attempts + 1,
        )
        .returning(
            q.id,
            q.kind,
            q.account_id,
            q.mail_from,
            q.rcpt_to,
            q.domain,
            q.raw,
            q.attempts,
            q.created_at,
        )
        .execution_options(synchronize_session=False)
    )
    async with transaction(storage.sessions) as session:
        rows = (await session.execute(statement)).all()
    claimed = [
        ClaimedMessage(
            id=r.id,
            kind=r.kind,
            account_id=r.account_id,
            mail_from=r.mail_from,
            rcpt_to=r.rcpt_to,
            domain=(r.domain or r.rcpt_to.rpartition("@")[2]).lower(),
            raw=r.raw,
            attempts=r.attempts,
            created_at=_aware(r.created_at),
        )
        for r in rows
    ]
    return sorted(claimed, key=lambda m: m.id)


async def held_row(
    session: AsyncSession, message: ClaimedMessage, worker_id: str
) -> OutboundMessage | None:
    """The row, locked, if this worker still holds it (None: another worker took it over)."""
    row = await session.get(OutboundMessage, message.id, with_for_update=True)
    if row is None or row.status != SENDING or row.claimed_by != worker_id:
        return None
    return row


async def extend_lease(storage: Storage, worker_id: str, message_id: int, lease: float) -> bool:
    """Push this worker's lease on a row further (a long delivery); False if it lost the row."""
    q = OutboundMessage
    async with transaction(storage.sessions) as session:
        done = await session.execute(
            update(q)
            .where(q.id == message_id, q.status == SENDING, q.claimed_by == worker_id)
            .values(lease_until=datetime.now(UTC) + timedelta(seconds=lease))
            .execution_options(synchronize_session=False)
        )
    return bool(getattr(done, "rowcount", 0))


async def release(storage: Storage, worker_id: str, ids: list[int]) -> None:
    """Give back rows this worker claimed but did not try (at shutdown)."""
    if not ids:
        return
    q = OutboundMessage
    async with transaction(storage.sessions) as session:
        await session.execute(
            update(q)
            .where(q.id.in_(ids), q.status == SENDING, q.claimed_by == worker_id)
            .values(status=QUEUED, claimed_by=None, lease_until=None, attempts=q.attempts - 1)
            .execution_options(synchronize_session=False)
        )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
