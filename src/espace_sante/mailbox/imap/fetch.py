"""FETCH items (RFC 9051 §6.4.5): parsing the requested attributes and producing their values
from the stored metadata and, for body sections, the raw message and its part offsets."""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from espace_sante.mailbox import imapmeta
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


#: Messages larger than this are cut into sections in a worker thread, off the event loop.
OFFLOAD_BYTES = 1024 * 1024
_IDENTITY = ("7bit", "8bit", "binary")


def render(items: list[FetchItem], row: MessageRow, raw: bytes | None) -> list[bytes]:
    """The ``name value`` of each item for one message (``raw`` is needed for sections).

    Raises :class:`UnknownTransferEncoding` for BINARY of a part we cannot decode."""
    parts: list[bytes] = []
    for item in items:
        if isinstance(item, str):
            parts.append(f"{item} {simple_value(item, row)}".encode())
            continue
        assert raw is not None
        if item.binary:
            data = binary_bytes(raw, item)
            if item.binary == "SIZE":
                parts.append(f"{item.label} {len(data)}".encode())
                continue
            value = literal8(apply_partial(data, item))
        else:
            value = literal(without_nul(apply_partial(section_bytes(raw, item), item)))
        parts.append(item.label.encode() + b" " + value)
    return parts


def section_bytes(raw: bytes, item: SectionItem) -> bytes:
    """The bytes of a BODY section, before the partial (RFC 9051 §6.4.5). A part that does
    not exist, and HEADER or TEXT of a part that is no message/rfc822, are empty, as Dovecot
    answers (the RFC leaves it open)."""
    if not item.part:
        return _message_section(raw, imapmeta.entity(raw, 0, len(raw)), item)
    part = imapmeta.locate(raw, item.part)
    if part is None:
        return b""
    if item.text == "":
        return raw[part.body : part.end]
    if item.text == "MIME":
        return raw[part.start : part.body]
    if part.kind != "message":
        return b""
    return _message_section(raw, imapmeta.children(raw, part)[0], item)


def _message_section(raw: bytes, message: imapmeta.Part, item: SectionItem) -> bytes:
    """``[]``, ``HEADER``, ``TEXT`` or ``HEADER.FIELDS[.NOT]`` of a message (the whole one,
    or the one a message/rfc822 part encapsulates)."""
    if item.text == "":
        return raw[message.start : message.end]
    if item.text == "TEXT":
        return raw[message.body : message.end]
    header = raw[message.start : message.body]
    if item.text == "HEADER":
        return header
    return _filter_header(header, item.fields, keep=item.text == "HEADER.FIELDS")


def without_nul(data: bytes) -> bytes:
    """NUL may not appear in a literal (RFC 9051 §4.3): as Dovecot, each becomes 0x80, so the
    size is unchanged. BINARY sends such data unchanged in a literal8 instead."""
    return data.replace(b"\0", b"\x80") if b"\0" in data else data


def binary_bytes(raw: bytes, item: SectionItem) -> bytes:
    """BINARY[part]: the section with its Content-Transfer-Encoding undone (RFC 3516 §4.2).
    A leaf's content decoded; a message or multipart (``BINARY[]`` included) with every leaf
    in it decoded and marked ``Content-Transfer-Encoding: binary``, as Dovecot does; empty for
    a part that does not exist (as Dovecot)."""
    if not item.part:
        return _binary_entity(raw, imapmeta.entity(raw, 0, len(raw)))
    part = imapmeta.locate(raw, item.part)
    if part is None:
        return b""
    if part.kind == "leaf":
        return _decoded_body(raw, part)
    if part.kind == "message":
        return _binary_entity(raw, imapmeta.children(raw, part)[0])
    return _binary_multipart_body(raw, part)


def _binary_entity(raw: bytes, part: imapmeta.Part) -> bytes:
    """A whole entity, header and body, with its leaves decoded."""
    if part.kind == "message":
        return raw[part.start : part.body] + _binary_entity(raw, imapmeta.children(raw, part)[0])
    if part.kind == "multipart":
        return raw[part.start : part.body] + _binary_multipart_body(raw, part)
    if _cte(part) in _IDENTITY:
        return raw[part.start : part.end]
    return _binary_header(raw[part.start : part.body]) + _decoded_body(raw, part)


def _binary_multipart_body(raw: bytes, part: imapmeta.Part) -> bytes:
    """A multipart's body, preamble, delimiters and epilogue as they are, each part converted."""
    out, pos = [], part.body
    for child in imapmeta.children(raw, part):
        out += [raw[pos : child.start], _binary_entity(raw, child)]
        pos = child.end
    out.append(raw[pos : part.end])
    return b"".join(out)


def _binary_header(header: bytes) -> bytes:
    """The header without its Content-Transfer-Encoding, ``Content-Transfer-Encoding: binary``
    last (where Dovecot puts it), then the blank line."""
    eol = b"\n" if header.endswith(b"\n") and not header.endswith(b"\r\n") else b"\r\n"
    kept = [
        f
        for f in _header_fields(header)
        if f.split(b":", 1)[0].strip().lower() != b"content-transfer-encoding"
    ]
    if kept and not kept[-1].endswith(b"\n"):
        kept[-1] += eol
    return b"".join(kept) + b"Content-Transfer-Encoding: binary" + eol + eol


def _cte(part: imapmeta.Part) -> str:
    value = (part.header("content-transfer-encoding") or "").strip().lower()
    return re.split(r"[\s(;]", value, maxsplit=1)[0] or "7bit"


def _decoded_body(raw: bytes, part: imapmeta.Part) -> bytes:
    cte = _cte(part)
    data = raw[part.body : part.end]
    if cte in _IDENTITY:
        return data
    if cte == "base64":
        return decode_base64(data)
    if cte == "quoted-printable":
        return decode_quoted_printable(data)
    raise UnknownTransferEncoding(cte)


_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_BASE64 = bytes(sorted(set(range(256)) - set(_BASE64_ALPHABET)))


def decode_base64(data: bytes) -> bytes:
    """RFC 2045 §6.8: characters outside the alphabet are ignored, and the first ``=`` ends
    the data; an incomplete last quantum is decoded as far as it goes. Never raises."""
    end = data.find(b"=")
    if end != -1:
        data = data[:end]
    data = data.translate(None, _NOT_BASE64)
    if len(data) % 4 == 1:  # six bits make no octet
        data = data[:-1]
    return binascii.a2b_base64(data + b"=" * (-len(data) % 4))


_TRAILING_WHITESPACE = re.compile(rb"[ \t]+(?=\r?\n|\Z)")


def decode_quoted_printable(data: bytes) -> bytes:
    """RFC 2045 §6.7: white space at the end of an encoded line is removed (rule 3), then
    ``=`` at the end of a line is a soft line break (rule 5) and ``=XX`` an octet (rule 1);
    an ``=`` followed by anything else is kept as it is (the robust reading of note 2)."""
    return binascii.a2b_qp(_TRAILING_WHITESPACE.sub(b"", data))


def literal8(data: bytes) -> bytes:
    """``~{n}`` when the data holds NUL (RFC 3516), a plain literal otherwise: RFC 3516 §4.3
    says 8-bit data without NUL SHOULD be sent as a string."""
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


def apply_partial(data: bytes, item: SectionItem) -> bytes:
    if item.origin is None:
        return data
    end = None if item.length is None else item.origin + item.length
    return data[item.origin : end]


def _filter_header(header: bytes, names: tuple[str, ...], keep: bool) -> bytes:
    """The fields named (or all others), in their order, then the blank line: RFC 3501
    §6.4.5 keeps it "except in the case of a message which has no body and no blank line"."""
    wanted = {n.lower().encode() for n in names}
    out = []
    for field in _header_fields(header):
        name = field.split(b":", 1)[0].strip().lower()
        if (name in wanted) == keep:
            out.append(field if field.endswith(b"\n") else field + b"\r\n")
    blank = header in (b"\r\n", b"\n") or header.endswith((b"\n\r\n", b"\n\n"))
    return b"".join(out) + (b"\r\n" if blank else b"")


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
