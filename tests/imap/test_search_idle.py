"""SEARCH keys (table-driven, against the delivered corpus) and IDLE waking up on a delivery."""

from __future__ import annotations

import asyncio
import imaplib
import ssl

import pytest

from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.storage.runtime import Storage
from fixtures.mssante import clinician_message
from fixtures.seed import DOCTOR, Seeded

from .conftest import Mailbox, deliver

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# The fixture mailbox: 1 "Compte rendu" (XDM + PDF), 2 "Ordonnance" (PDF only), both from DOCTOR.
CASES = [
    ("ALL", "1 2"),
    ("SUBJECT ordonnance", "2"),
    ('SUBJECT "COMPTE RENDU"', "1"),
    ("FROM dupont", "1 2"),
    ("FROM nobody", ""),
    ("NOT SUBJECT ordonnance", "1"),
    ("OR SUBJECT ordonnance SUBJECT compte", "1 2"),
    ("UNSEEN", "1 2"),
    ("SEEN", ""),
    ("LARGER 1", "1 2"),
    ("SMALLER 10", ""),
    ("2", "2"),
    ("1:*", "1 2"),
    ("UID 2", "2"),
    ("SINCE 1-Jan-2020", "1 2"),
    ("BEFORE 1-Jan-2020", ""),
    ("SENTSINCE 1-Jan-2020 SUBJECT compte", "1"),
    ("HEADER X-MSS-INS O", "1 2"),
    ("HEADER X-MSS-CODECDA 11488", "1 2"),
    ("BODY consultation", "1 2"),
    ("TEXT IHE_XDM", "1"),
    ("(SUBJECT compte) (FROM dupont)", "1"),
    ("CHARSET UTF-8 SUBJECT ordonnance", "2"),
    ("KEYWORD $Important", ""),
    ("NEW", ""),
]


async def test_search_keys(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    def session() -> list[tuple[str, str, str]]:
        c = imaplib.IMAP4_SSL("127.0.0.1", imap.tls_port, ssl_context=client_tls, timeout=10)
        c.login(mailbox.address, mailbox.password)
        c.select("INBOX", readonly=True)
        out = []
        for criteria, expected in CASES:
            typ, data = c.search(None, criteria)
            out.append((criteria, expected, data[0].decode() if typ == "OK" else typ))
        c.logout()
        return out

    for criteria, expected, got in await asyncio.to_thread(session):
        assert got == expected, criteria


@pytest.mark.parametrize(
    ("criteria", "answer"),
    [
        ("CHARSET KOI8-R SUBJECT x", "BADCHARSET"),
        ("SUBJECT", "missing"),
        ("BEFORE 32-Jan-2020", "invalid date"),
        ("XYZZY", "unknown search key"),
        ("OR SUBJECT a", "missing"),
        ("()", "empty"),
    ],
)
async def test_bad_search_criteria(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox, criteria: str, answer: str
) -> None:
    def session() -> str:
        c = imaplib.IMAP4_SSL("127.0.0.1", imap.tls_port, ssl_context=client_tls, timeout=10)
        c.login(mailbox.address, mailbox.password)
        c.select("INBOX", readonly=True)
        try:
            typ, data = c.search(None, criteria)
            return f"{typ} {data}"
        except imaplib.IMAP4.error as exc:
            return str(exc)
        finally:
            c.logout()

    assert answer in await asyncio.to_thread(session)


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
