"""FETCH items (RFC 9051 §6.4.5): parsing the requested attributes and producing their values
from the stored metadata and, for body sections, the raw message and its part offsets."""

from __future__ import annotations

import binascii
import quopri
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from espace_sante.mailbox.imap.mailstore import MessageRow
from espace_sante.mailbox.imap.parser import Atom, ParenList, ParseError, Token
from espace_sante.mailbox.imapmeta import imap_quote

SIMPLE_ITEMS = {
    "FLAGS", "UID", "RFC822.SIZE", "INTERNALDATE", "ENVELOPE", "BODY", "BODYSTRUCTURE", "MODSEQ",
}  # fmt: skip
MACROS = {
    "ALL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
    "FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
    "FULL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"],
}
_SECTION_ITEM = re.compile(
    r"^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)\[([^\]]*)\](?:<(\d{1,10})\.(\d{1,10})>)?$",
    re.I,
)
_PART = re.compile(
    r"^(\d{1,5}(?:\.\d{1,5}){0,30})(?:\.(HEADER|HEADER\.FIELDS(?:\.NOT)?|TEXT|MIME))?$"
)
_FIELDS = re.compile(r"^(HEADER\.FIELDS(?:\.NOT)?) \((.*)\)$", re.I | re.S)


@dataclass(frozen=True)
class SectionItem:
    peek: bool
    part: str  # "" or "1.2"
    text: str  # "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"
    fields: tuple[str, ...]
    origin: int | None
    length: int | None
    label: str  # as echoed in the response, without the partial length
    binary: str = ""  # "" (BODY), "BINARY" (decoded content), "SIZE" (its decoded size)

    @property
    def sets_seen(self) -> bool:
        return not self.peek


FetchItem = str | SectionItem


def parse_items(token: Token) -> list[FetchItem]:
    """The attributes asked for: a macro, one item, or a parenthesised list of items."""
    tokens = token.items if isinstance(token, ParenList) else (token,)
    if not tokens:
        raise ParseError("empty list of fetch items")
    items: list[FetchItem] = []
    for t in tokens:
        if not isinstance(t, Atom):
            raise ParseError("fetch items are atoms")
        name = t.value.upper()
        if name in MACROS and not isinstance(token, ParenList):
            items.extend(MACROS[name])
        elif name in SIMPLE_ITEMS:
            items.append(name)
        elif name == "RFC822":
            items.append(_section("BODY", "", None, None, label="RFC822"))
        elif name == "RFC822.HEADER":
            items.append(_section("BODY.PEEK", "HEADER", None, None, label="RFC822.HEADER"))
        elif name == "RFC822.TEXT":
            items.append(_section("BODY", "TEXT", None, None, label="RFC822.TEXT"))
        else:
            m = _SECTION_ITEM.match(t.value)
            if m is None:
                raise ParseError(f"unknown fetch item {t.value[:40]}")
            origin = int(m.group(3)) if m.group(3) is not None else None
            length = int(m.group(4)) if m.group(4) is not None else None
            kind = m.group(1).upper()
            if kind.startswith("BINARY"):
                items.append(_binary(kind, m.group(2), origin, length))
            else:
                items.append(_section(kind, m.group(2), origin, length))
    if "UID" not in items:
        items.insert(0, "UID")  # UID FETCH always answers it; harmless for FETCH
    return items


def _binary(kind: str, spec: str, origin: int | None, length: int | None) -> SectionItem:
    """BINARY[part]<partial>, BINARY.PEEK, BINARY.SIZE[part] (RFC 3516): part numbers only."""
    if spec and not re.fullmatch(r"\d{1,5}(?:\.\d{1,5}){0,30}", spec):
        raise ParseError(f"invalid BINARY section {spec[:40]}")
    if kind == "BINARY.SIZE":
        if origin is not None:
            raise ParseError("BINARY.SIZE takes no partial")
        return SectionItem(True, spec, "", (), None, None, f"BINARY.SIZE[{spec}]", "SIZE")
    label = f"BINARY[{spec}]" + (f"<{origin}>" if origin is not None else "")
    return SectionItem(kind.endswith("PEEK"), spec, "", (), origin, length, label, "BINARY")


class UnknownTransferEncoding(ValueError):
    """BINARY of a part whose Content-Transfer-Encoding we cannot undo."""


def decode_part(raw: bytes, row: MessageRow, item: SectionItem) -> bytes | None:
    """The content of a part with its transfer encoding undone (RFC 3516 §4.2)."""
    if not item.part:
        return section_bytes(raw, row, item)
    where = row.meta.part_offsets.get(item.part)
    if where is None and item.part == "1" and not _multipart(row):
        whole = row.meta.part_offsets.get("", [0, row.meta.header_size, len(raw)])
        where = whole
    if where is None:
        return None
    start, body, end = where
    cte = _header_value(raw[start:body], b"content-transfer-encoding").lower() or "7bit"
    data = raw[body:end]
    if cte in ("7bit", "8bit", "binary"):
        return data
    if cte == "base64":
        return binascii.a2b_base64(re.sub(rb"[^A-Za-z0-9+/=]", b"", data) or b"")
    if cte == "quoted-printable":
        return quopri.decodestring(data)
    raise UnknownTransferEncoding(cte)


def _header_value(header: bytes, name: bytes) -> str:
    for field in _header_fields(header):
        key, _, value = field.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("ascii", "replace")
    return ""


def literal8(data: bytes) -> bytes:
    """``~{n}`` when the data holds NUL (RFC 3516), a plain literal otherwise."""
    return (b"~" if b"\0" in data else b"") + literal(data)


def _section(
    kind: str, spec: str, origin: int | None, length: int | None, label: str | None = None
) -> SectionItem:
    part, text = "", ""
    fields: tuple[str, ...] = ()
    spec_norm = " ".join(spec.split())
    m = _FIELDS.match(spec_norm)
    if m:
        head = m.group(1).upper()
        names = tuple(n.strip('"').upper() for n in m.group(2).split() if n.strip('"'))
        if not names:
            raise ParseError("HEADER.FIELDS needs at least one field name")
        text, fields = head, names
        spec_upper = f"{head} ({' '.join(names)})"
    elif spec_norm.upper() in ("", "HEADER", "TEXT"):
        text = spec_norm.upper()
        spec_upper = text
    else:
        m2 = _PART.match(spec_norm.upper().split(" ", 1)[0])
        if m2 is None:
            raise ParseError(f"invalid section {spec[:40]}")
        part, text = m2.group(1), m2.group(2) or ""
        spec_upper = spec_norm.upper()
        if text.startswith("HEADER.FIELDS"):
            fm = _FIELDS.match(spec_norm[len(part) + 1 :])
            if fm is None:
                raise ParseError(f"invalid section {spec[:40]}")
            fields = tuple(n.strip('"').upper() for n in fm.group(2).split() if n.strip('"'))
            text = fm.group(1).upper()
            spec_upper = f"{part}.{text} ({' '.join(fields)})"
    label_text = label or f"BODY[{spec_upper}]" + (f"<{origin}>" if origin is not None else "")
    return SectionItem(kind.endswith("PEEK"), part, text, fields, origin, length, label_text)


def section_bytes(raw: bytes, row: MessageRow, item: SectionItem) -> bytes | None:
    """The bytes of the section (before the partial is applied), None if it does not exist."""
    offsets = row.meta.part_offsets
    if item.part:
        where = offsets.get(item.part)
        if where is None and item.part == "1" and "1" not in offsets and not _multipart(row):
            whole = offsets.get("", [0, row.meta.header_size, len(raw)])
            where = [whole[1], whole[1], whole[2]]  # the body of a single-part message
            if item.text in ("MIME", "HEADER"):
                return b"\r\n" if item.text == "MIME" else raw[: whole[1]]
        if where is None:
            return None
        start, body, end = where
    else:
        start, body, end = offsets.get("", [0, row.meta.header_size, len(raw)])
    if item.text == "" and item.part:
        return raw[body:end]
    if item.text == "":
        return raw[start:end]
    if item.text == "TEXT":
        return raw[body:end]
    if item.text in ("HEADER", "MIME"):
        return raw[start:body]
    header = raw[start:body]
    return _filter_header(header, item.fields, keep=item.text == "HEADER.FIELDS")


def apply_partial(data: bytes, item: SectionItem) -> bytes:
    if item.origin is None:
        return data
    end = None if item.length is None else item.origin + item.length
    return data[item.origin : end]


def _multipart(row: MessageRow) -> bool:
    return row.meta.bodystructure.startswith("((")


def _filter_header(header: bytes, names: tuple[str, ...], keep: bool) -> bytes:
    wanted = {n.lower().encode() for n in names}
    out = []
    for field in _header_fields(header):
        name = field.split(b":", 1)[0].strip().lower()
        if (name in wanted) == keep:
            out.append(field)
    return b"".join(out) + b"\r\n"


def _header_fields(header: bytes) -> list[bytes]:
    fields: list[bytes] = []
    for line in header.splitlines(keepends=True):
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def internal_date(at: datetime) -> str:
    """``dd-Mon-yyyy hh:mm:ss +zzzz`` with English month names whatever the locale."""
    if at.tzinfo is None:  # SQLite returns naive UTC
        at = at.replace(tzinfo=UTC)
    offset = at.strftime("%z") or "+0000"
    return f"{at.day:02d}-{_MONTHS[at.month - 1]}-{at.year:04d} {at:%H:%M:%S} {offset}"


def literal(data: bytes) -> bytes:
    return b"{%d}\r\n" % len(data) + data


def simple_value(item: str, row: MessageRow) -> str:
    """The value of a non-section item, as IMAP text."""
    if item == "FLAGS":
        return "(" + " ".join(row.shown_flags) + ")"
    if item == "UID":
        return str(row.uid)
    if item == "RFC822.SIZE":
        return str(row.size)
    if item == "INTERNALDATE":
        return imap_quote(internal_date(row.internal_date))
    if item == "ENVELOPE":
        return row.meta.envelope
    if item == "BODY":
        return row.meta.body
    if item == "BODYSTRUCTURE":
        return row.meta.bodystructure
    if item == "MODSEQ":
        return f"({row.modseq})"
    raise ValueError(item)  # pragma: no cover
