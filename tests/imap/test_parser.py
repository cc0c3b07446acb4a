"""The IMAP command parser: table tests of the grammar, hostile input, and property tests
(a token tree written in any legal way parses back to itself; random bytes only ever give
ParseError)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from espace_sante.mailbox.imap.parser import (
    Atom,
    Command,
    Limits,
    ParenList,
    ParseError,
    String,
    Token,
    parse_command,
    read_command,
)


def test_simple_commands() -> None:
    assert parse_command(b"a1 NOOP") == Command("a1", "NOOP", ())
    assert parse_command(b'a2 login alice "p a\\"ss"') == Command(
        "a2", "LOGIN", (Atom("alice"), String(b'p a"ss'))
    )
    assert parse_command(b"a3 uid fetch 1:* (FLAGS)") == Command(
        "a3", "UID FETCH", (Atom("1:*"), ParenList((Atom("FLAGS"),)))
    )


def test_fetch_items_keep_their_section_and_partial() -> None:
    cmd = parse_command(
        b't FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (FROM "TO")]<0.2048> BODY[1.2.MIME])'
    )
    (seq, items) = cmd.args
    assert seq == Atom("1")
    assert isinstance(items, ParenList)
    assert items.items == (
        Atom("UID"),
        Atom('BODY.PEEK[HEADER.FIELDS (FROM "TO")]<0.2048>'),
        Atom("BODY[1.2.MIME]"),
    )


def test_literals_synchronising_non_synchronising_and_binary() -> None:
    cmd = parse_command(b"x LOGIN {5}\r\nalice {3+}\r\nabc")
    assert cmd.args == (String(b"alice", literal=True), String(b"abc", literal=True))
    raw = b"\x00\xffbinary"
    cmd = parse_command(b"x APPEND INBOX (\\Seen) ~{%d}\r\n" % len(raw) + raw)
    assert cmd.args == (
        Atom("INBOX"),
        ParenList((Atom("\\Seen"),)),
        String(raw, literal=True),
    )


def test_flags_wildcards_and_search_keys() -> None:
    cmd = parse_command(b'x LIST "" %/*')
    assert cmd.args == (String(b""), Atom("%/*"))
    cmd = parse_command(b"x SEARCH CHARSET UTF-8 (OR FROM a SUBJECT {2+}\r\n\xc3\xa9) UNSEEN")
    assert cmd.args[2] == ParenList(
        (Atom("OR"), Atom("FROM"), Atom("a"), Atom("SUBJECT"), String(b"\xc3\xa9", literal=True))
    )


@pytest.mark.parametrize(
    ("raw", "reason", "tag"),
    [
        (b"", "tag", None),
        (b"NOOP", "tag", None),
        (b"+tag NOOP", "invalid tag", None),
        (b"a(b NOOP", "tag", None),
        (b"a1 ", "expected an atom", "a1"),
        (b"a1 123", "invalid command name", "a1"),
        (b"a1 LOGIN  alice", "unexpected space", "a1"),
        (b"a1 LOGIN ", "expected an argument", "a1"),
        (b'a1 LOGIN "alice', "unterminated", "a1"),
        (b'a1 LOGIN "a\\lice"', "escape", "a1"),
        (b'a1 LOGIN "a\rb"', "CR, LF or NUL", "a1"),
        (b"a1 FETCH 1 (FLAGS", "unclosed parenthesis", "a1"),
        (b"a1 FETCH 1 (FLAGS))", "expected a space", "a1"),
        (b"a1 FETCH 1 BODY[1", "unclosed", "a1"),
        (b"a1 FETCH 1 BODY[1)]", "unbalanced", "a1"),
        (b"a1 LOGIN {10}\r\nshort", "shorter than announced", "a1"),
        (b"a1 LOGIN {x}\r\nshort", "malformed literal", "a1"),
        (b"a1 FETCH 1 " + b"(" * 40 + b")" * 40, "nested too deeply", "a1"),
        (b"a1 UID", "expected a space", "a1"),
    ],
)
def test_malformed_commands_say_why(raw: bytes, reason: str, tag: str | None) -> None:
    with pytest.raises(ParseError, match=reason) as info:
        parse_command(raw)
    assert info.value.tag == tag


# -- atoms (RFC 9051 §9 / RFC 3501 §9) -------------------------------------------------------
#
# atom = 1*ATOM-CHAR; ATOM-CHAR = <any CHAR except atom-specials>; atom-specials = "(" / ")" /
# "{" / SP / CTL / list-wildcards ("%" "*") / quoted-specials (DQUOTE "\\") / resp-specials ("]").
# astring adds "]", list-mailbox adds "%" "*" "]"; a flag is "\\" atom. One token class serves
# them all, so it takes those too (and "\\" anywhere, as Dovecot does). "[" is an ATOM-CHAR: it
# opens a section only after BODY, BODY.PEEK, BINARY, BINARY.PEEK and BINARY.SIZE.

_IMAPTEST_ATOM = "!#$&'+,-.0123456789:;<=>?@^_`|[}"  # imaptest's "atoms" group


@pytest.mark.parametrize(
    ("raw", "args"),
    [
        (b"x SELECT " + _IMAPTEST_ATOM.encode(), (Atom(_IMAPTEST_ATOM),)),
        (b'x LIST "" ' + _IMAPTEST_ATOM.encode() + b"%*",
            (String(b""), Atom(_IMAPTEST_ATOM + "%*"))),
        (b"x SELECT a[b", (Atom("a[b"),)),
        (b"x SELECT [", (Atom("["),)),
        (b"x SELECT ]", (Atom("]"),)),
        (b"x SELECT a]b", (Atom("a]b"),)),  # astring: resp-specials allowed
        (b"x SELECT foo[bar]", (Atom("foo[bar]"),)),
        (b'x LIST "" a]b%', (String(b""), Atom("a]b%"))),  # list-mailbox
        (b'x LIST "" *', (String(b""), Atom("*"))),
        (b"x SELECT ~foo", (Atom("~foo"),)),  # not a literal8: no "{"
        (b"x SELECT a~b", (Atom("a~b"),)),
        (b"x SELECT a\\b", (Atom("a\\b"),)),  # quoted-special: Dovecot takes it, so do we
        (b"x STORE 1 +FLAGS (\\Seen $Forwarded)", (Atom("1"), Atom("+FLAGS"),
            ParenList((Atom("\\Seen"), Atom("$Forwarded"))))),
        (b"x SEARCH SUBJECT [PATCH]", (Atom("SUBJECT"), Atom("[PATCH]"))),
        (b"x FETCH 1 BODY.PEEK[HEADER.FIELDS (A B)]<0.5>",
            (Atom("1"), Atom("BODY.PEEK[HEADER.FIELDS (A B)]<0.5>"))),
        (b"x FETCH 1 (binary.size[1] BINARY[1.2]<1.2>)",
            (Atom("1"), ParenList((Atom("binary.size[1]"), Atom("BINARY[1.2]<1.2>"))))),
    ],
)  # fmt: skip
def test_atoms_that_parse(raw: bytes, args: tuple[Token, ...]) -> None:
    assert parse_command(raw).args == args


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"x SELECT a{b", "invalid character in atom"),
        (b"x SELECT a{3}", "invalid character in atom"),  # "{" inside an atom: no literal
        (b'x SELECT a"b', "invalid character in atom"),
        (b"x SELECT a(b", "invalid character in atom"),
        (b"x SELECT a)b", "expected a space"),
        (b"x SELECT a\x7fb", "invalid character in atom"),  # DEL is a CTL
        (b"x SELECT a\x01b", "invalid character in atom"),
        (b"x SELECT a\tb", "invalid character in atom"),
        (b"x SELECT a\xc3\xa9b", "invalid character in atom"),  # 8-bit: quote it
        (b"x FETCH 1 BODY[HEADER", "unclosed"),  # an open section after a section item
        (b"x SELECT BODY[", "unclosed"),  # hence this name must be quoted (Dovecot: NO)
    ],
)
def test_atoms_that_are_bad(raw: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_command(raw)


@pytest.mark.parametrize(
    ("raw", "tag"),
    [
        (b"a]b NOOP", "a]b"),  # tag = 1*<any ASTRING-CHAR except "+">
        (b"a[b NOOP", "a[b"),
        (b"A.1 NOOP", "A.1"),
        (b"a+b NOOP", None),
        (b"a{b NOOP", None),
        (b"a%b NOOP", None),
        (b"a*b NOOP", None),
        (b"a\\b NOOP", None),
    ],
)
def test_tags(raw: bytes, tag: str | None) -> None:
    if tag is None:
        with pytest.raises(ParseError, match="invalid tag"):
            parse_command(raw)
    else:
        assert parse_command(raw).tag == tag


@pytest.mark.parametrize(
    ("line", "literal"),
    [
        (b"a LOGIN {5}", True),
        (b"a APPEND INBOX (\\Seen) ~{5}", True),
        (b"a STORE 1 FLAGS ({5}", True),
        (b"a LOGIN {5+}", True),
        (b"a SELECT a{5}", False),  # an atom with "{" in it, answered BAD at once
        (b"a SELECT a~{5}", False),
        (b"a SELECT {5}x", False),
    ],
)
async def test_literal_announced_only_at_a_token_start(line: bytes, literal: bool) -> None:
    """RFC 9051 §4.3: a literal is a token of its own; "a{5}" at the end of a line is no
    announcement, and waiting for 5 octets there would hang the client."""
    reader = asyncio.StreamReader()
    reader.feed_data(line + b"\r\n" + (b"hello\r\n" if literal else b""))
    reader.feed_eof()
    continuations = []

    async def send_continuation() -> None:
        continuations.append(1)

    raw = await read_command(reader, Limits(), send_continuation)
    if literal:
        assert raw.endswith(b"\r\nhello")
        assert continuations == ([] if line.endswith(b"+}") else [1])
    else:
        assert raw == line and continuations == []


def test_too_many_tokens() -> None:
    with pytest.raises(ParseError, match="too many arguments"):
        parse_command(b"a1 FETCH " + b"1 " * 200 + b"1", Limits(max_tokens=100))


# -- properties ---------------------------------------------------------------------------------

_SECTION_ITEMS = ("BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE")
_atom_text = st.text(
    alphabet=st.sampled_from([chr(c) for c in range(0x21, 0x7F) if chr(c) not in '(){"\\']),
    min_size=1,
    max_size=12,
).filter(lambda a: "[" not in a or a.split("[", 1)[0].upper() not in _SECTION_ITEMS)
_strings = st.binary(max_size=40).map(String)
_atoms = _atom_text.map(Atom)
_tokens: st.SearchStrategy[Token] = st.recursive(
    st.one_of(_atoms, _strings),
    lambda children: st.lists(children, max_size=5).map(lambda xs: ParenList(tuple(xs))),
    max_leaves=30,
)


def _quotable(b: bytes) -> bool:
    return all(0x01 <= c <= 0x7F and c not in (0x0D, 0x0A) for c in b)


def _write(token: Token, draw_literal: st.DrawFn) -> bytes:
    if isinstance(token, Atom):
        return token.value.encode()
    if isinstance(token, ParenList):
        return b"(" + b" ".join(_write(t, draw_literal) for t in token.items) + b")"
    value = token.value
    if _quotable(value) and not draw_literal(st.booleans()):
        return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    plus = b"+" if draw_literal(st.booleans()) else b""
    return b"{%d%s}\r\n" % (len(value), plus) + value


def _normal(token: Token) -> Token:
    if isinstance(token, String):
        return String(token.value)
    if isinstance(token, ParenList):
        return ParenList(tuple(_normal(t) for t in token.items))
    return token


@settings(max_examples=300)
@given(st.lists(_tokens, max_size=6), st.data())
def test_any_legal_writing_parses_back(tokens: list[Token], data: st.DataObject) -> None:
    raw = b"t1 XCMD"
    for t in tokens:
        raw += b" " + _write(t, data.draw)
    cmd = parse_command(raw)
    assert cmd.tag == "t1" and cmd.name == "XCMD"
    assert [_normal(t) for t in cmd.args] == [_normal(t) for t in tokens]


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_random_bytes_only_raise_parse_error(raw: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_command(raw)


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from([b"(", b")", b"[", b"]", b'"', b"{3}\r\n", b" ", b"a", b"\\", b"<1.2>"]),
        max_size=60,
    )
)
def test_bracket_and_quote_soup_only_raises_parse_error(pieces: list[bytes]) -> None:
    with contextlib.suppress(ParseError):
        parse_command(b"a1 FETCH " + b"".join(pieces))
