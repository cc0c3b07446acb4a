"""CONDSTORE (RFC 7162): HIGHESTMODSEQ, FETCH MODSEQ and CHANGEDSINCE, STORE UNCHANGEDSINCE."""

from __future__ import annotations

import asyncio
import re
import ssl

from espace_sante.mailbox.imap.server import ImapListener

from .conftest import Mailbox


async def test_condstore_flow(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
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
    assert b"* ENABLED CONDSTORE\r\n" in await command("a2 ENABLE CONDSTORE")
    selected = b"".join(await command("a3 SELECT INBOX (CONDSTORE)"))
    highest = int(re.search(rb"HIGHESTMODSEQ (\d+)", selected).group(1))  # type: ignore[union-attr]
    fetched = b"".join(await command("a4 FETCH 1:* (MODSEQ)"))
    modseqs = [int(m) for m in re.findall(rb"MODSEQ \((\d+)\)", fetched)]
    assert len(modseqs) == 2 and max(modseqs) == highest
    stored = b"".join(await command(f"a5 STORE 1 (UNCHANGEDSINCE {highest}) +FLAGS (\\Seen)"))
    assert re.search(rb"\* 1 FETCH \(FLAGS \(\\Seen\) UID 1 MODSEQ \((\d+)\)\)", stored)
    # the same condition again fails: message 1 changed after `highest`
    again = b"".join(await command(f"a6 STORE 1 (UNCHANGEDSINCE {highest}) +FLAGS (\\Flagged)"))
    assert b"a6 OK [MODIFIED 1]" in again
    changed = b"".join(await command(f"a7 UID FETCH 1:* (FLAGS) (CHANGEDSINCE {highest})"))
    assert changed.count(b" FETCH (") == 1 and b"MODSEQ" in changed
    assert b"a8 BAD" in b"".join(await command("a8 FETCH 1 (FLAGS) (CHANGEDSINCE x)"))
    writer.close()
