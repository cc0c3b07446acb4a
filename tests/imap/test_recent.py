"""\\Recent (RFC 3501 §2.3.2): a message is recent for exactly one session, the first to
select its folder after it arrived; EXAMINE shows it without taking it; IMAP4rev2 has none.
Checked against Dovecot on the same commands."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from mailbox.dovecot_peer import Dovecot, available

import pytest

from espace_sante.storage.runtime import Storage
from fixtures.mssante import clinician_message
from fixtures.seed import DOCTOR, Seeded

from .conftest import Mailbox, deliver
from .raw import Literal, RawImap, RawOpener
from .test_sync_sessions import _session

NOTE = b"From: moi@example.org\r\nSubject: note\r\n\r\nune note\r\n"


async def test_select_takes_the_recent_status_and_examine_does_not(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 3501 §6.3.2: EXAMINE must not take \\Recent away; the SELECT that follows gets it,
    every later session sees the messages as old, also after the first one logs out."""
    c = await _session(raw_imap, mailbox)
    assert b"* 2 RECENT\r\n" in (await c.command("b EXAMINE INBOX")).lines
    assert (await c.command("c FETCH 1:* (FLAGS)")).lines == [
        b"* 1 FETCH (FLAGS (\\Recent))\r\n",
        b"* 2 FETCH (FLAGS (\\Recent))\r\n",
        b"c OK FETCH completed\r\n",
    ]
    assert (await c.command("d SEARCH RECENT")).lines == [
        b"* SEARCH 1 2\r\n",
        b"d OK SEARCH completed\r\n",
    ]
    assert (await c.command("e CLOSE")).lines[-1].startswith(b"e OK")
    assert (await c.command("f STATUS INBOX (RECENT MESSAGES)")).lines[0] == (
        b'* STATUS "INBOX" (RECENT 2 MESSAGES 2)\r\n'
    )
    a = await _session(raw_imap, mailbox)
    assert b"* 2 RECENT\r\n" in (await a.command("b SELECT INBOX")).lines
    assert (await a.command("c STATUS INBOX (RECENT)")).lines[
        0
    ] == b'* STATUS "INBOX" (RECENT 2)\r\n'
    b = await _session(raw_imap, mailbox)
    assert b"* 0 RECENT\r\n" in (await b.command("b SELECT INBOX")).lines
    assert (await b.command("c FETCH 1 (FLAGS)")).lines[0] == b"* 1 FETCH (FLAGS ())\r\n"
    assert (await c.command("g STATUS INBOX (RECENT)")).lines[
        0
    ] == b'* STATUS "INBOX" (RECENT 0)\r\n'
    await a.command("z LOGOUT")
    d = await _session(raw_imap, mailbox)
    assert (
        b"* 0 RECENT\r\n" in (await d.command("b SELECT INBOX")).lines
    )  # kept in the folder's row


async def test_a_new_message_is_recent_for_one_session_only(
    raw_imap: RawOpener,
    mailbox: Mailbox,
    storage: Storage,
    seeded: Seeded,
) -> None:
    """RFC 3501 §7.3.2, §7.4.1: a delivery reaches both sessions with EXISTS; the first that
    is told takes it, and reports RECENT with EXISTS; the other sees it as old."""
    a = await _session(raw_imap, mailbox)
    b = await _session(raw_imap, mailbox)
    await a.command("b SELECT INBOX")
    await b.command("b SELECT INBOX")
    await deliver(storage, seeded, clinician_message(sender=DOCTOR, patient_ins=seeded.active.ins))
    assert (await b.command("c NOOP")).lines == [
        b"* 3 EXISTS\r\n",
        b"* 1 RECENT\r\n",
        b"c OK NOOP completed\r\n",
    ]
    assert (await a.command("c NOOP")).lines == [b"* 3 EXISTS\r\n", b"c OK NOOP completed\r\n"]
    assert (await a.command("d FETCH 3 (FLAGS)")).lines[0] == b"* 3 FETCH (FLAGS ())\r\n"
    assert (await b.command("d FETCH 3 (FLAGS)")).lines[0] == b"* 3 FETCH (FLAGS (\\Recent))\r\n"
    assert (await a.command("e SEARCH RECENT")).lines[0] == b"* SEARCH 1 2\r\n"
    assert (await b.command("e SEARCH RECENT")).lines[0] == b"* SEARCH 3\r\n"


async def test_copy_and_append_into_the_selected_folder_report_recent(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """COPY and APPEND into the folder a session has selected: EXISTS then RECENT (as Dovecot
    answers), \\Recent in FETCH FLAGS, and the same for a session that has the destination
    open."""
    a = await _session(raw_imap, mailbox)
    other = await _session(raw_imap, mailbox)
    await a.command("b SELECT INBOX")
    await other.command("b SELECT Archive")
    copied = (await a.command("c COPY 1 INBOX")).lines
    assert copied[:2] == [b"* 3 EXISTS\r\n", b"* 3 RECENT\r\n"]
    assert re.fullmatch(rb"c OK \[COPYUID \d+ 1 3\] COPY completed\r\n", copied[2])
    appended = (await a.command("d APPEND INBOX (\\Seen) ", Literal(NOTE))).lines
    assert appended[:2] == [b"* 4 EXISTS\r\n", b"* 4 RECENT\r\n"]
    assert (await a.command("e FETCH 3:4 (FLAGS)")).lines[:2] == [
        b"* 3 FETCH (FLAGS (\\Recent))\r\n",
        b"* 4 FETCH (FLAGS (\\Seen \\Recent))\r\n",
    ]
    await a.command("f COPY 2 Archive")
    assert (await other.command("c NOOP")).lines == [
        b"* 1 EXISTS\r\n",
        b"* 1 RECENT\r\n",
        b"c OK NOOP completed\r\n",
    ]


async def test_search_new_and_old(raw_imap: RawOpener, mailbox: Mailbox) -> None:
    """RFC 3501 §6.4.4: NEW is RECENT UNSEEN, OLD is NOT RECENT, for this session's \\Recent.
    \\Recent cannot be stored (Dovecot: BAD), and an expunge that removes a recent message
    reports the new RECENT count."""
    a = await _session(raw_imap, mailbox)
    b = await _session(raw_imap, mailbox)
    await a.command("b SELECT INBOX")
    await b.command("b SELECT INBOX")
    await a.command("c STORE 1 +FLAGS.SILENT (\\Seen)")
    for command, answer in [
        ("SEARCH RECENT", b"* SEARCH 1 2"),
        ("SEARCH NEW", b"* SEARCH 2"),
        ("SEARCH OLD", b"* SEARCH"),
        ("SEARCH NOT NEW", b"* SEARCH 1"),
        ("UID SEARCH OR NEW SEEN", b"* SEARCH 1 2"),
    ]:
        assert (await a.command(f"d {command}")).lines[0] == answer + b"\r\n", command
    assert (await b.command("c SEARCH OLD")).lines[0] == b"* SEARCH 1 2\r\n"
    assert (await b.command("d SEARCH NEW")).lines[0] == b"* SEARCH\r\n"
    assert (await a.command("e STORE 1 +FLAGS (\\Recent)")).lines[-1].startswith(b"e BAD")
    await a.command("f STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert (await a.command("g EXPUNGE")).lines == [
        b"* 1 EXPUNGE\r\n",
        b"* 1 RECENT\r\n",
        b"g OK EXPUNGE completed\r\n",
    ]


async def test_an_imap4rev2_session_has_no_recent_and_leaves_it_to_others(
    raw_imap: RawOpener, mailbox: Mailbox
) -> None:
    """RFC 9051 dropped \\Recent: no RECENT response, no \\Recent flag, and its SELECT takes
    nothing from an IMAP4rev1 client that comes later."""
    v2 = await _session(raw_imap, mailbox)
    await v2.command("b ENABLE IMAP4rev2")
    assert not any(b"RECENT" in line for line in (await v2.command("c SELECT INBOX")).lines)
    assert (await v2.command("d FETCH 1 (FLAGS)")).lines[0] == b"* 1 FETCH (FLAGS ())\r\n"
    appended = (await v2.command("e APPEND INBOX ", Literal(NOTE))).lines
    assert appended[0] == b"* 3 EXISTS\r\n" and appended[1].startswith(b"e OK [APPENDUID")
    v1 = await _session(raw_imap, mailbox)
    assert b"* 3 RECENT\r\n" in (await v1.command("b SELECT INBOX")).lines


# -- the same commands on Dovecot ------------------------------------------------------------

#: (session, command): three sessions on the INBOX of two messages no one has opened yet.
SCRIPT = [
    ("c", "EXAMINE INBOX"),
    ("c", "FETCH 1:* (FLAGS)"),
    ("a", "SELECT INBOX"),
    ("b", "SELECT INBOX"),
    ("d", "STATUS INBOX (RECENT MESSAGES)"),
    ("b", "APPEND INBOX (\\Seen $Label) "),  # NOTE as a literal
    ("a", "NOOP"),
    ("a", "COPY 1 INBOX"),
    ("a", "FETCH 1:* (FLAGS)"),
    ("a", "SEARCH RECENT"),
    ("a", "SEARCH NEW"),
    ("a", "SEARCH OLD"),
    ("b", "NOOP"),
    ("b", "FETCH 1:* (FLAGS)"),
    ("b", "SEARCH OLD"),
    ("a", "STORE 2 +FLAGS ($Other)"),
    ("b", "NOOP"),
    ("c", "NOOP"),
    ("c", "FETCH 1:* (FLAGS)"),
    ("a", "STORE 1 +FLAGS.SILENT (\\Deleted)"),
    ("a", "EXPUNGE"),
    ("a", "CLOSE"),
    ("d", "STATUS INBOX (RECENT MESSAGES)"),
    ("d", "SELECT INBOX"),
]


def _normalise(lines: list[bytes]) -> list[str]:
    """The untagged answers that are about \\Recent, sizes and flags, in a comparable form:
    texts after response codes, UIDVALIDITY-bound values and the tagged line's text dropped,
    unsolicited FETCH without its UID; sorted (the order of a SELECT's lines differs)."""
    out = []
    for raw in lines:
        line = raw.decode().rstrip("\r\n")
        if re.match(r"\S+ (OK|NO|BAD)", line) and not line.startswith("*"):
            out.append("tagged " + line.split()[1])
            continue
        if re.match(r"\* OK \[(UIDVALIDITY|UIDNEXT|HIGHESTMODSEQ|UNSEEN)", line):
            continue
        line = re.sub(r"^(\* OK \[[^\]]*\]).*", r"\1", line)
        line = re.sub(r"^(\* \d+ FETCH \(FLAGS \([^)]*\)) UID \d+\)", r"\1)", line)
        if status := re.fullmatch(r'\* STATUS "?INBOX"? \((.*)\)', line):
            pairs = re.findall(r"\S+ \S+", status[1])
            line = f"* STATUS INBOX ({' '.join(sorted(pairs))})"
        out.append(line)
    return sorted(out)


async def _run(sessions: dict[str, RawImap]) -> list[tuple[str, str, list[str]]]:
    answers = []
    for n, (who, command) in enumerate(SCRIPT):
        parts: list[str | Literal] = [f"t{n} {command}"]
        if command.startswith("APPEND"):
            parts.append(Literal(NOTE))
        answer = await sessions[who].command(*parts)
        answers.append((who, command, _normalise(answer.lines)))
    return answers


@pytest.fixture
def dovecot(mailbox: Mailbox) -> Iterator[Dovecot]:
    if not available():
        message = "Debian's dovecot-imapd is not installed (make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    peer = Dovecot()
    peer.add_messages(mailbox.messages)
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


async def test_recent_and_keywords_as_dovecot_answers(
    raw_imap: RawOpener, mailbox: Mailbox, dovecot: Dovecot
) -> None:
    """Dovecot 2.3 as the oracle for what RFC 3501 leaves open: who gets \\Recent, when
    RECENT and FLAGS are sent, what EXAMINE shows, STATUS RECENT."""
    ours = {who: await _session(raw_imap, mailbox) for who in "abcd"}
    theirs: dict[str, RawImap] = {}
    for who in "abcd":  # Dovecot's plain-text port
        reader, writer = await asyncio.open_connection("127.0.0.1", dovecot.port)
        theirs[who] = RawImap(reader, writer, await reader.readline())
        await theirs[who].login(dovecot.user, dovecot.password)
    expected, got = await _run(theirs), await _run(ours)
    for (who, command, want), (_, _, answer) in zip(expected, got, strict=True):
        assert answer == want, f"{who}: {command}"
    for s in theirs.values():
        s.close()
