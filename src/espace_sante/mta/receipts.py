"""Read receipts (RFC 8098 MDNs) for messages the patient has read.

``mailbox.read_receipts`` marks a request due when the patient first reads the message; this
module composes the MDN and queues it, once, in one transaction with the state change. The MDN
goes from the patient's address with a null envelope sender (RFC 8098 §2.1) to the address of
``Disposition-Notification-To`` (already checked at delivery to be in the trust space). It names
the original message by its Message-ID and date, never by its subject or content.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP

from sqlalchemy import select

from espace_sante import audit
from espace_sante.storage.engine import is_sqlite, transaction
from espace_sante.storage.outbox import enqueue
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Account, ReadReceiptRequest

#: Most receipts composed in one transaction.
BATCH = 200


@dataclass(frozen=True)
class ReceiptFacts:
    patient_address: str
    notify_to: str
    original_message_id: str | None
    sent_date: datetime | None
    read_at: datetime


def _french_date(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%d/%m/%Y à %H:%M UTC")


def _one_line(value: str) -> str:
    """A header-derived value with no line break left to inject report fields with."""
    return " ".join(value.split())


def build_mdn(facts: ReceiptFacts, hostname: str) -> bytes:
    """The MDN: multipart/report with a French (and English) human part and the
    message/disposition-notification part."""
    original_id = _one_line(facts.original_message_id or "") or None
    sent = f" du {_french_date(facts.sent_date)}" if facts.sent_date else ""
    sent_en = f" of {facts.sent_date:%Y-%m-%d %H:%M} UTC" if facts.sent_date else ""
    human = "\n".join(
        [
            "Bonjour,",
            "",
            f"Votre message{sent} adressé à {facts.patient_address} a été affiché par son",
            f"destinataire le {_french_date(facts.read_at)}.",
            "",
            "Cet accusé de lecture indique seulement que le message a été ouvert ; il ne",
            "garantit pas qu'il a été lu ni compris.",
            "",
            f"(English) Your message{sent_en} to {facts.patient_address} was displayed by its",
            f"recipient on {facts.read_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC.",
            "",
        ]
    )
    report = MIMEMultipart("report", policy=SMTP, report_type="disposition-notification")
    report["From"] = facts.patient_address
    report["To"] = facts.notify_to
    report["Subject"] = "Accusé de lecture / Read receipt"
    report["Date"] = email.utils.formatdate(localtime=False)
    report["Message-ID"] = email.utils.make_msgid(domain=hostname)
    report["Auto-Submitted"] = "auto-replied"
    if original_id:
        report["In-Reply-To"] = original_id
        report["References"] = original_id
    report.attach(MIMEText(human, "plain", "utf-8", policy=SMTP))
    fields = [
        f"Reporting-UA: {hostname}; espace-sante",
        f"Original-Recipient: rfc822;{facts.patient_address}",
        f"Final-Recipient: rfc822;{facts.patient_address}",
    ]
    if original_id:
        fields.append(f"Original-Message-ID: {original_id}")
    fields.append("Disposition: manual-action/MDN-sent-automatically; displayed")
    notification = MIMEBase("message", "disposition-notification", policy=SMTP)
    notification.set_payload("\r\n".join(fields) + "\r\n")
    report.attach(notification)
    return report.as_bytes(policy=SMTP)


async def dispatch_due_receipts(storage: Storage, now: datetime | None = None) -> int:
    """Queue the MDN of every due request and mark it sent (one transaction); returns how many."""
    now = now or datetime.now(UTC)
    hostname = storage.settings.mssante.hostname
    queued = 0
    async with transaction(storage.sessions) as session:
        query = (
            select(ReadReceiptRequest, Account.address)
            .join(Account, Account.id == ReadReceiptRequest.account_id)
            .where(ReadReceiptRequest.state == "due")
            .order_by(ReadReceiptRequest.id)
            .limit(BATCH)
        )
        if not is_sqlite(storage.engine):
            query = query.with_for_update(of=ReadReceiptRequest, skip_locked=True)
        for request, address in (await session.execute(query)).all():
            facts = ReceiptFacts(
                patient_address=address,
                notify_to=request.notify_to,
                original_message_id=request.original_message_id,
                sent_date=request.sent_date,
                read_at=request.due_at or now,
            )
            await enqueue(
                session,
                kind="mdn",
                mail_from="",
                recipients=[request.notify_to],
                raw=build_mdn(facts, hostname),
                account_id=request.account_id,
                at=now,
            )
            request.state = "sent"
            request.sent_at = now
            await audit.append(
                session,
                account_id=request.account_id,
                actor="mta",
                action="receipt.mdn_queued",
                detail={"message": request.message_row_id},
                at=now,
            )
            queued += 1
    return queued
