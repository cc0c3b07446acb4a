"""A real peer: a private Postfix as the clinician's operator.

- It relays the clinician's message into our gateway over verified TLS with its client
  certificate; the message lands in the patient's INBOX.
- The patient's reply, submitted on our submission port, leaves through our outbound queue and
  lands in the clinician's maildir at Postfix (TLS required there, our client certificate
  verified by Postfix).
- With Postfix stopped the reply is retried with growing attempts and delivered once Postfix is
  back; when it never comes back, the patient gets a DSN.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import aiosmtplib
import pytest
from sqlalchemy import select

from espace_sante.accounts.app_passwords import add_app_password
from espace_sante.config import Settings
from espace_sante.mta.outbound.worker import OutboundWorker
from espace_sante.mta.server import InboundListener
from espace_sante.mta.submission import SubmissionListener
from espace_sante.mta.tls import DevPki, mail_client_context
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Folder, Message, OutboundMessage
from fixtures.mssante import clinician_message
from fixtures.seed import DOCTOR, Seeded
from fixtures.store_queries import read_blob
from peers.postfix_peer import PostfixPeer, available

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

CLINICIAN_MID = "<cr-postfix-1@medecin.mssante.fr>"


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def folder(storage: Storage, account_id: int, name: str) -> list[Message]:
    async with storage.sessions() as s:
        query = (
            select(Message)
            .join(Folder, Folder.id == Message.folder_id)
            .where(Folder.account_id == account_id, Folder.name == name)
            .order_by(Message.uid)
        )
        return list((await s.execute(query)).scalars())


async def queue_rows(storage: Storage) -> list[OutboundMessage]:
    async with storage.sessions() as s:
        query = select(OutboundMessage).order_by(OutboundMessage.id)
        return list((await s.execute(query)).scalars())


class Operator:
    """Our side (gateway, submission, outbound worker) and the Postfix peer."""

    def __init__(self, settings: Settings, storage: Storage, pki: DevPki) -> None:
        self.settings = settings
        self.storage = storage
        self.pki = pki
        self.gateway: InboundListener | None = None
        self.postfix: PostfixPeer | None = None
        self.submission: SubmissionListener | None = None
        self.worker: OutboundWorker | None = None

    async def start(self, *, start_postfix: bool = True, **outbound: Any) -> None:
        s = self.settings
        s = replace(s, smtp=replace(s.smtp, trust_ca_file=str(self.pki.ca_cert), inbound_port=0))
        s = replace(s, submission=replace(s.submission, port=0, tls_port=0))
        self.gateway = InboundListener(s, self.storage)
        await self.gateway.start()
        self.postfix = PostfixPeer(self.pki, self.gateway.port, [DOCTOR])
        if start_postfix:
            await asyncio.to_thread(self.postfix.start)
        s = replace(
            s,
            outbound=replace(
                s.outbound,
                routes=f"medecin.mssante.fr=127.0.0.1:{self.postfix.port}",
                trust_ca_file=str(self.pki.ca_cert),
                poll_interval=0.1,
                timeout=10.0,
                **outbound,
            ),
        )
        self.settings = s
        self.submission = SubmissionListener(s, self.storage, mail_client_context(s))
        await self.submission.start()
        self.worker = OutboundWorker(s, self.storage)
        self.submission.handler.on_queued = self.worker.wake
        self.worker.start()

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.stop(grace=10)
        if self.submission is not None:
            await self.submission.stop(grace=10)
        if self.gateway is not None:
            await self.gateway.stop(grace=10)
        if self.postfix is not None:
            await asyncio.to_thread(self.postfix.cleanup)

    def client_tls(self, *, with_cert: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        if with_cert:
            ctx.load_cert_chain(str(self.pki.client_cert), str(self.pki.client_key))
        return ctx

    async def patient_replies(self, seeded: Seeded, password: str, subject: str) -> None:
        assert self.submission is not None
        me = seeded.active.address
        reply = (
            f"From: Patiente <{me}>\r\nTo: Dr Dupont <{DOCTOR}>\r\nSubject: {subject}\r\n"
            f"In-Reply-To: {CLINICIAN_MID}\r\nReferences: {CLINICIAN_MID}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            "Bonjour docteur, merci pour le compte rendu. Bien à vous.\r\n"
        ).encode()
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1",
            port=self.submission.port,
            start_tls=True,
            tls_context=self.client_tls(with_cert=False),
        )
        await client.connect()
        await client.login(me, password)
        await client.sendmail(me, [DOCTOR], reply)
        await client.quit()


@pytest.fixture
async def operator(settings: Settings, storage: Storage, pki: DevPki) -> AsyncIterator[Operator]:
    op = Operator(settings, storage, pki)
    try:
        yield op
    finally:
        await op.stop()


async def clinician_writes_through_postfix(op: Operator, seeded: Seeded) -> None:
    assert op.postfix is not None
    message = clinician_message(
        sender=DOCTOR,
        patient_ins=seeded.active.ins,
        subject="Compte rendu de consultation",
        with_xdm=True,
        message_id=CLINICIAN_MID,
    )
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=op.postfix.port,
        start_tls=True,
        tls_context=op.client_tls(with_cert=True),
    )
    await client.connect()
    await client.sendmail(DOCTOR, [seeded.active.address], message)
    await client.quit()


async def app_password(storage: Storage, seeded: Seeded) -> str:
    async with transaction(storage.sessions) as s:
        _, secret = await add_app_password(s, seeded.active.address, "mail app")
    return secret


async def test_clinician_message_in_through_postfix_and_reply_out_to_postfix(
    operator: Operator, storage: Storage, seeded: Seeded
) -> None:
    await operator.start()
    assert operator.postfix is not None
    await clinician_writes_through_postfix(operator, seeded)
    (stored,) = await until(
        lambda: folder(storage, seeded.active.account_id, "INBOX"), "the clinician's message"
    )
    raw = await read_blob(storage, seeded.active.account_id, stored.blob_id)
    received = email.message_from_bytes(raw, policy=email.policy.default)
    assert received["Message-ID"] == CLINICIAN_MID
    assert received["Subject"] == "Compte rendu de consultation"
    assert DOCTOR in received["From"]
    traces = [str(h) for h in received.get_all("Received")]
    assert any("by mta.medecin.mssante.fr (Postfix)" in t for t in traces), traces
    results = str(received["Authentication-Results"])
    assert "x-tls-client-cert=pass" in results and "x-mssante-trust=pass" in results
    assert "compte rendu" in received.get_body(("plain",)).get_content()

    password = await app_password(storage, seeded)
    await operator.patient_replies(seeded, password, "Re: Compte rendu de consultation")
    (arrived,) = await until(
        lambda: asyncio.to_thread(operator.postfix.delivered, DOCTOR), "the reply at Postfix"
    )
    assert seeded.active.address in arrived["From"] and DOCTOR in arrived["To"]
    assert arrived["In-Reply-To"] == CLINICIAN_MID and arrived["References"] == CLINICIAN_MID
    assert arrived["Subject"] == "Re: Compte rendu de consultation"
    assert "merci pour le compte rendu" in arrived.get_content()
    assert arrived["Return-Path"] == f"<{seeded.active.address}>"
    postfix_trace = str(arrived.get_all("Received")[0])
    assert "with ESMTPS" in postfix_trace and "verified OK" in postfix_trace, postfix_trace
    (row,) = await queue_rows(storage)
    assert row.status == "delivered" and row.attempts == 1 and row.remote_host == "127.0.0.1"
    (sent,) = await folder(storage, seeded.active.account_id, "Sent")
    assert "\\Seen" in sent.flags


async def test_postfix_down_retried_then_delivered_when_it_comes_back(
    operator: Operator, storage: Storage, seeded: Seeded
) -> None:
    await operator.start(start_postfix=False, retry_base=0.2, retry_max=1.0)
    assert operator.postfix is not None
    from espace_sante.accounts.conversations import record_professional_message

    async with transaction(storage.sessions) as s:
        await record_professional_message(
            s,
            account_id=seeded.active.account_id,
            professional_address=DOCTOR,
            closing=False,
            reply_to=None,
        )
    password = await app_password(storage, seeded)
    await operator.patient_replies(seeded, password, "Re: rendez-vous")
    seen: list[tuple[int, Any]] = []

    async def retried_three_times() -> bool:
        (row,) = await queue_rows(storage)
        if row.status == "queued" and (not seen or seen[-1][0] != row.attempts):
            seen.append((row.attempts, row.next_attempt_at))
        return row.attempts >= 3 and row.status == "queued"

    await until(retried_three_times, "three failed attempts")
    (row,) = await queue_rows(storage)
    assert "connection failed" in (row.last_error or "") and row.last_code is None
    assert [a for a, _ in seen] == sorted({a for a, _ in seen})  # attempts only grow
    nexts = [n for _, n in seen]
    assert nexts == sorted(nexts) and len(set(nexts)) == len(nexts)  # each retry later
    assert operator.postfix.delivered(DOCTOR) == []

    await asyncio.to_thread(operator.postfix.start)
    await until(
        lambda: asyncio.to_thread(operator.postfix.delivered, DOCTOR), "delivery after restart"
    )

    async def marked_delivered() -> bool:  # Postfix's 250 comes before our row's commit
        (row,) = await queue_rows(storage)
        return bool(row.status == "delivered")

    await until(marked_delivered, "the queue row marked delivered")
    (row,) = await queue_rows(storage)
    assert row.status == "delivered" and row.attempts >= 4 and not row.dsn_sent
    await asyncio.sleep(0.5)  # a second delivery would show up now
    assert len(operator.postfix.delivered(DOCTOR)) == 1


async def test_postfix_never_back_gives_the_patient_a_dsn(
    operator: Operator, storage: Storage, seeded: Seeded
) -> None:
    await operator.start(start_postfix=False, retry_base=0.2, retry_max=0.5, max_lifetime=2.0)
    from espace_sante.accounts.conversations import record_professional_message

    async with transaction(storage.sessions) as s:
        await record_professional_message(
            s,
            account_id=seeded.active.account_id,
            professional_address=DOCTOR,
            closing=False,
            reply_to=None,
        )
    password = await app_password(storage, seeded)
    await operator.patient_replies(seeded, password, "Re: analyses")
    (dsn_message,) = await until(
        lambda: folder(storage, seeded.active.account_id, "INBOX"), "the DSN in the inbox"
    )
    reply, dsn = await queue_rows(storage)
    assert reply.status == "expired" and reply.dsn_sent and reply.attempts >= 2
    assert (dsn.kind, dsn.mail_from, dsn.status) == ("dsn", "", "delivered")
    raw = await read_blob(storage, seeded.active.account_id, dsn_message.blob_id)
    report = email.message_from_bytes(raw, policy=email.policy.default)
    assert report.get_content_type() == "multipart/report"
    assert report["Subject"] == "Non remis : Re: analyses"
    text = report.get_body(("plain",)).get_content()
    assert "n'a pas pu être remis" in text and DOCTOR in text
    assert b"Status: 5.4.7" in raw and f"Final-Recipient: rfc822; {DOCTOR}".encode() in raw


async def test_postfix_refusing_the_recipient_gives_a_dsn_with_its_reply(
    operator: Operator, storage: Storage, seeded: Seeded
) -> None:
    """A 5xx from the real peer (unknown mailbox at the operator): no retry, a DSN at once."""
    from espace_sante.accounts.conversations import record_professional_message

    await operator.start()
    gone = "dr.parti@medecin.mssante.fr"  # wrote once, mailbox since closed at the operator
    async with transaction(storage.sessions) as s:
        await record_professional_message(
            s,
            account_id=seeded.active.account_id,
            professional_address=gone,
            closing=False,
            reply_to=None,
        )
    password = await app_password(storage, seeded)
    assert operator.submission is not None
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=operator.submission.port,
        start_tls=True,
        tls_context=operator.client_tls(with_cert=False),
    )
    await client.connect()
    await client.login(seeded.active.address, password)
    me = seeded.active.address
    await client.sendmail(
        me, [gone], f"From: {me}\r\nTo: {gone}\r\nSubject: Re: suivi\r\n\r\nx\r\n"
    )
    await client.quit()
    (dsn_message,) = await until(
        lambda: folder(storage, seeded.active.account_id, "INBOX"), "the DSN in the inbox"
    )
    reply, _ = await queue_rows(storage)
    assert reply.status == "failed" and reply.attempts == 1 and reply.last_code == "550 5.1.1"
    raw = await read_blob(storage, seeded.active.account_id, dsn_message.blob_id)
    assert b"Status: 5.1.1" in raw and b"Action: failed" in raw
    assert f"Final-Recipient: rfc822; {gone}".encode() in raw
    report = email.message_from_bytes(raw, policy=email.policy.default)
    text = report.get_body(("plain",)).get_content()
    assert "refusé définitivement" in text and "550" in text
