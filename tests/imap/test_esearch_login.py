"""ESEARCH (RFC 4731), SEARCHRES (RFC 5182) and AUTHENTICATE LOGIN."""

from __future__ import annotations

import asyncio
import ssl

from espace_sante.mailbox.imap.server import ImapListener

from .conftest import Mailbox


class Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def command(self, line: str) -> list[bytes]:
        tag = line.split()[0].encode()
        self.writer.write(line.encode() + b"\r\n")
        out = []
        while True:
            reply = await asyncio.wait_for(self.reader.readline(), 10)
            out.append(reply)
            if reply.startswith(tag + b" ") or reply.startswith(b"+"):
                return out


async def _open(imap: ImapListener, tls: ssl.SSLContext) -> Session:
    reader, writer = await asyncio.open_connection("127.0.0.1", imap.tls_port, ssl=tls)
    await reader.readline()
    return Session(reader, writer)


async def test_esearch_and_saved_results(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    s = await _open(imap, client_tls)
    await s.command(f"a LOGIN {mailbox.address} {mailbox.password}")
    await s.command("b SELECT INBOX")
    replies = await s.command("c SEARCH RETURN (MIN MAX COUNT ALL) ALL")
    assert replies[0] == b'* ESEARCH (TAG "c") MIN 1 MAX 2 COUNT 2 ALL 1:2\r\n'
    replies = await s.command("d UID SEARCH RETURN (COUNT) SUBJECT ordonnance")
    assert replies[0] == b'* ESEARCH (TAG "d") UID COUNT 1\r\n'
    replies = await s.command("e SEARCH RETURN () NOT ALL")
    assert replies[0] == b'* ESEARCH (TAG "e")\r\n'
    # SAVE alone answers nothing; "$" then names the result in FETCH, STORE and SEARCH
    replies = await s.command("f SEARCH RETURN (SAVE) SUBJECT ordonnance")
    assert replies[0].startswith(b"f OK")
    fetched = await s.command("g FETCH $ (UID)")
    assert [r for r in fetched if r.startswith(b"* ")] == [b"* 2 FETCH (UID 2)\r\n"]
    stored = await s.command("h STORE $ +FLAGS (\\Flagged)")
    assert stored[0].startswith(b"* 2 FETCH (FLAGS (\\Flagged)")
    assert (await s.command("i SEARCH UID $"))[0] == b"* SEARCH 2\r\n"
    assert (await s.command("j SEARCH RETURN (BOGUS) ALL"))[-1].startswith(b"j BAD")
    s.writer.close()
