"""Counting new items per account until their notice goes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

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
    await session.execute(stmt)
