"""Hostile clients: a flood of pipelined commands, an endless line, a client that never reads,
a silent client; none of them blocks the others or grows our memory without bound."""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import replace

from espace_sante.config import Settings
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
