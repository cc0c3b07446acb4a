"""BINARY (RFC 3516): a part's content with its transfer encoding undone, its size, partials."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import ssl

from espace_sante.mailbox.imap.server import ImapListener

from .conftest import Mailbox


async def test_binary_fetch_of_a_base64_attachment(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    message = email.message_from_bytes(mailbox.messages[1], policy=email.policy.default)
    pdf = list(message.iter_parts())[1].get_content()  # part 2: application/pdf, base64
    assert isinstance(pdf, bytes)
    reader, writer = await asyncio.open_connection("127.0.0.1", imap.tls_port, ssl=client_tls)
    await reader.readline()

    async def command(line: str) -> bytes:
        tag = line.split()[0].encode()
        writer.write(line.encode() + b"\r\n")
        out = b""
        while True:
            reply = await asyncio.wait_for(reader.readline(), 10)
            m = re.search(rb"~?\{(\d+)\}\r\n$", reply)
            if m:
                reply += await reader.readexactly(int(m.group(1)))
            out += reply
            if reply.startswith(tag + b" "):
                return out

    await command(f"a LOGIN {mailbox.address} {mailbox.password}")
    await command("b EXAMINE INBOX")
    size = await command("c FETCH 2 (BINARY.SIZE[2])")
    assert f"BINARY.SIZE[2] {len(pdf)}".encode() in size
    body = await command("d FETCH 2 (BINARY.PEEK[2])")
    assert b"BINARY[2] {%d}\r\n" % len(pdf) + pdf in body
    partial = await command("e FETCH 2 (BINARY.PEEK[2]<0.4>)")
    assert b"BINARY[2]<0> {4}\r\n%PDF" in partial
    text = await command("f FETCH 2 (BINARY.PEEK[1])")
    assert b"BINARY[1] {" in text
    assert b"g NO [NONEXISTENT]" in await command("g FETCH 2 (BINARY.PEEK[7])")
    assert b"h BAD" in await command("h FETCH 2 (BINARY.PEEK[2.HEADER])")
    writer.close()
