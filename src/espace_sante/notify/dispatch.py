"""Sending the notices whose batching window has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from espace_sante import audit
from espace_sante.notify.compose import build_notice
from espace_sante.notify.recipients import notice_addresses
from espace_sante.notify.settings import get_settings
from espace_sante.storage.engine import is_sqlite, transaction
from espace_sante.storage.outbox import enqueue
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import PendingNotification

#: Most notices composed in one transaction.
BATCH = 200


async def dispatch_due(storage: Storage, now: datetime | None = None) -> int:
    """Queue a notice for every account whose first unannounced item is older than the batching
    window, to the patient's personal address and their guardians'; returns notices queued.

    The account's notification settings decide: messages count only when ``new_message`` is on,
    documents only when ``new_document`` is, and nothing goes when neither (or e-mail) is on —
    the pending counts are cleared all the same and ``notification.skipped`` is audited.

    Counting, composing and queueing happen in one transaction, so a crash neither loses a
    notice nor sends one twice; several worker processes skip each other's rows (PostgreSQL).
    """
    settings = storage.settings
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(seconds=settings.notify.batch_seconds)
    queued = 0
    async with transaction(storage.sessions) as session:
        query = (
            select(PendingNotification)
            .where(PendingNotification.first_event_at <= cutoff)
            .order_by(PendingNotification.first_event_at)
            .limit(BATCH)
        )
        if not is_sqlite(storage.engine):
            query = query.with_for_update(skip_locked=True)
        for pending in (await session.execute(query)).scalars().all():
            wanted = await get_settings(session, pending.account_id)
            messages = pending.messages if wanted.new_message else 0
            documents = pending.documents if wanted.new_document else 0
            recipients: list[str] = []
            reason = "settings"
            if wanted.channel_email and (messages or documents):
                recipients = await notice_addresses(session, pending.account_id)
                reason = "no_address"
            for to in recipients:
                raw = build_notice(
                    sender=settings.notify.sender,
                    to=to,
                    messages=messages,
                    documents=documents,
                    portal_url=f"{settings.web.base_url}/connexion",
                    hostname=settings.mssante.hostname,
                )
                # A null envelope sender: a notice that cannot be delivered bounces nowhere.
                await enqueue(
                    session,
                    kind="notification",
                    mail_from="",
                    recipients=[to],
                    raw=raw,
                    account_id=pending.account_id,
                    at=now,
                )
            await audit.append(
                session,
                account_id=pending.account_id,
                actor="notify",
                action="notification.queued" if recipients else "notification.skipped",
                detail={
                    "messages": messages,
                    "documents": documents,
                    "recipients": len(recipients),
                    **({} if recipients else {"reason": reason}),
                },
                at=now,
            )
            await session.delete(pending)
            queued += len(recipients)
    return queued
