"""Our body sections (BODY[…], BINARY[…], BINARY.SIZE[…]), byte for byte against Dovecot's, on
every part of every corpus message: the parts of message/rfc822 parts (RFC 9051 §6.4.5), MIME
headers, HEADER.FIELDS, partials, transfer encodings undone (RFC 3516), NUL octets."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from espace_sante.mailbox import imapmeta
from espace_sante.mailbox.imap import fetch
from espace_sante.mailbox.imap.mailstore import MessageRow
from espace_sante.mailbox.imap.parser import parse_command

from .corpus import CORPUS
from .dovecot_peer import Dovecot, available

pytestmark = pytest.mark.peer
NAMES = sorted(CORPUS)

#: (message, item) where we differ from Dovecot on purpose.
DELIBERATE = {
    # Dovecot shows an empty multipart where we show the text (see test_imapmeta_dovecot).
    ("multipart_without_boundary", "BODY.PEEK[1]"),
    ("multipart_without_boundary", "BODY.PEEK[1.MIME]"),
    ("multipart_without_boundary", "BINARY.PEEK[1]"),
    ("multipart_without_boundary", "BINARY.SIZE[1]"),
    ("multipart_without_boundary", "BODY.PEEK[1]<2.5>"),
    ("multipart_without_boundary", "BINARY.PEEK[1]<1.7>"),
    # The CRLF before a delimiter that directly follows an inner closing delimiter belongs to
    # the outer delimiter (RFC 2046 §5.1.1); Dovecot counts it in the inner entity.
    ("nested", "BODY.PEEK[1]"),
    ("nested", "BINARY.PEEK[1]"),
    ("nested", "BINARY.SIZE[1]"),
    ("adjacent_delimiters", "BODY.PEEK[1]"),
    ("adjacent_delimiters", "BODY.PEEK[1.TEXT]"),
    ("adjacent_delimiters", "BINARY.PEEK[1]"),
    ("adjacent_delimiters", "BINARY.SIZE[1]"),
    ("adjacent_delimiters", "BINARY.PEEK[1.1]"),
    ("adjacent_delimiters", "BINARY.SIZE[1.1]"),
    ("adjacent_delimiters", "BODY.PEEK[1.1]"),
    # A message without a blank line: RFC 3501 §6.4.5 leaves it out of HEADER.FIELDS too;
    # Dovecot adds one.
    ("header_only", "BODY.PEEK[HEADER.FIELDS (FROM SUBJECT X-FOO)]"),
}


def part_numbers(raw: bytes) -> list[str]:
    """Every part number of the message, in the order of BODYSTRUCTURE."""
    out: list[str] = []

    def walk(part: imapmeta.Part, number: str) -> None:
        out.append(number)
        inner = imapmeta.children(raw, part)
        if part.kind == "message":
            walk_message(inner[0], number + ".")
        elif part.kind == "multipart":
            for i, child in enumerate(inner, 1):
                walk(child, f"{number}.{i}")

    def walk_message(message: imapmeta.Part, prefix: str) -> None:
        if message.kind == "multipart":
            for i, child in enumerate(imapmeta.children(raw, message), 1):
                walk(child, f"{prefix}{i}")
        else:  # a message that is not multipart: part 1 is the message itself
            walk(message, f"{prefix}1")

    walk_message(imapmeta.entity(raw, 0, len(raw)), "")
    return out


def items_for(raw: bytes) -> list[str]:
    items = [
        "BODY.PEEK[]",
        "BODY.PEEK[HEADER]",
        "BODY.PEEK[TEXT]",
        "BODY.PEEK[HEADER.FIELDS (FROM SUBJECT X-FOO)]",
        "BODY.PEEK[HEADER.FIELDS.NOT (FROM SUBJECT)]",
        "BODY.PEEK[]<3.20>",
        "BODY.PEEK[TEXT]<5.1000>",
        "BINARY.PEEK[]",
        "BINARY.SIZE[]",
        "BINARY.PEEK[]<10.20>",
    ]
    for n in part_numbers(raw):
        items += [
            f"BODY.PEEK[{n}]",
            f"BODY.PEEK[{n}.MIME]",
            f"BODY.PEEK[{n}.HEADER]",
            f"BODY.PEEK[{n}.TEXT]",
            f"BODY.PEEK[{n}.HEADER.FIELDS (FROM SUBJECT X-FOO)]",
            f"BODY.PEEK[{n}.HEADER.FIELDS.NOT (FROM SUBJECT)]",
            f"BODY.PEEK[{n}]<2.5>",
            f"BODY.PEEK[{n}.1]",  # a leaf's ".1" is the leaf, as Dovecot has it
            f"BODY.PEEK[{n}.9]",  # no such part
            f"BINARY.PEEK[{n}]",
            f"BINARY.SIZE[{n}]",
            f"BINARY.PEEK[{n}]<1.7>",
        ]
    return items


_LITERAL = re.compile(rb"(~?)\{(\d+)\}\r\n")


def _value(data: bytes, pos: int) -> tuple[bytes | None, bool, int]:
    """(value, sent as literal8, end) of the nstring or number at ``pos``."""
    if m := _LITERAL.match(data, pos):
        start = m.end()
        return data[start : start + int(m[2])], bool(m[1]), start + int(m[2])
    if data.startswith(b'"', pos):
        m2 = re.compile(rb'"((?:[^"\\]|\\.)*)"').match(data, pos)
        assert m2, data[pos:]
        return re.sub(rb"\\(.)", rb"\1", m2[1]), False, m2.end()
    m3 = re.compile(rb"[^ )]+").match(data, pos)
    assert m3, data[pos:]
    return (None if m3[0] == b"NIL" else m3[0]), False, m3.end()


def _split_answer(answer: bytes) -> tuple[bytes, bytes | None, bool]:
    """``LABEL VALUE`` into (label, value, literal8)."""
    # the label ends at its closing bracket (and partial), never inside HEADER.FIELDS (...)
    m = re.match(rb"[A-Z0-9.]+\[[^\]]*\](?:<\d+>)? ", answer)
    assert m, answer
    value, eight, end = _value(answer, m.end())
    assert end == len(answer), answer
    return m[0][:-1], value, eight


@pytest.fixture(scope="module")
def dovecot_sections(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[tuple[str, str], bytes | None]]:
    """Dovecot's ``LABEL VALUE`` for each (message, item), None when it answered NO."""
    if not available():
        message = "Debian's dovecot-imapd is not installed (make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    peer = Dovecot()
    peer.add_messages([CORPUS[name] for name in NAMES])
    peer.start()
    try:
        with socket.create_connection(("127.0.0.1", peer.port), timeout=10) as sock:
            stream = sock.makefile("rb")
            stream.readline()
            counter = iter(range(1, 100_000))

            def command(line: str) -> list[bytes]:
                tag = b"t%d" % next(counter)
                sock.sendall(tag + b" " + line.encode() + b"\r\n")
                lines = []
                while True:
                    reply = stream.readline()
                    while m := re.search(rb"~?\{(\d+)\}\r\n$", reply):
                        reply += stream.read(int(m[1])) + stream.readline()
                    if reply.startswith(tag + b" "):
                        return [*lines, reply]
                    lines.append(reply)

            command(f"LOGIN {peer.user} {peer.password}")
            command("EXAMINE INBOX")
            answers: dict[tuple[str, str], bytes | None] = {}
            for index, name in enumerate(NAMES, start=1):
                for item in items_for(CORPUS[name]):
                    *untagged, tagged = command(f"FETCH {index} ({item})")
                    if b" OK " not in tagged:
                        answers[name, item] = None
                        continue
                    (line,) = [u for u in untagged if u.startswith(b"* %d FETCH (" % index)]
                    answers[name, item] = line[len(b"* %d FETCH (" % index) : -3]
        yield answers
    finally:
        peer.stop()


def ours(raw: bytes, item: str) -> bytes:
    command = parse_command(f"t FETCH 1 ({item})".encode())
    (section,) = [i for i in fetch.parse_items(command.args[1]) if i != "UID"]
    meta = imapmeta.compute_meta(raw)
    row = MessageRow(1, 1, [], 1, datetime.now(UTC), len(raw), "", imapmeta.to_json(meta))
    (answer,) = fetch.render([section], row, raw)
    return answer


@pytest.mark.parametrize("name", NAMES)
def test_sections_match(dovecot_sections: dict[tuple[str, str], bytes | None], name: str) -> None:
    raw = CORPUS[name]
    mismatches = []
    for item in items_for(raw):
        theirs = dovecot_sections[name, item]
        if (name, item) in DELIBERATE:
            continue
        if theirs is None:
            mismatches.append((item, b"Dovecot answered NO", ours(raw, item)[:300]))
            continue
        label, value, _ = _split_answer(theirs)
        our_label, our_value, our_eight = _split_answer(ours(raw, item))
        if (our_label, our_value) != (label, value):
            mismatches.append((item, theirs[:300], ours(raw, item)[:300]))
        # RFC 3516 §4.3: literal8 for data holding NUL, a string otherwise (Dovecot sends
        # every decoded BINARY as literal8, which the RFC allows)
        assert our_eight == (our_value is not None and b"\0" in our_value), item
    assert not mismatches, "\n".join(map(repr, mismatches))


def test_the_oracle_covers_embedded_messages() -> None:
    assert part_numbers(CORPUS["rfc822_in_rfc822"]) == ["1", "1.1", "1.1.1"]
    assert part_numbers(CORPUS["forward_of_a_multipart"]) == ["1", "2", "2.1", "2.2"]
    assert part_numbers(CORPUS["digest"]) == ["1", "1.1", "2", "2.1", "2.2", "2.2.1"]
