"""The raw client of test_rev2 and test_guardian, until they move to raw.py."""

from __future__ import annotations

import asyncio
import ssl

from espace_sante.mailbox.imap.server import ImapListener


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
