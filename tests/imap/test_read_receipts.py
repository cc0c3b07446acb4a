"""Read receipts (RFC 8098): asked by Disposition-Notification-To, sent once when the patient first
reads the message over IMAP, never to an address outside the trust space."""

from __future__ import annotations

import asyncio
import email
import email.policy
import imaplib
import ssl

from sqlalchemy import select

from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.mta.receipts import dispatch_due_receipts
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import OutboundMessage, ReadReceiptRequest
from fixtures.mssante import clinician_message
from fixtures.seed import DOCTOR, Seeded

from .conftest import Mailbox, deliver


async def _mdns(storage: Storage) -> list[OutboundMessage]:
    async with storage.sessions() as s:
        query = select(OutboundMessage).where(OutboundMessage.kind == "mdn")
        return list((await s.execute(query.order_by(OutboundMessage.id))).scalars())


def _imap(port: int, tls: ssl.SSLContext, mailbox: Mailbox, *commands: tuple[str, ...]) -> None:
    with imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=tls) as c:
        c.login(mailbox.address, mailbox.password)
        c.select("INBOX")
        for name, *args in commands:
            typ, _ = c.uid(name, *args)
            assert typ == "OK", (name, args)


async def test_one_mdn_when_the_message_is_first_read(
    imap: ImapListener,
    client_tls: ssl.SSLContext,
    mailbox: Mailbox,
    storage: Storage,
    seeded: Seeded,
) -> None:
    asked = clinician_message(
        sender=DOCTOR, patient_ins=seeded.active.ins, subject="Bilan sanguin",
        read_receipt=True, message_id="<bilan-42@medecin.mssante.fr>",
    )  # fmt: skip
    await deliver(storage, seeded, asked)  # UID 3 (the fixture mailbox holds two)
    port = imap.tls_port
    # a peek is not a reading
    await asyncio.to_thread(_imap, port, client_tls, mailbox, ("FETCH", "3", "(BODY.PEEK[])"))
    assert await dispatch_due_receipts(storage) == 0
    # reading the body sets \Seen: the receipt is due, then queued once
    await asyncio.to_thread(_imap, port, client_tls, mailbox, ("FETCH", "3", "(BODY[])"))
    assert await dispatch_due_receipts(storage) == 1
    assert await dispatch_due_receipts(storage) == 0
    # unread, read again (STORE, as the webmail does): still one receipt
    await asyncio.to_thread(
        _imap, port, client_tls, mailbox,
        ("STORE", "3", "-FLAGS", "(\\Seen)"), ("STORE", "3", "+FLAGS", "(\\Seen)"),
    )  # fmt: skip
    assert await dispatch_due_receipts(storage) == 0

    (mdn,) = await _mdns(storage)
    assert mdn.mail_from == "" and mdn.rcpt_to == DOCTOR
    parsed = email.message_from_bytes(mdn.raw, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/report"
    assert parsed.get_param("report-type") == "disposition-notification"
    assert parsed["From"] == seeded.active.address and parsed["To"] == DOCTOR
    assert parsed["In-Reply-To"] == "<bilan-42@medecin.mssante.fr>"
    human, report = parsed.get_payload()  # type: ignore[misc]
    assert "a été affiché" in human.get_content()
    assert report.get_content_type() == "message/disposition-notification"
    fields = report.get_payload()
    fields = fields if isinstance(fields, str) else fields[0].as_string()
    assert "Original-Message-ID: <bilan-42@medecin.mssante.fr>" in fields
    assert "Disposition: manual-action/MDN-sent-automatically; displayed" in fields
    assert f"Final-Recipient: rfc822;{seeded.active.address}" in fields
    assert b"Bilan sanguin" not in mdn.raw  # the subject stays out of the receipt


async def test_no_receipt_outside_the_trust_space_or_when_not_asked(
    imap: ImapListener,
    client_tls: ssl.SSLContext,
    mailbox: Mailbox,
    storage: Storage,
    seeded: Seeded,
) -> None:
    outside = clinician_message(
        sender=DOCTOR, patient_ins=seeded.active.ins,
        extra_headers={"Disposition-Notification-To": "collecte@tracker.example.com"},
    )  # fmt: skip
    await deliver(storage, seeded, outside)  # UID 3; UIDs 1-2 asked for nothing
    await asyncio.to_thread(
        _imap, imap.tls_port, client_tls, mailbox, ("STORE", "1:3", "+FLAGS", "(\\Seen)")
    )
    assert await dispatch_due_receipts(storage) == 0
    assert await _mdns(storage) == []
    async with storage.sessions() as s:
        assert (await s.execute(select(ReadReceiptRequest))).scalars().all() == []
