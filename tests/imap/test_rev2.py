"""IMAP4rev2 (RFC 9051) after ENABLE, next to IMAP4rev1; mailbox names in modified UTF-7 / UTF-8."""

from __future__ import annotations

import imaplib
import ssl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from espace_sante.mailbox.imap import mutf7
from espace_sante.mailbox.imap.server import ImapListener

from .conftest import Mailbox
from .test_esearch_login import _open

# -- the modified UTF-7 codec ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unicode", "wire"),
    [
        ("INBOX", "INBOX"),
        ("Résultats", "R&AOk-sultats"),
        ("Santé & co", "Sant&AOk- &- co"),
        ("日本語", "&ZeVnLIqe-"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501 §5.1.3
        ("😀", "&2D3eAA-"),
    ],
)
def test_known_names(unicode: str, wire: str) -> None:
    assert mutf7.encode(unicode) == wire
    assert mutf7.decode(wire) == unicode


@pytest.mark.parametrize(
    "bad",
    [
        "&AOk",  # unterminated
        "&A-",  # one base64 character is no UTF-16 unit
        "&AEE-",  # "A" encoded: printable ASCII must stand for itself
        "&AOk/-",  # "/" is not in the modified alphabet
        "Ré",  # 8-bit in a rev1 name
        "a\x01b",
    ],
)
def test_malformed_names_are_refused(bad: str) -> None:
    with pytest.raises(mutf7.MUtf7Error):
        mutf7.decode(bad)


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_round_trip(name: str) -> None:
    wire = mutf7.encode(name)
    assert wire.isascii()
    assert mutf7.decode(wire) == name


# -- over the wire -------------------------------------------------------------------------------


async def test_capability_and_enable(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    s = await _open(imap, client_tls)
    caps = (await s.command("a CAPABILITY"))[0].split()
    assert b"IMAP4rev1" in caps and b"IMAP4rev2" in caps
    await s.command(f"b LOGIN {mailbox.address} {mailbox.password}")
    rev1 = await s.command("c SELECT INBOX")
    assert b"* 0 RECENT\r\n" in rev1
    assert any(r.startswith(b"* OK [UNSEEN 1]") for r in rev1)
    assert (await s.command("d SEARCH ALL"))[0] == b"* SEARCH 1 2\r\n"
    assert (await s.command("e ENABLE IMAP4rev2 NOSUCHTHING"))[0] == b"* ENABLED IMAP4rev2\r\n"
    # already on: still listed (RFC 9051 §7.2.1, as Dovecot)
    assert (await s.command("f ENABLE IMAP4rev2"))[0] == b"* ENABLED IMAP4rev2\r\n"
    rev2 = await s.command("g SELECT INBOX")
    assert rev2[0] == b"* OK [CLOSED] previous mailbox closed\r\n"
    assert b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n' in rev2
    assert not any(b"RECENT" in r or b"[UNSEEN" in r for r in rev2)
    for needed in (b"EXISTS", b"FLAGS", b"[PERMANENTFLAGS", b"[UIDVALIDITY", b"[UIDNEXT"):
        assert any(needed in r for r in rev2), needed
    # SEARCH answers ESEARCH (ALL by default), with or without matches
    assert (await s.command("h SEARCH ALL"))[0] == b'* ESEARCH (TAG "h") ALL 1:2\r\n'
    assert (await s.command("i UID SEARCH SUBJECT ordonnance"))[0] == (
        b'* ESEARCH (TAG "i") UID ALL 2\r\n'
    )
    assert (await s.command("j SEARCH NOT ALL"))[0] == b'* ESEARCH (TAG "j")\r\n'
    status = await s.command("k STATUS INBOX (MESSAGES SIZE DELETED)")
    assert status[0].startswith(b'* STATUS "INBOX" (MESSAGES 2 SIZE ')
    assert status[0].endswith(b" DELETED 0)\r\n")
    await s.command("l STORE 1 +FLAGS (\\Deleted)")
    assert b"DELETED 1)" in (await s.command("m STATUS INBOX (DELETED)"))[0]
    s.writer.close()


async def test_names_are_modified_utf7_for_rev1_and_utf8_for_rev2(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    rev1 = await _open(imap, client_tls)
    await rev1.command(f"a LOGIN {mailbox.address} {mailbox.password}")
    assert (await rev1.command("b CREATE R&AOk-sultats/Biologie"))[-1].startswith(b"b OK")
    listed = await rev1.command('c LIST "" "R*"')
    assert b'* LIST (\\HasChildren) "/" "R&AOk-sultats"\r\n' in listed
    assert b'* LIST (\\HasNoChildren) "/" "R&AOk-sultats/Biologie"\r\n' in listed
    assert (await rev1.command("d CREATE &AOk"))[-1].startswith(b"d BAD")
    assert (await rev1.command("e SELECT R&AOk-sultats/Biologie"))[-1].startswith(b"e OK")

    rev2 = await _open(imap, client_tls)
    await rev2.command(f"a LOGIN {mailbox.address} {mailbox.password}")
    await rev2.command("b ENABLE IMAP4rev2")
    listed = await rev2.command('c LIST "" "R*"')
    assert '* LIST (\\HasChildren) "/" "Résultats"\r\n'.encode() in listed
    status = await rev2.command('d STATUS "Résultats/Biologie" (MESSAGES)')
    assert status[0] == '* STATUS "Résultats/Biologie" (MESSAGES 0)\r\n'.encode()
    # the same folder, whichever way it was named
    assert (await rev2.command('e CREATE "Résultats"'))[-1].startswith(b"e NO")
    assert (await rev2.command('f RENAME "Résultats" "Comptes rendus"'))[-1].startswith(b"f OK")
    listed = await rev1.command('g LIST "" "*"')
    assert b'* LIST (\\HasNoChildren) "/" "Comptes rendus/Biologie"\r\n' in listed
    rev1.writer.close()
    rev2.writer.close()


async def test_imaplib_still_speaks_rev1(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    """Python's imaplib never enables IMAP4rev2: it must keep getting SEARCH and RECENT."""

    def run() -> tuple[list[bytes], list[bytes]]:
        with imaplib.IMAP4_SSL("127.0.0.1", imap.tls_port, ssl_context=client_tls) as c:
            c.login(mailbox.address, mailbox.password)
            c.select("INBOX")
            recent = c.response("RECENT")[1]
            _, found = c.search(None, "ALL")
            return recent, found

    import asyncio

    recent, found = await asyncio.to_thread(run)
    assert recent == [b"0"]
    assert found == [b"1 2"]
