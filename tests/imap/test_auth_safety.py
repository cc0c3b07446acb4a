"""The not-authenticated state against hostile clients: STARTTLS command injection
(CVE-2011-0411), clear-text logins while LOGINDISABLED is advertised."""

from __future__ import annotations

import asyncio
import logging
import ssl

import pytest
from sqlalchemy import select

from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AppPassword

from .conftest import Mailbox

TIMEOUT = 10


async def _read_until(reader: asyncio.StreamReader, tag: bytes) -> list[bytes]:
    lines = []
    while True:
        line = await asyncio.wait_for(reader.readline(), TIMEOUT)
        if not line:
            raise ConnectionError(f"closed before {tag!r}; received {lines!r}")
        lines.append(line)
        if line.startswith(tag + b" "):
            return lines


async def _app_passwords_used(storage: Storage) -> list[object]:
    async with storage.sessions() as session:
        rows = await session.execute(select(AppPassword.last_used_at))
        return [used for (used,) in rows if used is not None]


async def test_commands_pipelined_after_starttls_are_discarded(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox, storage: Storage
) -> None:
    """CVE-2011-0411: a LOGIN sent in clear in the same packet as STARTTLS must not run inside
    the TLS session that follows (RFC 9051 §6.2.1: nothing sent before the handshake counts;
    aiosmtpd does the same for SMTP, RFC 3207 §4.2). The next command over TLS finds the
    session not authenticated and the app password was never used."""
    reader, writer = await asyncio.open_connection("127.0.0.1", imap.port)
    greeting = await asyncio.wait_for(reader.readline(), TIMEOUT)
    assert b"STARTTLS" in greeting and b"LOGINDISABLED" in greeting
    writer.write(
        b"a STARTTLS\r\n"
        + f"b LOGIN {mailbox.address} {mailbox.password}\r\n".encode()
        + b"b2 SELECT INBOX\r\n"
    )  # one write: one TCP segment on loopback
    assert await _read_until(reader, b"a") == [b"a OK Begin TLS negotiation now\r\n"]
    await writer.start_tls(client_tls, server_hostname="localhost")
    writer.write(b"c SELECT INBOX\r\n")
    assert await _read_until(reader, b"c") == [b"c BAD log in first\r\n"]  # nothing for b, b2
    writer.write(b"d CAPABILITY\r\n")
    capability = b"".join(await _read_until(reader, b"d"))
    assert b"AUTH=PLAIN" in capability and b"LOGINDISABLED" not in capability
    assert await _app_passwords_used(storage) == []
    # and the session goes on normally: a login over TLS works
    writer.write(f"e LOGIN {mailbox.address} {mailbox.password}\r\n".encode())
    assert (await _read_until(reader, b"e"))[-1].startswith(b"e OK")
    writer.close()


async def test_a_partial_line_after_starttls_is_discarded_too(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox, storage: Storage
) -> None:
    """The start of a command sent in clear after STARTTLS must not become the start of the
    first command inside TLS (a man in the middle would prefix the victim's command)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", imap.port)
    await asyncio.wait_for(reader.readline(), TIMEOUT)
    writer.write(b"a STARTTLS\r\nx LOGIN " + mailbox.address.encode() + b" ")
    assert await _read_until(reader, b"a") == [b"a OK Begin TLS negotiation now\r\n"]
    await writer.start_tls(client_tls, server_hostname="localhost")
    writer.write(mailbox.password.encode() + b"\r\nc NOOP\r\n")
    # the victim's bytes alone are no command; nothing logged in
    lines = await _read_until(reader, b"c")
    assert lines[-1] == b"c OK NOOP completed\r\n"
    assert not any(line.startswith(b"x ") for line in lines)
    assert await _app_passwords_used(storage) == []
    writer.close()


async def test_a_clear_text_login_is_refused_while_logindisabled_is_advertised(
    imap: ImapListener, mailbox: Mailbox, storage: Storage
) -> None:
    """RFC 9051 §6.2.3 / RFC 3501 §7.2.1 LOGINDISABLED: LOGIN and AUTHENTICATE PLAIN in clear
    are refused (Dovecot: NO [PRIVACYREQUIRED]), the password is not even checked."""
    reader, writer = await asyncio.open_connection("127.0.0.1", imap.port)
    assert b"LOGINDISABLED" in await asyncio.wait_for(reader.readline(), TIMEOUT)
    writer.write(f"a LOGIN {mailbox.address} {mailbox.password}\r\n".encode())
    (refused,) = await _read_until(reader, b"a")
    assert refused.startswith(b"a NO [PRIVACYREQUIRED]")
    writer.write(b"b AUTHENTICATE PLAIN AGFAYg==\r\n")
    (refused,) = await _read_until(reader, b"b")
    assert refused.startswith(b"b NO [PRIVACYREQUIRED]")
    writer.write(b"c SELECT INBOX\r\n")
    assert await _read_until(reader, b"c") == [b"c BAD log in first\r\n"]
    assert await _app_passwords_used(storage) == []
    writer.close()


async def test_clear_text_instead_of_a_handshake_ends_the_session_quietly(
    imap: ImapListener, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    """After ``OK Begin TLS negotiation now`` the next octets are the TLS handshake (RFC 9051
    §6.2.1); clear text there fails it and the server closes the connection, with no error
    logged (Dovecot closes too)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", imap.port)
    await asyncio.wait_for(reader.readline(), TIMEOUT)
    writer.write(b"a STARTTLS\r\n")
    assert await _read_until(reader, b"a") == [b"a OK Begin TLS negotiation now\r\n"]
    writer.write(f"b LOGIN {mailbox.address} {mailbox.password}\r\n".encode())
    assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""  # closed, no answer in clear
    writer.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
