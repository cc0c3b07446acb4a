"""Outbound delivery against a TLS peer started by the test: STARTTLS required and verified,
our client certificate presented, retries with back-off, permanent failures and expiry with a
French DSN filed in the sender's inbox, no DSN for kinds that must not bounce."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from espace_sante.config import Settings
from espace_sante.mta.outbound import queue
from espace_sante.mta.outbound.worker import retry_delay
from espace_sante.mta.tls import DevPki
from espace_sante.storage.engine import transaction
from espace_sante.storage.outbox import enqueue
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AuditEntry, Folder, Message, OutboundMessage
from fixtures.seed import DOCTOR, Seeded
from fixtures.store_queries import read_blob
from outbound.conftest import Peer, routed, start_peer

REPLY = (
    b"From: {me}\r\nTo: dr.dupont@medecin.mssante.fr\r\nSubject: =?utf-8?q?R=C3=A9ponse?=\r\n"
    b"Message-ID: <reply-1@patient.mssante.fr>\r\nIn-Reply-To: <cr-1@medecin.mssante.fr>\r\n"
    b"\r\nMerci docteur.\r\n"
)


async def queue_reply(storage: Storage, seeded: Seeded, kind: str = "reply", **kw: Any) -> int:
    me = seeded.active.address
    async with transaction(storage.sessions) as s:
        (row_id,) = await enqueue(
            s,
            kind=kind,
            mail_from=kw.get("mail_from", me),
            recipients=[kw.get("rcpt", DOCTOR)],
            raw=REPLY.replace(b"{me}", me.encode()),
            account_id=seeded.active.account_id,
        )
    return row_id


async def rows(storage: Storage) -> list[OutboundMessage]:
    async with storage.sessions() as s:
        query = select(OutboundMessage).order_by(OutboundMessage.id)
        return list((await s.execute(query)).scalars())


async def make_due(storage: Storage) -> None:
    """Pretend the retry time has come (instead of waiting for it)."""
    async with transaction(storage.sessions) as s:
        await s.execute(
            update(OutboundMessage)
            .where(OutboundMessage.status == "queued")
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )


async def inbox(storage: Storage, account_id: int) -> list[Message]:
    async with storage.sessions() as s:
        query = (
            select(Message)
            .join(Folder, Folder.id == Message.folder_id)
            .where(Folder.account_id == account_id, Folder.name == "INBOX")
        )
        return list((await s.execute(query)).scalars())


async def test_delivered_over_verified_tls_with_our_client_certificate(
    settings: Settings, storage: Storage, seeded: Seeded, peer: Peer, make_worker: Any
) -> None:
    row_id = await queue_reply(storage, seeded)
    worker = make_worker(routed(settings, peer.port))
    assert await worker.run_once() == 1
    (got,) = peer.handler.received
    assert got.mail_from == seeded.active.address and got.rcpt_tos == [DOCTOR]
    assert got.tls_version in ("TLSv1.2", "TLSv1.3")
    assert got.client_cert is not None  # verified by the peer against the development CA
    assert b"Merci docteur." in got.data and b"In-Reply-To: <cr-1@medecin.mssante.fr>" in got.data
    (row,) = await rows(storage)
    assert row.id == row_id and row.status == "delivered" and row.attempts == 1
    assert row.delivered_at is not None and row.raw == b"" and row.claimed_by is None
    assert row.last_code == "250" and row.remote_host == "127.0.0.1"
    # delivered once: nothing left to claim
    assert await worker.run_once() == 0
    assert len(peer.handler.received) == 1
    async with storage.sessions() as s:
        actions = (
            (
                await s.execute(
                    select(AuditEntry.action).where(
                        AuditEntry.account_id == seeded.active.account_id
                    )
                )
            )
            .scalars()
            .all()
        )
    assert "outbound.delivered" in actions


async def test_null_sender_notices_go_out_with_an_empty_reverse_path(
    settings: Settings, storage: Storage, seeded: Seeded, peer: Peer, make_worker: Any
) -> None:
    await queue_reply(storage, seeded, kind="xdm_error_notice", mail_from="")
    await make_worker(routed(settings, peer.port)).run_once()
    (got,) = peer.handler.received
    assert got.mail_from == "" and got.rcpt_tos == [DOCTOR]


async def test_temporary_failures_back_off_then_deliver(
    settings: Settings, storage: Storage, seeded: Seeded, peer: Peer, make_worker: Any
) -> None:
    await queue_reply(storage, seeded)
    worker = make_worker(routed(settings, peer.port))
    peer.handler.data_reply = "451 4.3.0 Try again later"
    gaps = []
    for attempt in (1, 2, 3):
        before = datetime.now(UTC)
        await worker.run_once()
        (row,) = await rows(storage)
        assert row.status == "queued" and row.attempts == attempt
        assert row.last_code == "451 4.3.0" and "Try again later" in (row.last_error or "")
        next_at = row.next_attempt_at.replace(tzinfo=UTC)
        gaps.append(next_at - before)
        assert await worker.run_once() == 0  # not due yet
        await make_due(storage)
    assert gaps[0] < gaps[1] < gaps[2]  # exponential back-off
    assert gaps[2] <= timedelta(seconds=retry_delay(3, 60.0, 3600.0) + 60)
    peer.handler.data_reply = "250 2.0.0 Ok"
    await worker.run_once()
    (row,) = await rows(storage)
    assert row.status == "delivered" and row.attempts == 4 and not row.dsn_sent
    assert len(peer.handler.received) == 1


def test_retry_delay_doubles_up_to_the_cap() -> None:
    assert [retry_delay(n, 300.0, 3000.0) for n in (1, 2, 3, 4, 5, 6)] == [
        300.0,
        600.0,
        1200.0,
        2400.0,
        3000.0,
        3000.0,
    ]


async def test_permanent_failure_sends_a_french_dsn_to_the_patient_inbox(
    settings: Settings, storage: Storage, seeded: Seeded, peer: Peer, make_worker: Any
) -> None:
    await queue_reply(storage, seeded)
    peer.handler.rcpt_reply = "550 5.1.1 <dr.dupont@medecin.mssante.fr>: unknown user"
    worker = make_worker(routed(settings, peer.port))
    await worker.run_once()
    original, dsn = await rows(storage)
    assert original.status == "failed" and original.dsn_sent and original.last_code == "550 5.1.1"
    assert original.raw == b""  # given up: no copy of the content kept in the queue
    assert (dsn.kind, dsn.mail_from, dsn.rcpt_to) == ("dsn", "", seeded.active.address)
    assert dsn.account_id == seeded.active.account_id
    # the DSN is for one of our accounts: filed in its INBOX, not sent out
    assert await worker.run_once() == 1
    assert len(peer.handler.received) == 0
    (_, dsn) = await rows(storage)
    assert dsn.status == "delivered" and dsn.remote_host == "local"
    (stored,) = await inbox(storage, seeded.active.account_id)
    raw = await read_blob(storage, seeded.active.account_id, stored.blob_id)
    report = email.message_from_bytes(raw, policy=email.policy.default)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    assert report["Subject"] == "Non remis : Réponse"
    assert report["In-Reply-To"] == "<reply-1@patient.mssante.fr>"
    parts = list(report.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain",
        "message/delivery-status",
        "text/rfc822-headers",
    ]
    text = parts[0].get_content()
    assert "n'a pas pu être remis" in text and "refusé définitivement" in text
    assert DOCTOR in text
    status = raw.decode("utf-8", "replace")
    assert "Final-Recipient: rfc822; dr.dupont@medecin.mssante.fr" in status
    assert "Action: failed" in status and "Status: 5.1.1" in status
    assert "Remote-MTA: dns; 127.0.0.1" in status


async def test_lifetime_over_gives_a_dsn_with_delivery_time_expired(
    settings: Settings, storage: Storage, seeded: Seeded, pki: DevPki, make_worker: Any
) -> None:
    dead = await start_peer(pki)
    port = dead.port
    dead.server.close()
    await dead.server.wait_closed()  # nobody listens there any more
    await queue_reply(storage, seeded)
    worker = make_worker(routed(settings, port, max_lifetime=3600.0))
    await worker.run_once()
    (row,) = await rows(storage)
    assert row.status == "queued" and "connection failed" in (row.last_error or "")
    lifetime_end = row.created_at.replace(tzinfo=UTC) + timedelta(seconds=3600)
    assert row.next_attempt_at.replace(tzinfo=UTC) <= lifetime_end
    async with transaction(storage.sessions) as s:  # an hour later
        await s.execute(
            update(OutboundMessage).values(
                created_at=row.created_at.replace(tzinfo=UTC) - timedelta(hours=1),
                next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
            )
        )
    await worker.run_once()
    row, dsn = await rows(storage)
    assert row.status == "expired" and row.attempts == 2 and row.dsn_sent
    assert dsn.kind == "dsn" and dsn.mail_from == ""
    assert b"Status: 5.4.7" in dsn.raw and b"Action: failed" in dsn.raw
    text = email.message_from_bytes(dsn.raw, policy=email.policy.default).get_body(("plain",))
    assert text is not None and "2 tentatives" in text.get_content()


@pytest.mark.parametrize("kind", ["notification", "login_code", "mdn", "dsn"])
async def test_no_dsn_for_kinds_that_must_not_bounce(
    settings: Settings,
    storage: Storage,
    seeded: Seeded,
    peer: Peer,
    make_worker: Any,
    kind: str,
) -> None:
    sender = "" if kind in ("mdn", "dsn") else "noreply@espace-sante.localhost"
    await queue_reply(storage, seeded, kind=kind, mail_from=sender, rcpt="someone@gmail.com")
    peer.handler.rcpt_reply = "550 5.1.1 no such user"
    await make_worker(routed(settings, peer.port)).run_once()
    (row,) = await rows(storage)
    assert row.status == "failed" and not row.dsn_sent
    async with storage.sessions() as s:
        details = (
            (
                await s.execute(
                    select(AuditEntry.detail).where(AuditEntry.action == "outbound.failed")
                )
            )
            .scalars()
            .all()
        )
    assert [json.loads(d)["kind"] for d in details] == [kind]


async def test_starttls_is_required(
    settings: Settings, storage: Storage, seeded: Seeded, pki: DevPki, make_worker: Any
) -> None:
    plain = await start_peer(pki, starttls=False)
    try:
        await queue_reply(storage, seeded)
        await make_worker(routed(settings, plain.port)).run_once()
    finally:
        plain.server.close()
    (row,) = await rows(storage)
    assert row.status == "queued" and "STARTTLS" in (row.last_error or "")
    assert plain.handler.received == []


async def test_a_certificate_outside_the_trust_space_is_refused(
    settings: Settings,
    storage: Storage,
    seeded: Seeded,
    pki: DevPki,
    make_worker: Any,
    tmp_path: Any,
) -> None:
    from espace_sante.mta.tls import DevPki as Pki
    from espace_sante.mta.tls import ensure_dev_pki

    other, _ = ensure_dev_pki(tmp_path / "other-ca", ["127.0.0.1", "localhost"])
    assert isinstance(other, Pki)
    rogue = await start_peer(pki, cert=(str(other.server_cert), str(other.server_key)))
    try:
        await queue_reply(storage, seeded)
        await make_worker(routed(settings, rogue.port)).run_once()
    finally:
        rogue.server.close()
    (row,) = await rows(storage)
    assert row.status == "queued" and row.last_code is None
    assert "certificate" in (row.last_error or "").lower()
    assert rogue.handler.received == []


async def test_each_row_is_claimed_by_one_worker_only(
    settings: Settings, storage: Storage, seeded: Seeded
) -> None:
    async with transaction(storage.sessions) as s:
        await enqueue(
            s,
            kind="reply",
            mail_from=seeded.active.address,
            recipients=[f"dr{i}@medecin.mssante.fr" for i in range(40)],
            raw=b"Subject: x\r\n\r\nx\r\n",
            account_id=seeded.active.account_id,
        )
    claims = await asyncio.gather(
        *(queue.claim_due(storage, f"w{i}", limit=7, lease=60) for i in range(8))
    )
    ids = [m.id for claim in claims for m in claim]
    assert len(ids) == len(set(ids)) == 40
    assert all(m.attempts == 1 for claim in claims for m in claim)
    # all are leased now: nothing is due
    assert await queue.claim_due(storage, "late", limit=100, lease=60) == []


async def test_an_expired_lease_is_taken_over_and_the_first_worker_cannot_settle(
    settings: Settings, storage: Storage, seeded: Seeded, peer: Peer, make_worker: Any
) -> None:
    await queue_reply(storage, seeded)
    (first,) = await queue.claim_due(storage, "crashed-worker", limit=10, lease=60)
    later = datetime.now(UTC) + timedelta(seconds=61)
    (again,) = await queue.claim_due(storage, "other", limit=10, lease=60, now=later)
    assert again.id == first.id and again.attempts == 2
    async with transaction(storage.sessions) as s:
        assert await queue.held_row(s, first, "crashed-worker") is None
        assert await queue.held_row(s, again, "other") is not None


async def test_per_domain_concurrency_limit(
    settings: Settings, storage: Storage, seeded: Seeded, peer: Peer, make_worker: Any
) -> None:
    async with transaction(storage.sessions) as s:
        await enqueue(
            s,
            kind="reply",
            mail_from=seeded.active.address,
            recipients=[f"dr{i}@medecin.mssante.fr" for i in range(6)],
            raw=b"Subject: x\r\n\r\nx\r\n",
            account_id=seeded.active.account_id,
        )
    peer.handler.hold = asyncio.Event()
    worker = make_worker(
        routed(settings, peer.port, per_domain_concurrency=2, max_concurrency=8, poll_interval=0.05)
    )
    worker.start()
    try:
        while peer.handler.sessions_now < 2:
            await asyncio.sleep(0.02)
        for _ in range(10):  # give the worker chances to exceed the limit
            await asyncio.sleep(0.02)
        assert peer.handler.sessions_now == 2
        peer.handler.hold.set()
        while len(peer.handler.received) < 6:
            await asyncio.sleep(0.02)
    finally:
        await worker.stop(grace=10)
    assert peer.handler.sessions_max == 2
    assert {r.status for r in await rows(storage)} == {"delivered"}


async def test_a_slow_delivery_keeps_its_lease(
    settings: Settings, storage: Storage, seeded: Seeded, peer: Peer, make_worker: Any
) -> None:
    """While the peer takes its time, the worker renews its lease: another worker cannot take
    the row over and send it a second time."""
    await queue_reply(storage, seeded)
    peer.handler.hold = asyncio.Event()
    # a lease far shorter than the peer's pause (settings validation would refuse it)
    worker = make_worker(routed(settings, peer.port, lease=0.6, timeout=30.0, poll_interval=0.05))
    worker.start()
    try:
        while peer.handler.sessions_now < 1:
            await asyncio.sleep(0.02)
        for _ in range(3):
            await asyncio.sleep(0.6)  # a whole lease
            assert await queue.claim_due(storage, "other", limit=10, lease=60) == []
        peer.handler.hold.set()
        while not peer.handler.received:
            await asyncio.sleep(0.02)
    finally:
        await worker.stop(grace=10)
    (row,) = await rows(storage)
    assert row.status == "delivered" and row.attempts == 1
    assert len(peer.handler.received) == 1
