"""Hostile clients: a flood of pipelined commands, an endless line, a client that never reads,
a silent client; none of them blocks the others or grows our memory without bound."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from dataclasses import replace

import pytest

from espace_sante.config import Settings
from espace_sante.mailbox.imap.mailstore import AccountMailStore
from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.mta.tls import DevPki
from espace_sante.storage.runtime import Storage

from .conftest import Mailbox


async def _greeted(
    port: int, tls: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls)
    assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"* OK")
    return reader, writer


async def _responsive(imap: ImapListener, tls: ssl.SSLContext) -> float:
    """Seconds another client waits for a CAPABILITY answer."""
    reader, writer = await _greeted(imap.tls_port, tls)
    started = time.monotonic()
    writer.write(b"x CAPABILITY\r\n")
    while not (await asyncio.wait_for(reader.readline(), 10)).startswith(b"x OK"):
        pass
    writer.close()
    return time.monotonic() - started


async def test_thousands_of_pipelined_commands_are_all_answered(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    reader, writer = await _greeted(imap.tls_port, client_tls)
    count = 5000
    writer.write(b"".join(b"p%d NOOP\r\n" % i for i in range(count)))
    answered = 0
    while answered < count:
        line = await asyncio.wait_for(reader.readline(), 30)
        if line.startswith(b"p") and b" OK " in line:
            answered += 1
    assert await _responsive(imap, client_tls) < 10
    writer.close()


async def test_a_client_that_never_reads_only_stalls_itself(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    _, writer = await _greeted(imap.tls_port, client_tls)
    for _ in range(20):
        writer.write(b"q CAPABILITY\r\n" * 2000)  # answers pile up unread
        await asyncio.sleep(0)
    assert await _responsive(imap, client_tls) < 10
    writer.transport.abort()


async def test_an_endless_line_is_refused_and_others_are_served(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    reader, writer = await _greeted(imap.tls_port, client_tls)
    writer.write(b"e1 NOOP " + b"A" * 2_000_000 + b"\r\ne2 NOOP\r\n")
    first = await asyncio.wait_for(reader.readline(), 30)
    assert first.startswith(b"e1 BAD") and b"too long" in first
    assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"e2 OK")
    assert await _responsive(imap, client_tls) < 10
    writer.close()


async def test_a_silent_client_is_logged_out(
    settings: Settings, storage: Storage, mailbox: Mailbox, pki: DevPki, client_tls: ssl.SSLContext
) -> None:
    settings = replace(settings, imap=replace(settings.imap, port=0, tls_port=0, idle_timeout=1))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    listener = ImapListener(settings, storage, tls)
    await listener.start()
    try:
        reader, writer = await _greeted(listener.tls_port, client_tls)
        bye = await asyncio.wait_for(reader.readline(), 10)
        assert bye.startswith(b"* BYE") and b"idle" in bye
        assert await asyncio.wait_for(reader.read(), 10) == b""  # and the connection is closed
        writer.close()
    finally:
        await listener.stop()


async def test_an_internal_error_is_logged_without_message_contents(
    imap: ImapListener,
    client_tls: ssl.SSLContext,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failure while serving a message answers NO [SERVERBUG], keeps the session, and logs
    where it happened — not the exception's message, which here quotes the mail."""
    secret = "Diagnostic : carcinome"

    async def failing_raw(self: AccountMailStore, row: object) -> bytes:
        raise ValueError(f"cannot decode {secret!r}")

    monkeypatch.setattr(AccountMailStore, "raw", failing_raw)
    reader, writer = await _greeted(imap.tls_port, client_tls)

    async def command(line: str) -> list[bytes]:
        tag = line.split()[0].encode()
        writer.write(line.encode() + b"\r\n")
        out = [await asyncio.wait_for(reader.readline(), 10)]
        while not out[-1].startswith(tag + b" "):
            out.append(await asyncio.wait_for(reader.readline(), 10))
        return out

    caplog.set_level(logging.INFO, logger="espace_sante")
    await command(f"a LOGIN {mailbox.address} {mailbox.password}")
    await command("b SELECT INBOX")
    failed = await command("c FETCH 1 BODY[]")
    assert failed[-1].startswith(b"c NO [SERVERBUG]")
    assert (await command("d NOOP"))[-1].startswith(b"d OK")  # the session goes on
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    line = errors[0].getMessage()
    assert "FETCH failed" in line and "ValueError" in line and "failing_raw" in line
    logged = caplog.text + "".join(str(r.exc_info) for r in caplog.records)
    assert "carcinome" not in logged and "Compte rendu" not in logged
    writer.close()
