"""SEARCH keys (table-driven, against the delivered corpus), ESEARCH (RFC 4731) and SEARCHRES
(RFC 5182), SEARCH and ESEARCH under IMAP4rev1 and IMAP4rev2, SORT (RFC 5256)."""

from __future__ import annotations

import asyncio
import imaplib
import ssl

import pytest

from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.storage.runtime import Storage
from fixtures.seed import Seeded

from .conftest import Mailbox, deliver, imaplib_client
from .raw import RawOpener

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# -- SEARCH ----------------------------------------------------------------------------------------

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
    ("NEW", "1 2"),  # just delivered: EXAMINE shows them \Recent, without taking it
]


async def test_search_keys(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    def session() -> list[tuple[str, str, str]]:
        c = imaplib_client(imap, client_tls, mailbox.address, mailbox.password)
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
        c = imaplib_client(imap, client_tls, mailbox.address, mailbox.password)
        c.select("INBOX", readonly=True)
        try:
            typ, data = c.search(None, criteria)
            return f"{typ} {data}"
        except imaplib.IMAP4.error as exc:
            return str(exc)
        finally:
            c.logout()

    assert answer in await asyncio.to_thread(session)


async def test_esearch_and_saved_results(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    s = await raw_imap()
    await s.login(mailbox.address, mailbox.password)
    await s.command("b SELECT INBOX")
    replies = (await s.command("c SEARCH RETURN (MIN MAX COUNT ALL) ALL")).lines
    assert replies[0] == b'* ESEARCH (TAG "c") MIN 1 MAX 2 COUNT 2 ALL 1:2\r\n'
    replies = (await s.command("d UID SEARCH RETURN (COUNT) SUBJECT ordonnance")).lines
    assert replies[0] == b'* ESEARCH (TAG "d") UID COUNT 1\r\n'
    replies = (await s.command("e SEARCH RETURN () NOT ALL")).lines
    assert replies[0] == b'* ESEARCH (TAG "e")\r\n'
    # SAVE alone answers nothing; "$" then names the result in FETCH, STORE and SEARCH
    replies = (await s.command("f SEARCH RETURN (SAVE) SUBJECT ordonnance")).lines
    assert replies[0].startswith(b"f OK")
    fetched = (await s.command("g FETCH $ (UID)")).lines
    assert [r for r in fetched if r.startswith(b"* ")] == [b"* 2 FETCH (UID 2)\r\n"]
    stored = (await s.command("h STORE $ +FLAGS (\\Flagged)")).lines
    assert stored[0].startswith(b"* 2 FETCH (FLAGS (\\Flagged \\Recent)")
    assert (await s.command("i SEARCH UID $")).lines[0] == b"* SEARCH 2\r\n"
    assert (await s.command("j SEARCH RETURN (BOGUS) ALL")).tagged.startswith(b"j BAD")


async def test_search_under_rev1_and_esearch_under_rev2(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """IMAP4rev1 gets SEARCH; once IMAP4rev2 is enabled SEARCH answers ESEARCH (ALL by default),
    with or without matches."""
    s = await raw_imap()
    await s.login(mailbox.address, mailbox.password, tag="b")
    await s.command("c SELECT INBOX")
    assert (await s.command("d SEARCH ALL")).lines[0] == b"* SEARCH 1 2\r\n"
    await s.command("e ENABLE IMAP4rev2")
    await s.command("g SELECT INBOX")
    assert (await s.command("h SEARCH ALL")).lines[0] == b'* ESEARCH (TAG "h") ALL 1:2\r\n'
    assert (await s.command("i UID SEARCH SUBJECT ordonnance")).lines[0] == (
        b'* ESEARCH (TAG "i") UID ALL 2\r\n'
    )
    assert (await s.command("j SEARCH NOT ALL")).lines[0] == b'* ESEARCH (TAG "j")\r\n'


# -- SORT ------------------------------------------------------------------------------------------

MESSAGES = [  # (from, date, subject, padding)
    ("zoe@ch.fr", "Mon, 02 Nov 2026 10:00:00 +0100", "Re: [CR] Bilan", 10),
    ("Alice <alice@ch.fr>", "Sun, 01 Nov 2026 10:00:00 +0100", "Analyse", 3000),
    ("bob@ch.fr", "Tue, 03 Nov 2026 10:00:00 +0100", "Fwd: compte rendu", 500),
]


async def test_sort_orders(
    raw_imap: RawOpener, mailbox: Mailbox, storage: Storage, seeded: Seeded
) -> None:
    for sender, date, subject, pad in MESSAGES:
        raw = (
            f"From: {sender}\r\nTo: {mailbox.address}\r\nDate: {date}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{pad}@ch.fr>\r\n\r\n{'x' * pad}\r\n"
        ).encode()
        await deliver(storage, seeded, raw)
    # the mailbox now holds the 2 fixture messages (1, 2) and these three (3, 4, 5)
    c = await raw_imap()
    await c.login(mailbox.address, mailbox.password, tag="a1")
    await c.command("a2 EXAMINE INBOX")

    async def sort(criteria: str, keys: str = "UID 3:*") -> bytes:
        replies = (await c.command(f"s SORT ({criteria}) UTF-8 {keys}")).lines
        assert replies[-1].startswith(b"s OK"), replies
        return next(r for r in replies if r.startswith(b"* SORT")).strip()

    assert await sort("DATE") == b"* SORT 4 3 5"
    assert await sort("REVERSE DATE") == b"* SORT 5 3 4"
    assert await sort("FROM") == b"* SORT 4 5 3"  # alice, bob, zoe (local parts)
    assert await sort("SUBJECT") == b"* SORT 4 3 5"  # analyse, bilan, compte rendu
    assert await sort("SIZE") == b"* SORT 3 5 4"
    by_size = (await sort("REVERSE SIZE", "ALL")).split()[2:]
    assert len(by_size) == 5 and by_size[-1] == b"3"  # the 10-byte message is the smallest
    uid_sort = (await c.command("u UID SORT (FROM) UTF-8 FROM bob")).lines
    assert uid_sort[0].strip() == b"* SORT 5"
    for bad in ("s1 SORT () UTF-8 ALL", "s2 SORT (REVERSE) UTF-8 ALL", "s3 SORT (COLOR) UTF-8 ALL"):
        assert (await c.command(bad)).tagged.split()[1] == b"BAD"
    assert b"BADCHARSET" in (await c.command("s4 SORT (DATE) KOI8-R ALL")).tagged
