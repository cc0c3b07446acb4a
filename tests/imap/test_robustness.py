"""Hostile clients: malformed commands, a flood of pipelined commands, an endless line, a client
that never reads, a silent client; none of them blocks the others or grows our memory without
bound, and a failure inside a command does not end the session."""

from __future__ import annotations

import asyncio
import logging
import re
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
from .raw import RawImap, RawOpener, connect


async def _greeted(raw_imap: RawOpener) -> RawImap:
    client = await raw_imap()
    assert client.greeting.startswith(b"* OK")
    return client


async def _responsive(raw_imap: RawOpener) -> float:
    """Seconds another client waits for a CAPABILITY answer."""
    client = await _greeted(raw_imap)
    started = time.monotonic()
    assert (await client.command("x CAPABILITY")).tagged.startswith(b"x OK")
    client.close()
    return time.monotonic() - started


async def test_malformed_commands_get_bad_and_the_session_goes_on(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    lines = [
        f"a0 LOGIN {mailbox.address} {mailbox.password}\r\n".encode(),
        b"a1 SELECT\r\n",
        b"a6 EXAMINE INBOX\r\n",
        b"a2 FETCH 1 (FLAGS\r\n",
        b"a3 FETCH 0:x FLAGS\r\n",
        b"a4 XYZZY\r\n",
        b"a5 FETCH 1 (BODY[" + b".".join(b"%d" % n for n in range(1, 34)) + b"])\r\n",
        b"a7 FETCH 99 FLAGS\r\n",
        b"a8 FETCH 1 (BODY[9])\r\n",
        b"a9 NOOP " + b"x" * 70_000 + b"\r\n",
        b"b1 LOGIN {99999999}\r\n",
        b"b2 NOOP\r\n",
    ]
    c = await raw_imap()
    replies = [c.greeting]
    for line in lines:  # one at a time, each up to its tagged answer
        await c.send(line)
        replies += (await c.read_until(line.split(b" ")[0])).lines
    tagged = {r.split(b" ")[0]: r for r in replies if re.match(rb"^[ab]\d ", r)}
    assert tagged[b"a0"].startswith(b"a0 OK")
    for tag in (b"a1", b"a2", b"a3", b"a4", b"a5", b"a7", b"a9", b"b1"):
        assert tagged[tag].startswith(tag + b" BAD"), tagged[tag]
    assert tagged[b"a6"].startswith(b"a6 OK [READ-ONLY]")
    assert any(r.startswith(b"* 1 FETCH (BODY[9] {0}") for r in replies)  # no such part
    assert b"TOOBIG" in tagged[b"b1"]
    assert tagged[b"b2"].startswith(b"b2 OK")


async def test_thousands_of_pipelined_commands_are_all_answered(raw_imap: RawOpener) -> None:
    c = await _greeted(raw_imap)
    count = 5000
    await c.send(b"".join(b"p%d NOOP\r\n" % i for i in range(count)))
    answered = 0
    while answered < count:
        line = await c.readline(30)
        if line.startswith(b"p") and b" OK " in line:
            answered += 1
    assert await _responsive(raw_imap) < 10
    c.close()


async def test_a_client_that_never_reads_only_stalls_itself(raw_imap: RawOpener) -> None:
    c = await _greeted(raw_imap)
    for _ in range(20):
        await c.send(b"q CAPABILITY\r\n" * 2000)  # answers pile up unread
        await asyncio.sleep(0)
    assert await _responsive(raw_imap) < 10
    c.abort()


async def test_an_endless_line_is_refused_and_others_are_served(raw_imap: RawOpener) -> None:
    c = await _greeted(raw_imap)
    await c.send(b"e1 NOOP " + b"A" * 2_000_000 + b"\r\ne2 NOOP\r\n")
    first = await c.readline(30)
    assert first.startswith(b"e1 BAD") and b"too long" in first
    assert (await c.readline()).startswith(b"e2 OK")
    assert await _responsive(raw_imap) < 10
    c.close()


async def test_a_silent_client_is_logged_out(
    settings: Settings, storage: Storage, mailbox: Mailbox, pki: DevPki, client_tls: ssl.SSLContext
) -> None:
    settings = replace(settings, imap=replace(settings.imap, port=0, tls_port=0, idle_timeout=1))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    listener = ImapListener(settings, storage, tls)
    await listener.start()
    try:
        c = await connect(listener.tls_port, client_tls)
        assert c.greeting.startswith(b"* OK")
        bye = await c.readline()
        assert bye.startswith(b"* BYE") and b"idle" in bye
        assert await c.read_to_end() == b""  # and the connection is closed
        c.close()
    finally:
        await listener.stop()


async def test_an_internal_error_is_logged_without_message_contents(
    raw_imap: RawOpener,
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
    c = await _greeted(raw_imap)
    caplog.set_level(logging.INFO, logger="espace_sante")
    await c.login(mailbox.address, mailbox.password)
    await c.command("b SELECT INBOX")
    failed = await c.command("c FETCH 1 BODY[]")
    assert failed.tagged.startswith(b"c NO [SERVERBUG]")
    assert (await c.command("d NOOP")).tagged.startswith(b"d OK")  # the session goes on
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    line = errors[0].getMessage()
    assert "FETCH failed" in line and "ValueError" in line and "failing_raw" in line
    logged = caplog.text + "".join(str(r.exc_info) for r in caplog.records)
    assert "carcinome" not in logged and "Compte rendu" not in logged
    c.close()
