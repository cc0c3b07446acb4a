"""Immediate notices of access to the record: a professional's first access, every emergency.

Not batched: ``queue_access_notice`` queues them in the caller's transaction — the one that reads
the record (the portal's and the FHIR API's, after ``records``' entry point said ``first_access``
or ``emergency``) — so an access rolled back notifies no one, and a committed one is in the
outbound queue at once. The notice names no professional, no document, no patient; it points to
the activity history. It goes where the batched notice goes (the holder's personal address and
their guardians'), as the account's settings allow. An emergency access also queues a short SMS
(``sms_queue``) to the same people's mobile phones when the account turned SMS on;
``send_queued_sms`` hands those to the gateway after the commit (at least once: a crash between
the gateway's acceptance and the commit may send one twice, never none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante import audit
from espace_sante.accounts.sms import SmsError, SmsGateway
from espace_sante.config import Settings
from espace_sante.notify.compose import AccessKind, access_sms_text, build_access_notice
from espace_sante.notify.recipients import notice_addresses, notice_phones
from espace_sante.notify.settings import get_settings
from espace_sante.storage.engine import is_sqlite, transaction
from espace_sante.storage.outbox import enqueue
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import QueuedSms

#: The activity history page, below ``web.base_url``.
HISTORY_PATH = "/historique"
#: Attempts before a queued SMS is given up.
SMS_ATTEMPTS = 5
SMS_BATCH = 100


@dataclass(frozen=True)
class QueuedAccessNotice:
    """What ``queue_access_notice`` queued: e-mail recipients and SMS count."""

    recipients: tuple[str, ...] = ()
    sms: int = 0


async def queue_access_notice(
    session: AsyncSession,
    account_id: int,
    *,
    kind: AccessKind,
    at: datetime,
    settings: Settings,
) -> QueuedAccessNotice:
    """Queue the notice of a ``first_access`` or an ``emergency`` access to ``account_id``'s
    record in the caller's transaction, as its notification settings allow; audited as
    ``notification.queued`` (or ``notification.skipped``) with the kind of notice only."""
    if kind not in ("first_access", "emergency"):
        raise ValueError(f"unknown access notice {kind!r}")
    wanted = await get_settings(session, account_id)
    on = wanted.emergency_access if kind == "emergency" else wanted.first_professional_access
    history_url = f"{settings.web.base_url}{HISTORY_PATH}"
    recipients: list[str] = []
    phones: list[str] = []
    if on and wanted.channel_email:
        recipients = await notice_addresses(session, account_id)
    if on and wanted.channel_sms and kind == "emergency":
        phones = await notice_phones(session, account_id)
    for to in recipients:
        raw = build_access_notice(
            sender=settings.notify.sender,
            to=to,
            kind=kind,
            history_url=history_url,
            hostname=settings.mssante.hostname,
        )
        await enqueue(
            session,
            kind="notification",
            mail_from="",
            recipients=[to],
            raw=raw,
            account_id=account_id,
            at=at,
        )
    text = access_sms_text(history_url)
    session.add_all(
        QueuedSms(account_id=account_id, phone=p, text=text, created_at=at, attempts=0)
        for p in phones
    )
    sent = bool(recipients or phones)
    detail: dict[str, object] = {"notice": kind, "recipients": len(recipients), "sms": len(phones)}
    if not sent:
        detail["reason"] = "settings" if not on else "no_address"
    await audit.append(
        session,
        account_id=account_id,
        actor="notify",
        action="notification.queued" if sent else "notification.skipped",
        detail=detail,
        at=at,
    )
    await session.flush()
    return QueuedAccessNotice(tuple(recipients), len(phones))


async def send_queued_sms(
    storage: Storage, gateway: SmsGateway, now: datetime | None = None
) -> int:
    """Hand the queued SMS to ``gateway``; returns how many it took. A refusal is retried at the
    next round, up to :data:`SMS_ATTEMPTS` times."""
    now = now or datetime.now(UTC)
    sent = 0
    async with transaction(storage.sessions) as session:
        query = (
            select(QueuedSms)
            .where(QueuedSms.sent_at.is_(None), QueuedSms.attempts < SMS_ATTEMPTS)
            .order_by(QueuedSms.id)
            .limit(SMS_BATCH)
        )
        if not is_sqlite(storage.engine):
            query = query.with_for_update(skip_locked=True)
        for row in (await session.execute(query)).scalars().all():
            row.attempts += 1
            try:
                await gateway.send(row.phone, row.text)
            except SmsError:
                continue
            row.sent_at = now
            sent += 1
    return sent
