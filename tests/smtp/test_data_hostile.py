"""DATA under hostile or broken input: a clear outcome each time, and nothing half-stored."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl

import pytest

from espace_sante.mta import delivery as delivery_module
from espace_sante.mta.server import InboundListener
from espace_sante.policy import verdicts
from espace_sante.storage.runtime import Storage
from fixtures import mssante
from fixtures.mssante import clinician_message
from fixtures.smtp_client import send
from fixtures.store_queries import blob_files, counts, documents, inbox, notices

from .conftest import DOCTOR, UNLISTED_DOCTOR, Seeded

EMPTY = {"messages": 0, "documents": 0, "blobs": 0, "outbound": 0}


def _session(port: int, tls: ssl.SSLContext) -> smtplib.SMTP:
    c = smtplib.SMTP("127.0.0.1", port, timeout=30)
    c.ehlo("client.example")
    c.starttls(context=tls)
    c.ehlo("client.example")
    return c


def _raw_data(port: int, tls: ssl.SSLContext, rcpt: str, payload: bytes) -> list[tuple[int, bytes]]:
    """Send ``payload`` verbatim after DATA (no dot-stuffing, no line-end repair)."""
    c = _session(port, tls)
    try:
        replies = [c.docmd(f"MAIL FROM:<{DOCTOR}>"), c.docmd(f"RCPT TO:<{rcpt}>"), c.docmd("DATA")]
        assert c.sock is not None
        c.sock.sendall(payload)
        replies.append(c.getreply())
        replies.append(c.noop())  # the session goes on
        return replies
    finally:
        c.close()


async def test_bare_lf_is_refused_and_nothing_stored(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    body = b"From: <%s>\r\nSubject: x\r\n\r\nline one\nline two\r\n.\r\n" % DOCTOR.encode()
    replies = await asyncio.to_thread(
        _raw_data, gateway.port, client_tls, seeded.active.address, body
    )
    assert replies[3][0] == verdicts.BARE_LINEFEED.code
    assert replies[4][0] == 250
    assert await counts(storage) == EMPTY


@pytest.mark.parametrize(
    "smuggled_end",
    [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\r\n.\r"],
    ids=["lf-dot-lf", "lf-dot-crlf", "crlf-dot-lf", "cr-dot-crlf", "crlf-dot-cr"],
)
async def test_smtp_smuggling_does_not_inject_a_second_message(
    gateway: InboundListener,
    client_tls: ssl.SSLContext,
    seeded: Seeded,
    storage: Storage,
    smuggled_end: bytes,
) -> None:
    """The classic smuggling payload: a fake end of data followed by a second transaction."""
    smuggled = (
        f"MAIL FROM:<{DOCTOR}>\r\nRCPT TO:<{seeded.other.address}>\r\nDATA\r\n"
        f"From: <{DOCTOR}>\r\nSubject: smuggled\r\n\r\nevil\r\n"
    ).encode()
    outer = f"From: <{DOCTOR}>\r\nSubject: outer\r\n\r\nhello".encode()
    payload = outer + smuggled_end + smuggled + b"\r\n.\r\n"
    replies = await asyncio.to_thread(
        _raw_data, gateway.port, client_tls, seeded.active.address, payload
    )
    assert replies[3][0] == verdicts.BARE_LINEFEED.code, replies
    assert await inbox(storage, seeded.other.account_id) == []
    assert await counts(storage) == EMPTY


async def test_overlong_line_is_refused_and_the_session_goes_on(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    body = b"From: <%s>\r\nSubject: x\r\n\r\n" % DOCTOR.encode() + b"A" * 5000 + b"\r\n.\r\n"
    replies = await asyncio.to_thread(
        _raw_data, gateway.port, client_tls, seeded.active.address, body
    )
    assert replies[3][0] == 500 and replies[3][1].startswith(b"5.5.2"), replies
    assert replies[4][0] == 250
    assert await counts(storage) == EMPTY


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_data_over_the_size_limit_without_size_parameter(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    limit = gateway.settings.mssante.max_message_size
    message = clinician_message(patient_ins=seeded.active.ins, pad_to_size=limit + 100_000)
    t = await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], message)
    assert t.data is not None and t.data[0] == 552 and t.data[1].startswith(b"5.3.4"), t.data
    assert await counts(storage) == EMPTY


async def test_message_without_from_is_refused(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    body = b"Subject: no sender\r\n\r\nhello\r\n"
    t = await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], body)
    assert t.data is not None and t.data[0] == verdicts.MALFORMED_MESSAGE.code
    assert await counts(storage) == EMPTY


async def test_header_from_outside_the_directory_is_refused(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    message = clinician_message(
        sender=UNLISTED_DOCTOR, patient_ins=seeded.active.ins, with_xdm=False
    )
    t = await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], message)
    assert t.data is not None and t.data[0] == verdicts.SENDER_NOT_IN_DIRECTORY.code
    assert await counts(storage) == EMPTY


async def test_malformed_mime_is_stored_as_received(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    body = (
        f"From: <{DOCTOR}>\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n'
        "--zz\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        "--zz\r\nContent-Type: application/pdf; name=a.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        "!!!not base64 at all###\r\n"
        "--zz\r\nContent-Type: application/zip; name=IHE_XDM.ZIP\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nUEsDBBQAAAAIAA==\r\n"
        # no closing boundary
    ).encode()
    t = await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], body)
    assert t.accepted, t
    [m] = await inbox(storage, seeded.active.account_id)
    assert m.size > len(body)
    [notice] = await notices(storage)
    assert b"XDM_INVALIDE" in notice.raw


@pytest.mark.parametrize(
    "archive",
    ["zip_bomb", "zip_with_traversal", "broken_zip", "xdm_without_metadata", "xxe"],
)
async def test_hostile_xdm_archives_are_not_deposited(
    gateway: InboundListener,
    client_tls: ssl.SSLContext,
    seeded: Seeded,
    storage: Storage,
    archive: str,
) -> None:
    data = mssante.hostile_archive(archive, seeded.active.ins)
    message = clinician_message(patient_ins=seeded.active.ins, xdm_bytes=data, with_pdf=True)
    t = await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], message)
    assert t.accepted, t
    docs = await documents(storage, seeded.active.account_id)
    assert [d.source for d in docs] == ["attachment"]  # the PDF only
    [notice] = await notices(storage)
    assert b"XDM_INVALIDE" in notice.raw


async def test_client_disconnecting_mid_data_stores_nothing(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    def run() -> None:
        c = _session(gateway.port, client_tls)
        c.docmd(f"MAIL FROM:<{DOCTOR}>")
        c.docmd(f"RCPT TO:<{seeded.active.address}>")
        c.docmd("DATA")
        assert c.sock is not None
        c.sock.sendall(b"From: <%s>\r\nSubject: cut\r\n\r\nhalf a mess" % DOCTOR.encode())
        c.sock.shutdown(socket.SHUT_RDWR)
        c.sock.close()

    await asyncio.to_thread(run)
    await asyncio.sleep(0.3)
    assert await counts(storage) == EMPTY
    assert blob_files(storage) == []


async def test_storage_failure_answers_451_and_leaves_nothing(
    gateway: InboundListener,
    client_tls: ssl.SSLContext,
    seeded: Seeded,
    storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(delivery_module, "record_professional_message_sync", broken)
    message = clinician_message(patient_ins=seeded.active.ins, with_xdm=True, with_pdf=True)
    t = await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], message)
    assert t.data is not None and t.data[0] == 451 and t.data[1].startswith(b"4.3.0"), t.data
    assert await counts(storage) == EMPTY
    assert blob_files(storage) == []
    monkeypatch.undo()
    t = await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], message)
    assert t.accepted  # the sender's retry succeeds


async def test_garbage_commands_get_bad_replies_and_the_session_survives(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded
) -> None:
    def run() -> list[tuple[int, bytes]]:
        c = _session(gateway.port, client_tls)
        try:
            out = [
                c.docmd("\x00\x01\x02"),
                c.docmd(f"RCPT TO:<{seeded.active.address}>"),  # before MAIL
                c.docmd("DATA"),  # before RCPT
                c.docmd("MAIL FROM:<" + "a" * 600 + "@medecin.mssante.fr>"),
                c.docmd("X" * 3000),
            ]
            out.append(c.noop())
            return out
        finally:
            c.close()

    replies = await asyncio.to_thread(run)
    assert all(500 <= code < 600 for code, _ in replies[:-1]), replies
    assert replies[-1][0] == 250
