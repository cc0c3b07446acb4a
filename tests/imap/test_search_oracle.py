"""SEARCH and SORT answers against Dovecot's on the same messages (search_corpus): the address
keys (RFC 3501 §6.4.4: every address, display names, comments, groups, encoded words), BODY
against TEXT, decoded bodies, the RFC 5256 sort keys and base subjects, RFC 5957 DISPLAY sorts.
Where RFC 3501 leaves matching to the server ("substring, case-insensitive"), Dovecot is the
reference."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from mailbox.dovecot_peer import Dovecot, available  # tests/mailbox (tests is on the path)

import pytest

from .conftest import Mailbox
from .raw import Literal, RawOpener
from .search_corpus import ADDRESSED, SEARCHES, SORTS, SUBJECTED, wire

#: ESEARCH and ESORT (RFC 4731, RFC 5267) with SEARCHRES (RFC 5182), in this order.
ESEARCHES = [
    "SORT RETURN (ALL) (FROM) UTF-8 ALL",  # ALL in the sort order
    "SORT RETURN () (REVERSE DATE) UTF-8 ALL",
    "UID SORT RETURN (ALL MIN) (SUBJECT) UTF-8 ALL",
    "SORT RETURN (MIN MAX COUNT) (FROM) UTF-8 ALL",  # the first and last sorted
    "SORT RETURN (COUNT) (FROM) UTF-8 NOT ALL",
    "SORT RETURN (SAVE MAX) (FROM) UTF-8 ALL",  # SAVE keeps the MAX only
    "SEARCH $",
    "SEARCH RETURN (SAVE MIN MAX) 2:5",
    "SEARCH $",
    "SEARCH RETURN (SAVE MIN COUNT) 2:5",  # ... but everything with COUNT
    "SEARCH $",
    "SEARCH RETURN (MIN MAX ALL) OR FROM dupont TO durand",  # (the order of items is free)
]

pytestmark = pytest.mark.peer

#: Each folder's commands: (folder, messages, commands).
FOLDERS = [
    (
        "Search",
        ADDRESSED,
        [b"SEARCH " + wire(s) for s in SEARCHES]
        + [b"SORT " + wire(s) for s in SORTS]
        + [c.encode() for c in ESEARCHES],
    ),
    (
        "Subjects",
        SUBJECTED,
        [
            b"SORT (SUBJECT) UTF-8 ALL",
            b"SORT (REVERSE SUBJECT) UTF-8 ALL",
            b"SORT (SUBJECT REVERSE DATE) US-ASCII ALL",
            b'SEARCH SUBJECT ""',
            b"SEARCH SUBJECT re",
        ],
    ),
]


def _answer(lines: list[bytes]) -> bytes:
    """The SEARCH or SORT response and the tagged status, without the status text."""
    data = [ln.strip() for ln in lines if ln.startswith((b"* SEARCH", b"* SORT", b"* ESEARCH"))]
    status = lines[-1].split(b" ")[1]
    return b" | ".join([*data, status])


def _dovecot_session(port: int, user: str, commands: list[bytes]) -> list[bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        stream = sock.makefile("rb")
        stream.readline()

        def command(tag: bytes, line: bytes) -> list[bytes]:
            sock.sendall(tag + b" " + line + b"\r\n")
            out = []
            while not (out and out[-1].startswith(tag + b" ")):
                out.append(stream.readline())
            return out

        command(b"l", f"LOGIN {user} secret".encode())
        command(b"s", b"SELECT INBOX")
        return [_answer(command(b"c%d" % i, line)) for i, line in enumerate(commands)]


@pytest.fixture(scope="module")
def dovecot_answers() -> Iterator[dict[bytes, bytes]]:
    if not available():
        message = "Debian's dovecot-imapd is not installed (make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    peer = Dovecot(users={folder.lower(): "secret" for folder, _, _ in FOLDERS})
    for folder, messages, _ in FOLDERS:
        peer.add_messages(messages, user=folder.lower())
    peer.start()
    try:
        answers = {}
        for folder, _, commands in FOLDERS:
            got = _dovecot_session(peer.port, folder.lower(), commands)
            for line, answer in zip(commands, got, strict=True):
                answers[folder.encode() + b": " + line] = answer
        yield answers
    finally:
        peer.stop()


async def test_search_and_sort_answer_as_dovecot(
    raw_imap: RawOpener, mailbox: Mailbox, dovecot_answers: dict[bytes, bytes]
) -> None:
    c = await raw_imap()
    await c.login(mailbox.address, mailbox.password)
    ours = {}
    for folder, messages, commands in FOLDERS:
        await c.command(f"c CREATE {folder}")
        for raw in messages:
            appended = await c.command(f"a APPEND {folder} ", Literal(raw))
            assert appended.tagged.startswith(b"a OK"), appended
        await c.command(f"s SELECT {folder}")
        for i, line in enumerate(commands):
            answer = await c.command(b"c%d " % i + line, timeout=30)
            ours[folder.encode() + b": " + line] = _answer(answer.lines)
    differences = [
        f"{c.decode()!r}: ours {ours[c].decode()!r}, Dovecot {theirs.decode()!r}"
        for c, theirs in dovecot_answers.items()
        if ours[c] != theirs
    ]
    assert not differences, "\n".join(differences)
    # the comparison compared something: most searches match, none failed
    unusual = [a for a in ours.values() if not re.fullmatch(rb"\* (E?SEARCH|SORT).* \| OK", a)]
    assert not unusual, unusual
