"""The FLAGS response (RFC 3501 §7.2.6, RFC 9051 §7.3.5): SELECT lists the folder's keywords,
and a keyword new to the folder comes with a new FLAGS and PERMANENTFLAGS before any FETCH that
shows it, whoever set it."""

from __future__ import annotations

from .conftest import Mailbox
from .raw import Literal, RawOpener
from .test_sync_sessions import _session

SYSTEM = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"


def _flags(*keywords: str, readonly: bool = False) -> list[bytes]:
    listed = " ".join([SYSTEM, *keywords])
    permanent = "" if readonly else f"{listed} \\*"
    return [
        f"* FLAGS ({listed})\r\n".encode(),
        f"* OK [PERMANENTFLAGS ({permanent})] flags\r\n".encode(),
    ]


async def test_store_of_a_new_keyword_announces_it_first(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """The session that stores a new keyword gets FLAGS and PERMANENTFLAGS before its FETCH;
    a keyword already known is not announced again; a later SELECT lists it (as Dovecot
    does), EXAMINE with an empty PERMANENTFLAGS."""
    a = await _session(raw_imap, mailbox)
    selected = (await a.command("b SELECT INBOX")).lines
    assert _flags()[0] in selected and _flags()[1] in selected
    assert (await a.command("c STORE 1 +FLAGS ($Important)")).lines == [
        *_flags("$Important"),
        b"* 1 FETCH (FLAGS (\\Recent $Important))\r\n",
        b"c OK STORE completed\r\n",
    ]
    assert (await a.command("d STORE 2 +FLAGS ($Important \\Seen)")).lines == [
        b"* 2 FETCH (FLAGS (\\Seen \\Recent $Important))\r\n",
        b"d OK STORE completed\r\n",
    ]
    assert (await a.command("e STORE 2 +FLAGS.SILENT ($Later)")).lines == [
        *_flags("$Important", "$Later"),
        b"e OK STORE completed\r\n",
    ]
    selected = (await a.command("f SELECT INBOX")).lines
    assert all(line in selected for line in _flags("$Important", "$Later"))
    examined = (await a.command("g EXAMINE INBOX")).lines
    assert all(line in examined for line in _flags("$Important", "$Later", readonly=True))


async def test_a_keyword_set_elsewhere_is_announced_before_its_fetch(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """Another session's STORE or APPEND: FLAGS and PERMANENTFLAGS come before the FETCH (or
    the EXISTS of the appended message), to read-write and read-only sessions alike."""
    a = await _session(raw_imap, mailbox)
    b = await _session(raw_imap, mailbox)
    c = await _session(raw_imap, mailbox)
    await a.command("b SELECT INBOX")
    await b.command("b SELECT INBOX")
    await c.command("b EXAMINE INBOX")
    await a.command("c STORE 1 +FLAGS.SILENT ($Urgent)")
    assert (await b.command("c NOOP")).lines == [
        *_flags("$Urgent"),
        b"* 1 FETCH (FLAGS ($Urgent) UID 1)\r\n",
        b"c OK NOOP completed\r\n",
    ]
    assert (await c.command("c FETCH 2 (UID)")).lines == [
        b"* 2 FETCH (UID 2)\r\n",
        *_flags("$Urgent", readonly=True),
        b"* 1 FETCH (FLAGS ($Urgent) UID 1)\r\n",
        b"c OK FETCH completed\r\n",
    ]
    await a.command("d APPEND INBOX ($Todo) ", Literal(b"Subject: x\r\n\r\ny\r\n"))
    assert (await b.command("d NOOP")).lines == [
        *_flags("$Urgent", "$Todo"),
        b"* 3 EXISTS\r\n",
        b"d OK NOOP completed\r\n",
    ]
    assert (await b.command("e FETCH 3 (FLAGS)")).lines[0] == b"* 3 FETCH (FLAGS ($Todo))\r\n"
