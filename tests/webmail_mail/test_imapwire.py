"""Reading IMAP responses as aioimaplib hands them over: literals, nesting, malformed and
oversized answers (no server needed)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espace_sante.webmail.mail import imapwire
from espace_sante.webmail.mail.imapwire import (
    ImapParseError,
    body_parts,
    pairs,
    parse_responses,
    rebuild_wire,
)


def test_fetch_with_literals_between_lines() -> None:
    lines: list[bytes | bytearray] = [
        b"1 FETCH (UID 7 FLAGS (\\Seen $Label) BODY[HEADER.FIELDS (FROM SUBJECT)] {20}",
        bytearray(b"Subject: a * b\r\n\r\n\r\n"),
        b" RFC822.SIZE 42)",
        b"2 FETCH (UID 9 FLAGS () BODY[] {3}",
        bytearray(b"abc"),
        b")",
    ]
    responses = parse_responses(lines)
    assert len(responses) == 2
    first = pairs(responses[0][2])
    assert first["UID"] == "7"
    assert first["FLAGS"] == ["\\Seen", "$Label"]
    assert first["BODY[HEADER.FIELDS (FROM SUBJECT)]"] == b"Subject: a * b\r\n\r\n\r\n"
    assert first["RFC822.SIZE"] == "42"
    assert pairs(responses[1][2])["BODY[]"] == b"abc"


def test_quoted_strings_nil_and_escapes() -> None:
    (response,) = parse_responses([b'STATUS "In \\"box\\" \\\\" (MESSAGES 3 UNSEEN 0) NIL'])
    assert response[1] == b'In "box" \\'
    assert pairs(response[2]) == {"MESSAGES": "3", "UNSEEN": "0"}
    assert response[3] is None


def test_a_literal_holding_crlf_and_parentheses_is_kept_whole() -> None:
    lines: list[bytes | bytearray] = [
        b"3 FETCH (BODY[] {11}",
        bytearray(b"(\r\n)\r\n{2}\r\n"),
        b")",
    ]
    (response,) = parse_responses(lines)
    assert pairs(response[2])["BODY[]"] == b"(\r\n)\r\n{2}\r\n"


@pytest.mark.parametrize(
    "lines",
    [
        [b'1 FETCH (SUBJECT "unterminated)'],
        [b"1 FETCH (UID 1"],
        [b"1 FETCH (BODY[] {10}", bytearray(b"abc")],  # literal shorter than announced
        [b"1 FETCH (BODY[] {x}"],
        [b"1 FETCH (BODY[] {3}X"],
        [b"(" * 100 + b")" * 100],
        [b")"],
    ],
)
def test_malformed_answers_raise_parse_errors(lines: list[bytes | bytearray]) -> None:
    with pytest.raises(ImapParseError):
        parse_responses(lines)


def test_oversized_answers_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imapwire, "MAX_RESPONSE_BYTES", 1000)
    with pytest.raises(ImapParseError):
        rebuild_wire([b"1 FETCH (BODY[] {2000}", bytearray(b"x" * 2000), b")"])


def test_attribute_lists_must_pair_up() -> None:
    with pytest.raises(ImapParseError):
        pairs(["UID"])
    with pytest.raises(ImapParseError):
        pairs([["x"], "1"])


def test_bodystructure_leaves_with_attachment_names() -> None:
    (response,) = parse_responses(
        [
            b'1 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 12 1 NIL'
            b' NIL NIL NIL)("APPLICATION" "PDF" ("NAME" "cr.pdf") NIL NIL "BASE64" 3000 NIL'
            b' ("ATTACHMENT" ("FILENAME" "compte-rendu.pdf")) NIL NIL) "MIXED" ("BOUNDARY" "b")'
            b" NIL NIL NIL))"
        ]
    )
    parts = body_parts(pairs(response[2])["BODYSTRUCTURE"])
    assert [(p.content_type, p.filename, p.size, p.disposition) for p in parts] == [
        ("text/plain", "", 12, ""),
        ("application/pdf", "compte-rendu.pdf", 3000, "attachment"),
    ]
    assert body_parts(None) == [] and body_parts("garbage") == []
    assert body_parts([["x"], ["y"], "MIXED"]) == []  # short leaves are skipped


_item = st.one_of(
    st.binary(max_size=40).filter(lambda b: b"\r" not in b and b"\n" not in b),
    st.binary(max_size=20).map(bytearray),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_item, max_size=8))
def test_any_answer_parses_or_fails_cleanly(lines: list[bytes | bytearray]) -> None:
    try:
        responses = parse_responses(lines)
    except ImapParseError:
        return
    for response in responses:
        for value in response:
            try:
                body_parts(value)
                pairs(value)
            except ImapParseError:
                pass
