"""Putting a message into the outbound queue, inside the caller's transaction.

Every part that sends mail out — the gateway's error notices, the submission server, receipts,
notifications, one-time login codes — queues it here, in the same transaction as the facts that
caused it, so that a crash never loses a queued message nor sends one whose cause was rolled back.
The queue is drained by ``mta``'s outbound delivery; this module only writes rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante.storage.schema import OutboundMessage

#: What a queued message is, for the delivery's logs, retry policy and DSN rules.
KINDS = frozenset({"xdm_error_notice", "reply", "dsn", "mdn", "notification", "login_code"})


def outbound_row(
    *,
    kind: str,
    mail_from: str,
    rcpt_to: str,
    raw: bytes,
    account_id: int | None,
    at: datetime | None = None,
) -> OutboundMessage:
    """One queue row (one recipient) ready to be added to a session."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbound kind {kind!r}")
    at = at or datetime.now(UTC)
    return OutboundMessage(
        account_id=account_id,
        kind=kind,
        mail_from=mail_from,
        rcpt_to=rcpt_to,
        raw=raw,
        status="queued",
        attempts=0,
        next_attempt_at=at,
        created_at=at,
        domain=rcpt_to.rpartition("@")[2].lower() or None,
        dsn_sent=False,
    )


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    mail_from: str,
    recipients: Sequence[str],
    raw: bytes,
    account_id: int | None,
    at: datetime | None = None,
) -> list[int]:
    """Queue ``raw`` for each recipient (one row each); returns the row ids.

    ``mail_from`` is the envelope sender ("" for DSNs, MDNs and other automatic notices that must
    not bounce back). Nothing is committed here: the caller's transaction decides.
    """
    if not recipients:
        raise ValueError("no recipients")
    rows = [
        outbound_row(
            kind=kind, mail_from=mail_from, rcpt_to=r, raw=raw, account_id=account_id, at=at
        )
        for r in recipients
    ]
    session.add_all(rows)
    await session.flush()
    return [row.id for row in rows]
