"""SELECT and EXAMINE (their answers under IMAP4rev1 and IMAP4rev2), STATUS (with SIZE and
DELETED). STATUS after writes: test_writes; LIST-STATUS: test_folders; SELECT (CONDSTORE):
test_condstore."""

from __future__ import annotations

from .conftest import Mailbox
from .raw import RawOpener


async def test_select_under_rev1_then_under_rev2(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    s = await raw_imap()
    await s.login(mailbox.address, mailbox.password, tag="b")
    rev1 = (await s.command("c SELECT INBOX")).lines
    assert b"* 2 RECENT\r\n" in rev1  # delivered, never selected before
    assert any(r.startswith(b"* OK [UNSEEN 1]") for r in rev1)
    await s.command("e ENABLE IMAP4rev2")
    rev2 = (await s.command("g SELECT INBOX")).lines
    assert rev2[0] == b"* OK [CLOSED] previous mailbox closed\r\n"
    assert b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n' in rev2
    assert not any(b"RECENT" in r or b"[UNSEEN" in r for r in rev2)
    for needed in (b"EXISTS", b"FLAGS", b"[PERMANENTFLAGS", b"[UIDVALIDITY", b"[UIDNEXT"):
        assert any(needed in r for r in rev2), needed


async def test_examine_is_read_only_and_missing_mailboxes_do_not_exist(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    s = await raw_imap()
    await s.login(mailbox.address, mailbox.password)
    examined = await s.command("b EXAMINE INBOX")
    assert examined.tagged.startswith(b"b OK [READ-ONLY]")
    assert b"* 2 EXISTS\r\n" in examined.untagged
    assert b"* OK [PERMANENTFLAGS ()] flags\r\n" in examined.untagged
    assert (await s.command("c SELECT INBOX")).tagged.startswith(b"c OK [READ-WRITE]")
    assert (await s.command("d SELECT Nope")).tagged.startswith(b"d NO [NONEXISTENT]")
    assert (await s.command("e STATUS Nope (MESSAGES)")).tagged.startswith(b"e NO [NONEXISTENT]")
    assert (await s.command("f STATUS INBOX (COLOR)")).tagged.startswith(b"f BAD")
    status = await s.command("g STATUS INBOX (MESSAGES UNSEEN)")
    assert status.untagged == [b'* STATUS "INBOX" (MESSAGES 2 UNSEEN 2)\r\n']


async def test_status_size_and_deleted(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    s = await raw_imap()
    await s.login(mailbox.address, mailbox.password, tag="b")
    await s.command("e ENABLE IMAP4rev2")
    await s.command("g SELECT INBOX")
    status = (await s.command("k STATUS INBOX (MESSAGES SIZE DELETED)")).lines
    assert status[0].startswith(b'* STATUS "INBOX" (MESSAGES 2 SIZE ')
    assert status[0].endswith(b" DELETED 0)\r\n")
    await s.command("l STORE 1 +FLAGS (\\Deleted)")
    assert b"DELETED 1)" in (await s.command("m STATUS INBOX (DELETED)")).lines[0]
