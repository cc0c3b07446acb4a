"""CLOSE and UNSELECT (RFC 3501 §6.4.2, RFC 9051 §6.4.1, RFC 3691), and STORE and APPEND
against the limit of keywords per message (RFC 5530 LIMIT)."""

from __future__ import annotations

from espace_sante.mailbox.imap.mailstore import MAX_KEYWORDS

from .conftest import Mailbox
from .raw import Literal, RawOpener
from .test_sync_sessions import _session

LIMIT = f"[LIMIT] at most {MAX_KEYWORDS} keywords per message; nothing changed"


async def test_close_expunges_deleted_messages_silently(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 3501 §6.4.2: CLOSE removes the \\Deleted messages of a folder open read-write and
    sends no EXPUNGE; another session is told as of any expunge."""
    a = await _session(raw_imap, mailbox)
    b = await _session(raw_imap, mailbox)
    await a.command("b SELECT INBOX")
    await b.command("b SELECT INBOX")
    await a.command("c STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert (await a.command("d CLOSE")).lines == [b"d OK CLOSE completed\r\n"]
    assert (await a.command("e FETCH 1 (UID)")).lines[-1].startswith(b"e BAD")  # nothing selected
    assert b"* 1 EXISTS\r\n" in (await a.command("f SELECT INBOX")).lines
    assert (await a.command("g FETCH 1 (UID)")).lines[0] == b"* 1 FETCH (UID 2)\r\n"
    assert (await b.command("c NOOP")).lines == [b"* 1 EXPUNGE\r\n", b"c OK NOOP completed\r\n"]


async def test_close_after_examine_and_unselect_expunge_nothing(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 3501 §6.4.2: after EXAMINE, CLOSE removes nothing; UNSELECT never does
    (RFC 3691 §2)."""
    a = await _session(raw_imap, mailbox)
    await a.command("b SELECT INBOX")
    await a.command("c STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    assert (await a.command("d UNSELECT")).lines == [b"d OK UNSELECT completed\r\n"]
    await a.command("e EXAMINE INBOX")
    assert (await a.command("f CLOSE")).lines == [b"f OK CLOSE completed\r\n"]
    assert (await a.command("g STATUS INBOX (MESSAGES DELETED)")).lines[0] == (
        b'* STATUS "INBOX" (MESSAGES 2 DELETED 2)\r\n'
    )


async def test_store_past_the_keyword_limit_is_refused_and_changes_nothing(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """A message holds at most MAX_KEYWORDS keywords: one more is answered NO [LIMIT]
    (RFC 5530 §3) for the whole command, never dropped silently; system flags do not count
    and are never dropped."""
    keywords = " ".join(f"$k{n}" for n in range(MAX_KEYWORDS))
    a = await _session(raw_imap, mailbox)
    await a.command("b SELECT INBOX")
    assert (await a.command(f"c STORE 1 +FLAGS.SILENT ({keywords})")).lines[-1].startswith(b"c OK")
    assert (await a.command("d STORE 1:2 +FLAGS ($one-more \\Deleted)")).lines == [
        f"d NO {LIMIT}\r\n".encode()
    ]
    flags = (await a.command("e FETCH 1:2 (FLAGS)")).lines[:2]
    assert b"$one-more" not in flags[0] and b"\\Deleted" not in b"".join(flags)
    assert flags[1] == b"* 2 FETCH (FLAGS (\\Recent))\r\n"  # message 2 untouched as well
    system = "\\Seen \\Answered \\Flagged \\Deleted \\Draft"
    assert (await a.command(f"f STORE 1 +FLAGS.SILENT ({system})")).lines[-1].startswith(b"f OK")
    flags = (await a.command("g FETCH 1 (FLAGS)")).lines[0].decode()
    assert all(f in flags for f in system.split()) and flags.count("$k") == MAX_KEYWORDS
    replace = f"FLAGS (\\Seen {keywords} $extra)"
    assert (await a.command(f"h STORE 1 {replace}")).lines == [f"h NO {LIMIT}\r\n".encode()]
    assert (await a.command("i FETCH 1 (FLAGS)")).lines[0].decode() == flags
    assert (await a.command("j STORE 1 -FLAGS.SILENT ($k0)")).lines[-1].startswith(b"j OK")
    assert (await a.command("k STORE 1 +FLAGS.SILENT ($one-more)")).lines[-1].startswith(b"k OK")


async def test_append_past_the_keyword_limit_is_refused(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """APPEND with more keywords than a message may hold: NO [LIMIT], nothing stored (the
    flags were cut at 64, \\Deleted among them, before)."""
    note = Literal(b"Subject: x\r\n\r\ny\r\n")
    a = await _session(raw_imap, mailbox)
    too_many = " ".join(f"$k{n}" for n in range(MAX_KEYWORDS + 1))
    answer = (await a.command(f"b APPEND Drafts ({too_many} \\Deleted) ", note)).lines
    assert answer == [f"b NO {LIMIT}\r\n".encode()]
    assert (await a.command("c STATUS Drafts (MESSAGES)")).lines[
        0
    ] == b'* STATUS "Drafts" (MESSAGES 0)\r\n'
    enough = " ".join(f"$k{n}" for n in range(MAX_KEYWORDS))
    answer = (await a.command(f"d APPEND Drafts ({enough} \\Deleted) ", note)).lines
    assert answer[-1].startswith(b"d OK [APPENDUID")
    await a.command("e EXAMINE Drafts")
    flags = (await a.command("f FETCH 1 (FLAGS)")).lines[0].decode()
    assert "\\Deleted" in flags and flags.count("$k") == MAX_KEYWORDS
