"""Parsing IMAP server responses as aioimaplib hands them over.

aioimaplib gives a command's untagged responses as a list: text lines (``bytes``, CRLF and the
leading ``* `` removed) and literal data (``bytearray``) between the line announcing it
(``… {n}``) and the rest of that line. :func:`parse_responses` puts the wire form back together
and reads it into Python values: atoms as ``str``, quoted strings and literals as ``bytes``,
``NIL`` as ``None``, parenthesised lists as ``list``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

Value: TypeAlias = str | bytes | None | list["Value"]

#: Largest response we accept to parse (a page of headers or one message, at 25 MB, in full).
MAX_RESPONSE_BYTES = 40 * 1024 * 1024


class ImapParseError(ValueError):
    """The server's answer is not valid IMAP syntax."""


def rebuild_wire(lines: list[bytes | bytearray]) -> bytes:
    """The wire text of aioimaplib's response lines (responses separated by CRLF)."""
    out = bytearray()
    after_literal = False
    for item in lines:
        if isinstance(item, bytearray):
            out += b"\r\n" + item
            after_literal = True
        else:
            if out and not after_literal:
                out += b"\r\n"
            out += item
            after_literal = False
        if len(out) > MAX_RESPONSE_BYTES:
            raise ImapParseError("response too large")
    return bytes(out)


@dataclass
class _Reader:
    data: bytes
    pos: int = 0

    def peek(self) -> int | None:
        return self.data[self.pos] if self.pos < len(self.data) else None

    def value(self, depth: int = 0) -> Value:
        if depth > 64:
            raise ImapParseError("nesting too deep")
        ch = self.peek()
        if ch is None:
            raise ImapParseError("unexpected end of response")
        if ch == ord("("):
            self.pos += 1
            items: list[Value] = []
            while True:
                self.skip_spaces()
                ch = self.peek()
                if ch is None:
                    raise ImapParseError("unterminated list")
                if ch == ord(")"):
                    self.pos += 1
                    return items
                items.append(self.value(depth + 1))
        if ch == ord('"'):
            return self.quoted()
        if ch == ord("{"):
            return self.literal()
        if ch == ord("~") and self.data[self.pos + 1 : self.pos + 2] == b"{":
            self.pos += 1  # literal8 (RFC 3516): the answer to BINARY[…] may hold NUL
            return self.literal()
        atom = self.atom()
        return None if atom.upper() == "NIL" else atom

    def quoted(self) -> bytes:
        self.pos += 1
        out = bytearray()
        while True:
            ch = self.peek()
            if ch is None or ch in (13, 10):
                raise ImapParseError("unterminated quoted string")
            self.pos += 1
            if ch == ord("\\"):
                nxt = self.peek()
                if nxt is None:
                    raise ImapParseError("unterminated quoted string")
                out.append(nxt)
                self.pos += 1
            elif ch == ord('"'):
                return bytes(out)
            else:
                out.append(ch)

    def literal(self) -> bytes:
        end = self.data.find(b"}", self.pos)
        if end < 0:
            raise ImapParseError("bad literal")
        size_text = self.data[self.pos + 1 : end].rstrip(b"+")
        if not size_text.isdigit():
            raise ImapParseError("bad literal size")
        size = int(size_text)
        if self.data[end + 1 : end + 3] != b"\r\n":
            raise ImapParseError("literal without CRLF")
        start = end + 3
        if start + size > len(self.data):
            raise ImapParseError("truncated literal")
        self.pos = start + size
        return self.data[start : start + size]

    def atom(self) -> str:
        start = self.pos
        brackets = 0
        while self.pos < len(self.data):
            ch = self.data[self.pos]
            if ch == ord("["):
                brackets += 1
            elif ch == ord("]"):
                brackets -= 1
            elif ch in b"\r\n" or (brackets <= 0 and ch in b" ()"):
                break
            self.pos += 1
        if self.pos == start:
            raise ImapParseError(f"unexpected character {chr(self.data[start])!r}")
        return self.data[start : self.pos].decode("utf-8", "replace")

    def skip_spaces(self) -> None:
        while self.peek() == ord(" "):
            self.pos += 1


def parse_responses(lines: list[bytes | bytearray]) -> list[list[Value]]:
    """Each untagged response as the list of its values."""
    reader = _Reader(rebuild_wire(lines))
    responses: list[list[Value]] = []
    current: list[Value] = []
    while reader.peek() is not None:
        reader.skip_spaces()
        ch = reader.peek()
        if ch is None:
            break
        if ch == 13 or ch == 10:
            reader.pos += 1
            if current:
                responses.append(current)
                current = []
            continue
        if ch == ord("["):  # response code of a status line: keep it as one atom
            current.append(reader.atom())
            continue
        current.append(reader.value())
    if current:
        responses.append(current)
    return responses


def text(value: Value) -> str:
    """A string value as text (UTF-8, undecodable bytes replaced); NIL as ''."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    raise ImapParseError("expected a string")


def pairs(items: Value) -> dict[str, Value]:
    """A FETCH attribute list (name value name value …) as a dict keyed by upper-case name."""
    if not isinstance(items, list) or len(items) % 2:
        raise ImapParseError("expected a list of attribute pairs")
    out: dict[str, Value] = {}
    for i in range(0, len(items), 2):
        name = items[i]
        if not isinstance(name, str):
            raise ImapParseError("attribute name expected")
        out[name.upper()] = items[i + 1]
    return out


@dataclass(frozen=True)
class PartInfo:
    """One leaf of a BODYSTRUCTURE: its MIME type, file name (if any) and size in octets."""

    content_type: str
    filename: str
    size: int
    disposition: str
    section: str = ""  # its IMAP part number, e.g. "2" or "1.3"


def body_parts(structure: Value, *, into_messages: bool = False) -> list[PartInfo]:
    """The leaf parts of a BODYSTRUCTURE, in order (RFC 9051 §7.5.2), with their part numbers.

    A message/rfc822 part is a leaf unless ``into_messages``: then the parts of the message it
    encloses are listed instead (as stdlib ``email``'s ``walk()`` does)."""
    out: list[PartInfo] = []
    _walk(structure, out, 0, "", into_messages)
    return out


def _walk(node: Value, out: list[PartInfo], depth: int, section: str, into: bool) -> None:
    if depth > 32 or not isinstance(node, list) or not node:
        return
    if isinstance(node[0], list):  # multipart: children, then the subtype
        for index, child in enumerate(node, 1):
            if isinstance(child, list):
                _walk(child, out, depth + 1, f"{section}.{index}" if section else str(index), into)
            else:
                break
        return
    if (
        into
        and len(node) > 8
        and text(node[0]).lower() == "message"
        and text(node[1]).lower() in ("rfc822", "global")
        and isinstance(node[8], list)
    ):
        inner = node[8]
        here = section or "1"  # RFC 9051 §6.4.5: the enclosed parts are numbered under it
        if inner and isinstance(inner[0], list):
            _walk(inner, out, depth + 1, here, into)
        else:
            _walk(inner, out, depth + 1, f"{here}.1", into)
        return
    if len(node) < 7:
        return
    maintype, subtype = text(node[0]).lower(), text(node[1]).lower()
    params = _param_dict(node[2])
    try:
        size = int(text(node[6]) or 0)
    except ValueError:
        size = 0
    # extension data: after md5 (single part), disposition then language…
    ext_start = 7
    if maintype == "text":
        ext_start = 8  # lines
    elif maintype == "message" and subtype == "rfc822":
        ext_start = 10  # envelope, body, lines
    disposition = ""
    filename = params.get("name", "")
    disp: Value = node[ext_start + 1] if len(node) > ext_start + 1 else None
    if isinstance(disp, list) and disp and isinstance(disp[0], bytes | str):
        disposition = text(disp[0]).lower()
        if len(disp) > 1:
            params_of_disposition: Value = disp[1]
            filename = _param_dict(params_of_disposition).get("filename", filename)
    out.append(PartInfo(f"{maintype}/{subtype}", filename, size, disposition, section or "1"))


def _param_dict(value: Value) -> dict[str, str]:
    if not isinstance(value, list):
        return {}
    out: dict[str, str] = {}
    for i in range(0, len(value) - 1, 2):
        out[text(value[i]).lower()] = text(value[i + 1])
    return out
