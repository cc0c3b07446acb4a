"""Counting new items per account until their notice goes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from espace_sante.accounts.directory import dialect_insert
from espace_sante.storage.schema import PendingNotification

_TABLE = PendingNotification.__table__


async def record_arrival(
    session: AsyncSession, account_id: int, *, at: datetime, messages: int = 0, documents: int = 0
) -> None:
    """Add new messages/documents to the account's pending notice, in the caller's transaction.

    One upsert: concurrent deliveries (several worker processes) add up instead of colliding, and
    the batching window keeps counting from the first item not yet announced.
    """
    await session.execute(arrival_upsert(session, account_id, at, messages, documents))


def record_arrival_sync(
    session: Session, account_id: int, *, at: datetime, messages: int = 0, documents: int = 0
) -> None:
    """:func:`record_arrival` for a synchronous session."""
    session.execute(arrival_upsert(session, account_id, at, messages, documents))


def arrival_upsert(
    session: Session | AsyncSession, account_id: int, at: datetime, messages: int, documents: int
) -> Any:
    """The upsert statement that adds to the account's counters."""
    insert = dialect_insert(session)
    stmt = insert(_TABLE).values(
        account_id=account_id,
        first_event_at=at,
        last_event_at=at,
        messages=messages,
        documents=documents,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[_TABLE.c.account_id],
        set_={
            "last_event_at": stmt.excluded.last_event_at,
            "messages": _TABLE.c.messages + stmt.excluded.messages,
            "documents": _TABLE.c.documents + stmt.excluded.documents,
        },
    )
    return stmt
