"""Read-receipt requests, from delivery to the first reading (the MDN itself is ``mta``'s).

At delivery a message that carries ``Disposition-Notification-To`` gets a request row; the first
time the patient reads it — \\Seen set by IMAP, from any client, webmail included — the request
becomes due in the same transaction as the flag change. ``mta.receipts`` then sends one MDN.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from espace_sante.storage.schema import ReadReceiptRequest


def request_receipt(
    session: AsyncSession | Session,
    *,
    account_id: int,
    message_row_id: int,
    notify_to: str,
    original_message_id: str | None,
    sent_date: datetime | None,
    at: datetime,
) -> None:
    """Record that the sender wants to know when this message is read."""
    session.add(
        ReadReceiptRequest(
            account_id=account_id,
            message_row_id=message_row_id,
            notify_to=notify_to,
            original_message_id=original_message_id,
            sent_date=sent_date,
            state="requested",
            requested_at=at,
        )
    )


async def mark_read(
    session: AsyncSession, account_id: int, message_row_ids: Iterable[int], at: datetime
) -> None:
    """The patient has just read these messages: their pending requests become due (once)."""
    ids = list(message_row_ids)
    if not ids:
        return
    await session.execute(
        update(ReadReceiptRequest)
        .where(
            ReadReceiptRequest.account_id == account_id,
            ReadReceiptRequest.message_row_id.in_(ids),
            ReadReceiptRequest.state == "requested",
        )
        .values(state="due", due_at=at)
    )
