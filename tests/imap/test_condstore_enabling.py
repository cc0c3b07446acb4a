"""CONDSTORE enabling commands (RFC 7162 §3.1): FETCH MODSEQ, FETCH CHANGEDSINCE, STORE
UNCHANGEDSINCE, SELECT/EXAMINE (CONDSTORE), STATUS (HIGHESTMODSEQ), ENABLE CONDSTORE; the
HIGHESTMODSEQ the first one reports; UID and MODSEQ in every FETCH that reports a flag change
afterwards (STORE, .SILENT, implicit \\Seen, other sessions). Dovecot is the oracle for the
order of the responses."""

from __future__ import annotations

import asyncio
import re
import ssl

import pytest

from espace_sante.mailbox.imap.server import ImapListener

from .conftest import Mailbox
from .raw import RawImap, connect


async def _session(imap: ImapListener, tls: ssl.SSLContext, mailbox: Mailbox) -> RawImap:
    s = await connect(imap.tls_port, tls)
    assert (
        (await s.command(f"l LOGIN {mailbox.address} {mailbox.password}"))
        .lines[-1]
        .startswith(b"l OK")
    )
    return s


def _highest(lines: list[bytes]) -> int:
    found = [int(m[1]) for line in lines if (m := re.search(rb"HIGHESTMODSEQ (\d+)", line))]
    assert len(found) == 1, lines
    return found[0]


async def test_fetch_modseq_enables_condstore_and_reports_highestmodseq_once(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    """RFC 7162 §3.1: FETCH … (MODSEQ) is a CONDSTORE enabling command; the first one sends
    ``* OK [HIGHESTMODSEQ n]`` for the selected mailbox (Dovecot: before the FETCH data), the
    next ones do not. Before it, STORE answers carry no MODSEQ."""
    s = await _session(imap, client_tls, mailbox)
    highest = _highest((await s.command("a SELECT INBOX")).lines)
    assert (await s.command("b STORE 1 +FLAGS (\\Flagged)")).lines == [
        b"* 1 FETCH (FLAGS (\\Flagged \\Recent))\r\n",
        b"b OK STORE completed\r\n",
    ]
    highest += 1
    first = (await s.command("c FETCH 1 (MODSEQ)")).lines
    assert first == [
        b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % highest,
        b"* 1 FETCH (MODSEQ (%d))\r\n" % highest,
        b"c OK FETCH completed\r\n",
    ]
    assert (await s.command("d FETCH 1 (FLAGS MODSEQ)")).lines == [
        b"* 1 FETCH (FLAGS (\\Flagged \\Recent) MODSEQ (%d))\r\n" % highest,
        b"d OK FETCH completed\r\n",
    ]
    # a plain FETCH of FLAGS answers what was asked, no MODSEQ added (as Dovecot)
    assert (await s.command("e FETCH 1 (FLAGS)")).lines[
        0
    ] == b"* 1 FETCH (FLAGS (\\Flagged \\Recent))\r\n"
    s.writer.close()


async def test_changedsince_enables_condstore(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    """RFC 7162 §3.1.4.1: FETCH (CHANGEDSINCE n) enables CONDSTORE (HIGHESTMODSEQ first) and
    adds MODSEQ to each message changed since n."""
    s = await _session(imap, client_tls, mailbox)
    highest = _highest((await s.command("a SELECT INBOX")).lines)
    assert (await s.command(f"b UID FETCH 1:* (FLAGS) (CHANGEDSINCE {highest - 1})")).lines == [
        b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % highest,
        b"* 2 FETCH (UID 2 FLAGS (\\Recent) MODSEQ (%d))\r\n" % highest,
        b"b OK UID FETCH completed\r\n",
    ]
    assert (await s.command(f"c FETCH 1:* (FLAGS) (CHANGEDSINCE {highest})")).lines == [
        b"c OK FETCH completed\r\n"
    ]
    s.writer.close()


async def test_store_answers_carry_uid_and_modseq_once_enabled(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    """RFC 7162 §3.1: after an enabling command, each untagged FETCH caused by STORE has UID
    and MODSEQ; with .SILENT, a FETCH with the MODSEQ alone (UID too for UID STORE) for each
    message that changed, none for one that did not (§3.1.3 example; Dovecot); a message that
    fails UNCHANGEDSINCE is only in MODIFIED (Dovecot)."""
    s = await _session(imap, client_tls, mailbox)
    assert (await s.command("a ENABLE CONDSTORE")).lines[0] == b"* ENABLED CONDSTORE\r\n"
    highest = _highest((await s.command("a SELECT INBOX")).lines)
    assert (await s.command("b STORE 1 +FLAGS (\\Flagged)")).lines == [
        b"* 1 FETCH (FLAGS (\\Flagged \\Recent) UID 1 MODSEQ (%d))\r\n" % (highest + 1),
        b"b OK STORE completed\r\n",
    ]
    assert (await s.command("c STORE 1:2 +FLAGS.SILENT (\\Flagged)")).lines == [
        b"* 2 FETCH (MODSEQ (%d))\r\n" % (highest + 2),
        b"c OK STORE completed\r\n",
    ]
    assert (await s.command("d UID STORE 1:2 -FLAGS.SILENT (\\Flagged)")).lines == [
        b"* 1 FETCH (UID 1 MODSEQ (%d))\r\n" % (highest + 3),
        b"* 2 FETCH (UID 2 MODSEQ (%d))\r\n" % (highest + 4),  # one modseq per message
        b"d OK UID STORE completed\r\n",
    ]
    assert (
        await s.command(f"e STORE 1:2 (UNCHANGEDSINCE {highest + 2}) +FLAGS (\\Seen)")
    ).lines == [b"e OK [MODIFIED 1:2] conditional STORE failed\r\n"]
    assert (
        await s.command(f"f UID STORE 1:2 (UNCHANGEDSINCE {highest + 4}) FLAGS (\\Seen)")
    ).lines == [
        b"* 1 FETCH (FLAGS (\\Seen \\Recent) UID 1 MODSEQ (%d))\r\n" % (highest + 5),
        b"* 2 FETCH (FLAGS (\\Seen \\Recent) UID 2 MODSEQ (%d))\r\n" % (highest + 6),
        b"f OK UID STORE completed\r\n",
    ]
    s.writer.close()


async def test_modified_lists_message_numbers_for_store_and_uids_for_uid_store(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    """RFC 7162 §3.1.3: the MODIFIED response code holds message sequence numbers after STORE
    and UIDs after UID STORE (here message 1 has UID 2)."""
    s = await _session(imap, client_tls, mailbox)
    await s.command("a SELECT INBOX (CONDSTORE)")
    await s.command("b STORE 1 +FLAGS (\\Deleted)")
    assert (await s.command("c EXPUNGE")).lines[0] == b"* 1 EXPUNGE\r\n"
    assert (await s.command("d STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Seen)")).lines == [
        b"d OK [MODIFIED 1] conditional STORE failed\r\n"
    ]
    assert (await s.command("e UID STORE 2 (UNCHANGEDSINCE 1) +FLAGS (\\Seen)")).lines == [
        b"e OK [MODIFIED 2] conditional STORE failed\r\n"
    ]
    s.writer.close()


async def test_store_unchangedsince_enables_condstore(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    """RFC 7162 §3.1: STORE (UNCHANGEDSINCE) is an enabling command: HIGHESTMODSEQ first."""
    s = await _session(imap, client_tls, mailbox)
    highest = _highest((await s.command("a SELECT INBOX")).lines)
    assert (await s.command(f"b STORE 2 (UNCHANGEDSINCE {highest}) +FLAGS (\\Answered)")).lines == [
        b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % highest,
        b"* 2 FETCH (FLAGS (\\Answered \\Recent) UID 2 MODSEQ (%d))\r\n" % (highest + 1),
        b"b OK STORE completed\r\n",
    ]
    s.writer.close()


async def test_other_sessions_changes_and_implicit_seen_carry_uid_and_modseq(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    """RFC 7162 §3.1: the FETCH that reports another session's flag change, and the one that
    reports the \\Seen a BODY[] fetch set, carry UID and MODSEQ once CONDSTORE is on (and not
    before: the other session did not enable it)."""
    a = await _session(imap, client_tls, mailbox)
    b = await _session(imap, client_tls, mailbox)
    highest = _highest((await a.command("a1 SELECT INBOX (CONDSTORE)")).lines)
    await b.command("b1 SELECT INBOX")
    assert (await b.command("b2 STORE 2 +FLAGS (\\Deleted)")).lines[0] == (
        b"* 2 FETCH (FLAGS (\\Deleted))\r\n"
    )
    assert (await a.command("a2 NOOP")).lines == [
        b"* 2 FETCH (FLAGS (\\Deleted \\Recent) UID 2 MODSEQ (%d))\r\n" % (highest + 1),
        b"a2 OK NOOP completed\r\n",
    ]
    fetched = (await a.command("a3 FETCH 1 (BODY[HEADER.FIELDS (SUBJECT)])")).lines  # sets \Seen
    assert fetched[-2:] == [
        b"* 1 FETCH (FLAGS (\\Seen \\Recent) UID 1 MODSEQ (%d))\r\n" % (highest + 2),
        b"a3 OK FETCH completed\r\n",
    ]
    assert (await b.command("b3 NOOP")).lines == [
        b"* 1 FETCH (FLAGS (\\Seen) UID 1)\r\n",
        b"b3 OK NOOP completed\r\n",
    ]
    a.writer.close()
    b.writer.close()


async def test_select_and_examine_condstore_parameter(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    """RFC 7162 §3.1.8: SELECT/EXAMINE mailbox (CONDSTORE), any case, enables CONDSTORE; the
    SELECT's own HIGHESTMODSEQ suffices (no second one); a later FETCH MODSEQ adds none."""
    s = await _session(imap, client_tls, mailbox)
    examined = (await s.command("a EXAMINE INBOX (condstore)")).lines
    assert examined[-1] == b"a OK [READ-ONLY] EXAMINE completed\r\n"
    highest = _highest(examined)
    fetched = (await s.command("b FETCH 1:* (MODSEQ)")).lines
    assert not any(b"HIGHESTMODSEQ" in line for line in fetched)
    assert _highest((await s.command("c SELECT INBOX")).lines) == highest
    assert (
        (await s.command("d STORE 1 +FLAGS (\\Draft)"))
        .lines[0]
        .endswith(b"UID 1 MODSEQ (%d))\r\n" % (highest + 1))
    )
    assert (await s.command("e SELECT INBOX (CONDSTORE NOPE)")).lines[-1].startswith(b"e BAD")
    s.writer.close()


async def test_enable_condstore(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    """RFC 5161 §3.1, RFC 9051 §7.2.1: ``* ENABLED CONDSTORE`` names it once however often it
    was asked, also when it was already on (as Dovecot); unknown names are ignored. Enabled
    with a mailbox selected, it first reports the mailbox's HIGHESTMODSEQ (Dovecot)."""
    s = await _session(imap, client_tls, mailbox)
    assert (await s.command("a ENABLE CONDSTORE")).lines == [
        b"* ENABLED CONDSTORE\r\n",
        b"a OK ENABLE completed\r\n",
    ]
    assert (await s.command("b ENABLE condstore NOSUCHTHING CONDSTORE")).lines == [
        b"* ENABLED CONDSTORE\r\n",
        b"b OK ENABLE completed\r\n",
    ]
    assert (await s.command("c ENABLE NOSUCHTHING")).lines == [
        b"* ENABLED\r\n",
        b"c OK ENABLE completed\r\n",
    ]
    other = await _session(imap, client_tls, mailbox)
    highest = _highest((await other.command("d SELECT INBOX")).lines)
    assert (await other.command("e ENABLE CONDSTORE")).lines == [
        b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % highest,
        b"* ENABLED CONDSTORE\r\n",
        b"e OK ENABLE completed\r\n",
    ]
    s.writer.close()
    other.writer.close()


async def test_status_highestmodseq_enables_condstore(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox
) -> None:
    """RFC 7162 §3.1, §3.1.6: STATUS (HIGHESTMODSEQ) answers the mailbox's highest modseq and
    is an enabling command: with a mailbox selected, its HIGHESTMODSEQ comes first."""
    s = await _session(imap, client_tls, mailbox)
    assert (await s.command("a CREATE Dossier")).lines[-1].startswith(b"a OK")
    highest = _highest((await s.command("b SELECT INBOX")).lines)
    status = (await s.command("c STATUS Dossier (HIGHESTMODSEQ MESSAGES)")).lines
    assert status[0] == b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % highest
    assert re.fullmatch(rb'\* STATUS "Dossier" \(HIGHESTMODSEQ \d+ MESSAGES 0\)\r\n', status[1])
    assert status[2:] == [b"c OK STATUS completed\r\n"]
    assert (
        (await s.command("d STORE 1 +FLAGS (\\Seen)"))
        .lines[0]
        .endswith(b"UID 1 MODSEQ (%d))\r\n" % (highest + 1))
    )
    s.writer.close()


# -- Dovecot as the oracle of the sequence of responses ------------------------------------

_SCRIPT = [
    ("a", "s1 SELECT INBOX"),
    ("a", "f1 FETCH 1 (FLAGS MODSEQ)"),
    ("a", "f2 FETCH 1 (FLAGS MODSEQ)"),
    ("a", "t1 STORE 1 +FLAGS (\\Flagged)"),
    ("a", "t2 STORE 1 +FLAGS.SILENT (\\Answered)"),
    ("a", "t3 UID STORE 1 -FLAGS.SILENT (\\Answered)"),
    ("a", "t4 STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Draft)"),
    ("b", "s2 SELECT INBOX"),
    ("b", "t5 STORE 2 +FLAGS (\\Deleted)"),
    ("a", "n1 NOOP"),
    ("b", "e1 ENABLE CONDSTORE"),
    ("b", "e2 ENABLE CONDSTORE"),
    ("b", "t6 UID STORE 2 -FLAGS (\\Deleted)"),
    ("a", "n2 NOOP"),
]


def _shape(line: bytes, by_uid: bool) -> str:
    """What must match between two servers: the kind of response, its status and response
    code, the data items of a FETCH (not their values; UID dropped outside UID commands since
    we add it where RFC 7162 §3.1 asks and Dovecot does not)."""
    text = line.decode().rstrip("\r\n")
    if m := re.match(r"\* (\d+) FETCH \((.*)\)$", text):
        names = set(re.findall(r"(?:^| )([A-Z.]+) [(\d]", m[2]))
        if not by_uid:
            names.discard("UID")
        return f"FETCH {m[1]} {' '.join(sorted(names))}"
    if m := re.match(r"\* OK \[HIGHESTMODSEQ \d+\]", text):
        return "HIGHESTMODSEQ"
    if text.startswith("* ENABLED"):
        return text[2:]
    if m := re.match(r"\S+ (OK|NO|BAD)(?: \[(MODIFIED [\d:,]+)\])?", text):
        return f"{m[1]} {m[2] or ''}".rstrip()
    return ""  # other untagged data: SELECT's, which differ (Dovecot's HIGHESTMODSEQ, RECENT)


async def _run(sessions: dict[str, RawImap]) -> list[list[str]]:
    answers = []
    for who, line in _SCRIPT:
        words = line.split()
        by_uid = words[1] == "UID"
        shapes = [_shape(r, by_uid) for r in (await sessions[who].command(line)).lines]
        if words[1] == "SELECT":
            shapes = shapes[-1:]
        answers.append([line, *(x for x in shapes if x)])
    return answers


@pytest.mark.peer
async def test_the_responses_follow_dovecots(
    imap: ImapListener, client_tls: ssl.SSLContext, mailbox: Mailbox, backend: str
) -> None:
    """The same CONDSTORE script against Dovecot 2.3 and us: the same responses in the same
    order (HIGHESTMODSEQ on the first enabling command only, MODSEQ in STORE answers and in
    the report of another session's change, MODSEQ-only FETCH for .SILENT, nothing but
    MODIFIED for a failed UNCHANGEDSINCE)."""
    if backend != "sqlite":
        pytest.skip("the protocol, not the database, is compared")
    from mailbox.dovecot_peer import Dovecot, available

    if not available():
        pytest.skip("Dovecot is not installed")
    peer = Dovecot()
    peer.add_messages(mailbox.messages)
    peer.start()
    try:
        theirs = {}
        for who in ("a", "b"):
            reader, writer = await asyncio.open_connection("127.0.0.1", peer.port)
            theirs[who] = RawImap(reader, writer, await reader.readline())
            await theirs[who].command(f"l LOGIN {peer.user} {peer.password}")
        expected = await _run(theirs)
    finally:
        peer.stop()
    ours = {who: await _session(imap, client_tls, mailbox) for who in ("a", "b")}
    assert await _run(ours) == expected
    for s in (*ours.values(), *theirs.values()):
        s.writer.close()
