"""Reading and parsing IMAP commands (RFC 9051 §9, with RFC 3501 and RFC 7888 LITERAL+/-).

Two steps. :func:`read_command` takes one whole command off the connection: its line and the
literals it announces (``{n}`` synchronising, after which we send a continuation; ``{n+}`` not),
within :class:`Limits`, so a client cannot make us buffer more than those. :func:`parse_command`
then turns those bytes into a tag, a command name and a token tree; each command interprets its
own arguments. Malformed input raises :class:`ParseError` with a reason for the ``BAD`` reply.

Tokens: :class:`Atom` (atoms, flags like ``\\Seen``, sequence sets, and fetch items with their
bracketed section and partial, e.g. ``BODY.PEEK[HEADER.FIELDS (FROM)]<0.100>``), :class:`String`
(quoted or literal, as bytes), and :class:`ParenList`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# RFC 9051 §9: ATOM-CHAR is any CHAR except atom-specials: "(" ")" "{" SP CTL list-wildcards
# ("%" "*") quoted-specials ('"' "\\") resp-specials ("]"). "[" is an ATOM-CHAR. One token class
# serves atoms, astrings and list-mailbox patterns, so it also takes what those allow: "]"
# (astring, list-mailbox), "%" and "*" (list-mailbox), and "\\" (flags, "\\Seen"; Dovecot takes
# it anywhere in a name too). Never: "(" ")" "{" '"', SP, CTL, DEL, 8-bit.
_ATOM_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '(){"')
# The fetch items whose atom carries a bracketed section that may hold spaces, lists and quoted
# strings (RFC 9051 §6.4.5: BODY[...], BODY.PEEK[...], BINARY[...], BINARY.PEEK[...],
# BINARY.SIZE[...]). After any other atom text "[" is an ordinary ATOM-CHAR.
_SECTION_ITEMS = frozenset({"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE"})
_TAG = re.compile(rb"[\x21-\x7e]+")
# tag = 1*<any ASTRING-CHAR except "+">
_NOT_IN_TAG = frozenset(b'(){"%*\\+')
# A literal announced at the end of a line starts a token: after a space or "(" only ("a{3}" is
# an atom with an atom-special in it, not a literal).
_LITERAL_AT_END = re.compile(rb"(?<=[ (])~?\{(\d{1,12})(\+?)\}$")


@dataclass(frozen=True)
class Limits:
    """What one command may cost us."""

    max_line: int = 64 * 1024  # the command text outside literals
    max_literal: int = 64 * 1024  # one literal, for commands other than APPEND
    max_append_literal: int = 30 * 1024 * 1024  # a message being appended
    max_command: int = 64 * 1024 * 1024  # everything, e.g. a MULTIAPPEND
    max_depth: int = 32  # nested parentheses
    max_tokens: int = 100_000


class ParseError(ValueError):
    """The command cannot be understood; ``tag`` is known when the line had one."""

    def __init__(self, reason: str, tag: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tag = tag


class LiteralTooLarge(ParseError):
    """A literal over the limit; ``must_close`` when the client sends it without waiting."""

    def __init__(self, reason: str, tag: str | None, must_close: bool) -> None:
        super().__init__(reason, tag)
        self.must_close = must_close


class ConnectionDropped(Exception):
    """The client closed the connection in the middle of a command (or before one)."""


@dataclass(frozen=True)
class Atom:
    value: str

    @property
    def upper(self) -> str:
        return self.value.upper()


@dataclass(frozen=True)
class String:
    value: bytes
    literal: bool = False


@dataclass(frozen=True)
class ParenList:
    items: tuple[Token, ...]


Token = Atom | String | ParenList


@dataclass(frozen=True)
class Command:
    tag: str
    name: str  # upper case; "UID FETCH" etc. for UID commands
    args: tuple[Token, ...]


# -- reading ------------------------------------------------------------------------------------


async def read_command(
    reader: asyncio.StreamReader,
    limits: Limits,
    send_continuation: Callable[[], Awaitable[None]],
) -> bytes:
    """The bytes of one command, literals included, without its final CRLF.

    Raises :class:`ConnectionDropped` at end of input, :class:`ParseError` for a line over the
    limit (the rest of that line is skipped first), :class:`LiteralTooLarge` for a literal over
    the limit.
    """
    parts: list[bytes] = []
    total = 0
    line_bytes = 0
    tag: str | None = None
    while True:
        line = await _read_line(reader, limits.max_line - line_bytes, tag)
        if tag is None:
            tag = _peek_tag(line)
        line_bytes += len(line)
        body = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        m = _LITERAL_AT_END.search(body)
        if m is None:
            parts.append(body)
            return b"".join(parts)
        size = int(m.group(1))
        synchronising = not m.group(2)
        is_append = _is_append(parts[0] if parts else body)
        limit = limits.max_append_literal if is_append else limits.max_literal
        total += len(line) + size
        if size > limit or total > limits.max_command:
            if synchronising:
                raise LiteralTooLarge(f"literal of {size} bytes is over the limit", tag, False)
            raise LiteralTooLarge(
                f"non-synchronising literal of {size} bytes is over the limit", tag, True
            )
        if synchronising:
            await send_continuation()
        try:
            data = await reader.readexactly(size)
        except asyncio.IncompleteReadError as exc:
            raise ConnectionDropped from exc
        parts.append(body + b"\r\n" + data)


async def _read_line(reader: asyncio.StreamReader, limit: int, tag: str | None) -> bytes:
    """One line ending in LF (normally CRLF), refusing to buffer more than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = await reader.readuntil(b"\n")
            chunks.append(chunk)
            size += len(chunk)
            break
        except asyncio.LimitOverrunError as exc:
            # the stream's buffer limit: take what is buffered and keep looking for the end
            chunk = await reader.readexactly(exc.consumed)
            chunks.append(chunk)
            size += len(chunk)
        except asyncio.IncompleteReadError as exc:
            raise ConnectionDropped from exc
        if size > limit:
            first = chunks[0]
            await _skip_line(reader)
            raise ParseError("command line too long", tag or _peek_tag(first))
    if size > limit:
        raise ParseError("command line too long", tag or _peek_tag(chunks[0]))
    return b"".join(chunks)


async def _skip_line(reader: asyncio.StreamReader) -> None:
    while True:
        try:
            await reader.readuntil(b"\n")
            return
        except asyncio.LimitOverrunError as exc:
            await reader.readexactly(exc.consumed)
        except asyncio.IncompleteReadError as exc:
            raise ConnectionDropped from exc


def _peek_tag(line: bytes) -> str | None:
    m = _TAG.match(line)
    if m is None or any(c in _NOT_IN_TAG for c in m.group(0)):
        return None
    return m.group(0).decode("ascii")


def _is_append(first_line: bytes) -> bool:
    words = first_line.split(b" ", 2)
    return len(words) >= 2 and words[1].upper() == b"APPEND"


# -- parsing ------------------------------------------------------------------------------------


def parse_command(raw: bytes, limits: Limits | None = None) -> Command:
    """Tag, name and arguments of a command read by :func:`read_command`."""
    limits = limits or Limits()
    tag_match = _TAG.match(raw)
    if tag_match is None or raw[tag_match.end() : tag_match.end() + 1] != b" ":
        raise ParseError("expected: tag SP command")
    tag_bytes = tag_match.group(0)
    if any(c in _NOT_IN_TAG for c in tag_bytes):
        raise ParseError("invalid tag")
    tag = tag_bytes.decode("ascii")
    parser = _Parser(raw, tag_match.end() + 1, limits, tag)
    name_token = parser.atom()
    name = name_token.upper
    if not name.isalpha():
        raise ParseError("invalid command name", tag)
    if name == "UID":
        parser.space()
        name = "UID " + parser.atom().upper
    args = parser.rest()
    return Command(tag, name, tuple(args))


class _Parser:
    def __init__(self, data: bytes, pos: int, limits: Limits, tag: str) -> None:
        self.data = data
        self.pos = pos
        self.limits = limits
        self.tag = tag
        self.tokens = 0

    def fail(self, reason: str) -> ParseError:
        return ParseError(f"{reason} at offset {self.pos}", self.tag)

    def space(self) -> None:
        if self.data[self.pos : self.pos + 1] != b" ":
            raise self.fail("expected a space")
        self.pos += 1

    def rest(self) -> list[Token]:
        items: list[Token] = []
        while self.pos < len(self.data):
            self.space()
            items.append(self.token(0))
        return items

    def token(self, depth: int) -> Token:
        self.tokens += 1
        if self.tokens > self.limits.max_tokens:
            raise self.fail("too many arguments")
        c = self.data[self.pos : self.pos + 1]
        if c == b"(":
            return self.paren_list(depth + 1)
        if c == b'"':
            return self.quoted()
        if c == b"{" or self.data.startswith(b"~{", self.pos):
            return self.literal()
        if not c:
            raise self.fail("expected an argument")
        if c == b" ":
            raise self.fail("unexpected space")
        return self.atom()

    def paren_list(self, depth: int) -> ParenList:
        if depth > self.limits.max_depth:
            raise self.fail("parentheses nested too deeply")
        self.pos += 1
        items: list[Token] = []
        while True:
            c = self.data[self.pos : self.pos + 1]
            if c == b")":
                self.pos += 1
                return ParenList(tuple(items))
            if not c:
                raise self.fail("unclosed parenthesis")
            if items:
                self.space()
            items.append(self.token(depth))

    def quoted(self) -> String:
        self.pos += 1
        out = bytearray()
        while True:
            if self.pos >= len(self.data):
                raise self.fail("unterminated quoted string")
            c = self.data[self.pos]
            if c == 0x5C:  # backslash: only \" and \\ are allowed
                nxt = self.data[self.pos + 1 : self.pos + 2]
                if nxt not in (b'"', b"\\"):
                    raise self.fail("invalid escape in quoted string")
                out += nxt
                self.pos += 2
            elif c == 0x22:
                self.pos += 1
                return String(bytes(out))
            elif c in (0x0D, 0x0A, 0x00):
                raise self.fail("CR, LF or NUL in a quoted string")
            else:
                out.append(c)
                self.pos += 1

    def literal(self) -> String:
        m = re.compile(rb"~?\{(\d{1,12})\+?\}\r\n").match(self.data, self.pos)
        if m is None:
            raise self.fail("malformed literal")
        size = int(m.group(1))
        start = m.end()
        if start + size > len(self.data):
            raise self.fail("literal shorter than announced")
        self.pos = start + size
        return String(self.data[start : start + size], literal=True)

    def atom(self) -> Atom:
        start = self.pos
        data = self.data
        while self.pos < len(data):
            ch = chr(data[self.pos])
            if ch == "[" and data[start : self.pos].upper().decode("ascii") in _SECTION_ITEMS:
                self._bracketed()
                continue
            if ch not in _ATOM_CHARS:
                break
            self.pos += 1
        if self.pos == start:
            raise self.fail("expected an atom")
        if self.pos < len(data) and data[self.pos] not in b" )":
            raise self.fail("invalid character in atom")
        try:
            return Atom(data[start : self.pos].decode("ascii"))
        except UnicodeDecodeError as exc:  # pragma: no cover - _ATOM_CHARS is ASCII
            raise self.fail("non-ASCII atom") from exc

    def _bracketed(self) -> None:
        """Skip a ``[...]`` section spec (it may hold spaces, lists and quoted strings)."""
        depth = 0
        self.pos += 1
        while self.pos < len(self.data):
            c = self.data[self.pos]
            if c == 0x5D and depth == 0:  # ]
                self.pos += 1
                return
            if c == 0x28:
                depth += 1
                if depth > self.limits.max_depth:
                    raise self.fail("parentheses nested too deeply")
            elif c == 0x29:
                depth -= 1
                if depth < 0:
                    raise self.fail("unbalanced parenthesis in section")
            elif c == 0x22:
                self.quoted()
                continue
            elif c < 0x20 or c > 0x7E:
                raise self.fail("invalid character in section")
            self.pos += 1
        raise self.fail("unclosed '['")
