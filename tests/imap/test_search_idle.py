"""IDLE waking up on a delivery."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.storage.runtime import Storage
from fixtures.mssante import clinician_message
from fixtures.seed import DOCTOR, Seeded

from .conftest import Mailbox, deliver

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_idle_reports_a_delivery_as_it_happens(
    imap: ImapListener,
    client_tls: ssl.SSLContext,
    mailbox: Mailbox,
    storage: Storage,
    seeded: Seeded,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", imap.tls_port, ssl=client_tls)

    async def command(line: str) -> list[bytes]:
        writer.write(line.encode() + b"\r\n")
        replies = []
        while True:
            reply = await asyncio.wait_for(reader.readline(), 10)
            replies.append(reply)
            if reply.startswith(line.split()[0].encode() + b" ") or reply.startswith(b"+"):
                return replies

    await reader.readline()
    await command(f"a1 LOGIN {mailbox.address} {mailbox.password}")
    await command("a2 SELECT INBOX")
    assert (await command("a3 IDLE"))[-1].startswith(b"+ ")
    await deliver(storage, seeded, clinician_message(sender=DOCTOR, patient_ins=seeded.active.ins))
    assert await asyncio.wait_for(reader.readline(), 10) == b"* 3 EXISTS\r\n"
    writer.write(b"DONE\r\n")
    assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"a3 OK")
    writer.close()
