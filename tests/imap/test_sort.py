"""SORT (RFC 5256): by date, sender, subject, size, reversed, with search keys; bad criteria."""

from __future__ import annotations

import asyncio
import ssl

from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.storage.runtime import Storage
from fixtures.seed import Seeded

from .conftest import Mailbox, deliver

MESSAGES = [  # (from, date, subject, padding)
    ("zoe@ch.fr", "Mon, 02 Nov 2026 10:00:00 +0100", "Re: [CR] Bilan", 10),
    ("Alice <alice@ch.fr>", "Sun, 01 Nov 2026 10:00:00 +0100", "Analyse", 3000),
    ("bob@ch.fr", "Tue, 03 Nov 2026 10:00:00 +0100", "Fwd: compte rendu", 500),
]


async def test_sort_orders(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox, storage: Storage,
    seeded: Seeded,
) -> None:  # fmt: skip
    for sender, date, subject, pad in MESSAGES:
        raw = (
            f"From: {sender}\r\nTo: {mailbox.address}\r\nDate: {date}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{pad}@ch.fr>\r\n\r\n{'x' * pad}\r\n"
        ).encode()
        await deliver(storage, seeded, raw)
    # the mailbox now holds the 2 fixture messages (1, 2) and these three (3, 4, 5)
    reader, writer = await asyncio.open_connection("127.0.0.1", imap.tls_port, ssl=client_tls)
    await reader.readline()

    async def command(line: str) -> list[bytes]:
        tag = line.split()[0].encode()
        writer.write(line.encode() + b"\r\n")
        out = []
        while True:
            reply = await asyncio.wait_for(reader.readline(), 10)
            out.append(reply)
            if reply.startswith(tag + b" "):
                return out

    await command(f"a1 LOGIN {mailbox.address} {mailbox.password}")
    await command("a2 EXAMINE INBOX")

    async def sort(criteria: str, keys: str = "UID 3:*") -> bytes:
        replies = await command(f"s SORT ({criteria}) UTF-8 {keys}")
        assert replies[-1].startswith(b"s OK"), replies
        return next(r for r in replies if r.startswith(b"* SORT")).strip()

    assert await sort("DATE") == b"* SORT 4 3 5"
    assert await sort("REVERSE DATE") == b"* SORT 5 3 4"
    assert await sort("FROM") == b"* SORT 4 5 3"  # alice, bob, zoe (local parts)
    assert await sort("SUBJECT") == b"* SORT 4 3 5"  # analyse, bilan, compte rendu
    assert await sort("SIZE") == b"* SORT 3 5 4"
    by_size = (await sort("REVERSE SIZE", "ALL")).split()[2:]
    assert len(by_size) == 5 and by_size[-1] == b"3"  # the 10-byte message is the smallest
    uid_sort = await command("u UID SORT (FROM) UTF-8 FROM bob")
    assert uid_sort[0].strip() == b"* SORT 5"
    for bad in ("s1 SORT () UTF-8 ALL", "s2 SORT (REVERSE) UTF-8 ALL", "s3 SORT (COLOR) UTF-8 ALL"):
        assert (await command(bad))[-1].split()[1] == b"BAD"
    assert b"BADCHARSET" in (await command("s4 SORT (DATE) KOI8-R ALL"))[-1]
    writer.close()
