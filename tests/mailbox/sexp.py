"""Parse IMAP response data (atoms, NIL, quoted strings, literals, lists) into Python values, so
two servers' answers compare by meaning: a quoted string and a literal of the same bytes are equal.
"""

from __future__ import annotations

import re

Value = bytes | None | list["Value"]

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n")
_ATOM = re.compile(rb"[^\s()\"{]+")


def parse(data: bytes) -> list[Value]:
    """Every value of ``data`` (a parenthesised list, or several values separated by spaces)."""
    values, end = _parse_list(data, 0, closing=False)
    if end != len(data):
        raise ValueError(f"trailing data at {end}: {data[end : end + 20]!r}")
    return values


def _parse_list(data: bytes, pos: int, *, closing: bool) -> tuple[list[Value], int]:
    out: list[Value] = []
    while pos < len(data):
        c = data[pos : pos + 1]
        if c == b" ":
            pos += 1
        elif c == b"(":
            inner, pos = _parse_list(data, pos + 1, closing=True)
            out.append(inner)
        elif c == b")":
            if not closing:
                raise ValueError(f"unbalanced ')' at {pos}")
            return out, pos + 1
        elif c == b'"':
            value, pos = _parse_quoted(data, pos + 1)
            out.append(value)
        elif c == b"{":
            m = _LITERAL.match(data, pos)
            if not m:
                raise ValueError(f"bad literal at {pos}")
            start = m.end()
            out.append(data[start : start + int(m.group(1))])
            pos = start + int(m.group(1))
        else:
            m = _ATOM.match(data, pos)
            if not m:
                raise ValueError(f"unexpected {c!r} at {pos}")
            atom = m.group(0)
            out.append(None if atom.upper() == b"NIL" else atom)
            pos = m.end()
    if closing:
        raise ValueError("unclosed '('")
    return out, pos


def _parse_quoted(data: bytes, pos: int) -> tuple[bytes, int]:
    out = bytearray()
    while pos < len(data):
        c = data[pos]
        if c == 0x5C:  # backslash
            out.append(data[pos + 1])
            pos += 2
        elif c == 0x22:
            return bytes(out), pos + 1
        else:
            out.append(c)
            pos += 1
    raise ValueError("unterminated quoted string")
