"""IMAP4rev2 (RFC 9051) after ENABLE, next to IMAP4rev1."""

from __future__ import annotations

import imaplib
import ssl

from espace_sante.mailbox.imap.server import ImapListener

from .conftest import Mailbox
from .test_esearch_login import _open


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
    assert (await s.command("f ENABLE IMAP4rev2"))[0] == b"* ENABLED\r\n"  # already on
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
