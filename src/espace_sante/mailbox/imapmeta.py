"""IMAP metadata computed once at delivery: RFC822.SIZE, ENVELOPE, BODY and BODYSTRUCTURE.

The MIME structure is walked over the raw bytes (not re-serialised by the ``email`` package), so
sizes and line counts are those of the stored message, as RFC 3501 §7.4.2 / RFC 9051 §7.5.2
require. Header values in ENVELOPE are sent raw (encoded words stay encoded), as servers do.
Malformed input never raises: a broken part degrades to what its headers allow, a missing
Content-Type to ``text/plain; charset=us-ascii``.
"""

from __future__ import annotations

import binascii
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime

MAX_DEPTH = 20


@dataclass(frozen=True)
class MessageMeta:
    size: int
    envelope: str
    body: str
    bodystructure: str
    header_size: int
    date: datetime | None
    subject: str
    from_addr: str
    to_addr: str
    cc_addr: str
    message_id: str | None
    #: No longer written (body sections are located in the raw message when fetched, see
    #: ``locate``); kept so that the metadata of messages stored before still loads.
    part_offsets: dict[str, list[int]] = field(default_factory=dict)


def compute_meta(raw: bytes) -> MessageMeta:
    """Everything IMAP needs about a stored message, computed once."""
    headers, _, body_start = _split(raw, 0, len(raw))
    structure, simple = _structure(raw, headers, body_start, len(raw), 0, None)
    h = _HeaderView(headers)
    date = None
    date_text = h.get("date")
    if date_text:
        try:
            date = parsedate_to_datetime(date_text)
            if date is not None and date.tzinfo is None:
                date = date.replace(tzinfo=UTC)
        except (TypeError, ValueError, IndexError):
            date = None
    return MessageMeta(
        size=len(raw),
        envelope=_envelope(h),
        body=simple,
        bodystructure=structure,
        header_size=body_start,
        date=date,
        subject=_decoded(h.get("subject") or ""),
        from_addr=_first_address(h.get("from")),
        to_addr=_first_address(h.get("to")),
        cc_addr=_first_address(h.get("cc")),
        message_id=(h.get("message-id") or "").strip() or None,
    )


def to_json(meta: MessageMeta) -> str:
    data = asdict(meta)
    data["date"] = meta.date.isoformat() if meta.date else None
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def from_json(text: str) -> MessageMeta:
    data = json.loads(text)
    data["date"] = datetime.fromisoformat(data["date"]) if data.get("date") else None
    return MessageMeta(**data)


def imap_quote(value: str | bytes | None) -> str:
    """NIL, a quoted string, or a literal when the value holds CR or LF."""
    if value is None:
        return "NIL"
    text = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
    # NUL may appear in no IMAP string (RFC 9051 §4.3): shown as U+FFFD, as Dovecot does
    text = text.replace("\0", "\ufffd")
    if any(ch in text for ch in "\r\n"):
        encoded = text.encode("utf-8", "surrogateescape")
        return f"{{{len(encoded)}}}\r\n{text}"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- raw parsing --------------------------------------------------------------------------------

_HEADER_LINE = re.compile(rb"^([!-9;-~]+)[ \t]*:(.*)$", re.S)


def _split(raw: bytes, start: int, end: int) -> tuple[list[tuple[str, str]], int, int]:
    """Headers of the entity at [start, end): (name, raw unfolded value) pairs, end of headers,
    start of body (after the blank line)."""
    if raw.startswith(b"\r\n", start, end):
        return [], start, start + 2
    if raw.startswith(b"\n", start, end):
        return [], start, start + 1
    crlf = raw.find(b"\r\n\r\n", start, end)
    # only a blank LF line before the CRLF one matters (searching further through a body of
    # short lines would be slow)
    lf = raw.find(b"\n\n", start, end if crlf == -1 else crlf + 2)
    candidates = [(crlf, 4), (lf, 2)]
    found = [(pos, width) for pos, width in candidates if pos != -1]
    if not found:
        header_end, body_start = end, end
    else:
        pos, width = min(found)
        header_end, body_start = pos + (2 if width == 4 else 1), pos + width
    block = raw[start:header_end]
    headers: list[tuple[str, str]] = []
    for line in re.split(rb"\r?\n(?![ \t])", block):
        if not line.strip():
            continue
        m = _HEADER_LINE.match(line)
        if not m:
            continue
        value = re.sub(rb"\r?\n", b"", m.group(2)).strip()
        headers.append(
            (m.group(1).decode("ascii").lower(), value.decode("utf-8", "surrogateescape"))
        )
    return headers, header_end, body_start


class _HeaderView:
    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.headers = headers

    def get(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


def _params(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``value; a=b; c="d"`` → (value, [(a, b), (c, d)]), quotes removed, names as given."""
    parts = _split_semicolons(text)
    head = parts[0].strip() if parts else ""
    params = []
    for part in parts[1:]:
        name, eq, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name:
            continue
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params.append((name, value))
    return head, _join_continuations(params)


_CONTINUATION = re.compile(r"^(.+?)\*(\d+)(\*?)$")


def _join_continuations(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """RFC 2231 §3: ``n*0``, ``n*1``… joined in index order into ``n`` (or ``n*`` when the first
    segment is charset-encoded, left encoded), in the place of the first segment; as Dovecot does.
    """
    segments: dict[str, list[tuple[int, str, bool]]] = {}
    for name, value in params:
        m = _CONTINUATION.match(name)
        if m:
            segments.setdefault(m.group(1).lower(), []).append(
                (int(m.group(2)), value, bool(m.group(3)))
            )
    if not segments:
        return params
    out: list[tuple[str, str]] = []
    for name, value in params:
        m = _CONTINUATION.match(name)
        if not m:
            out.append((name, value))
            continue
        base = m.group(1).lower()
        parts = segments.pop(base, None)
        if parts is None:  # already joined at its first segment
            continue
        parts.sort(key=lambda p: p[0])
        encoded = parts[0][2]
        out.append((m.group(1) + ("*" if encoded else ""), "".join(p[1] for p in parts)))
    return out


def _split_semicolons(text: str) -> list[str]:
    out, buf, quoted, escape = [], [], False, False
    for ch in text:
        if escape:
            buf.append(ch)
            escape = False
        elif ch == "\\" and quoted:
            buf.append(ch)
            escape = True
        elif ch == '"':
            quoted = not quoted
            buf.append(ch)
        elif ch == ";" and not quoted:
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    out.append("".join(buf))
    return out


def _param_list(params: list[tuple[str, str]]) -> str:
    if not params:
        return "NIL"
    return "(" + " ".join(f"{imap_quote(k)} {imap_quote(v)}" for k, v in params) + ")"


def _count_lines(raw: bytes, start: int, end: int) -> int:
    if end <= start:
        return 0
    # Counted as servers do (Dovecot, Cyrus): line feeds, so an unterminated last line adds none.
    return raw.count(b"\n", start, end)


def _content_type(
    h: _HeaderView, default_type: tuple[str, str] | None
) -> tuple[str, str, list[tuple[str, str]]]:
    """(type, subtype, parameters) as written; an unreadable or missing Content-Type is
    ``default_type`` (message/rfc822 in a digest) or text/plain; charset=us-ascii."""
    ctype_text = h.get("content-type")
    mtype, subtype = "", ""
    params: list[tuple[str, str]] = []
    if ctype_text:
        value, params = _params(ctype_text)
        if "/" in value:
            mtype, _, subtype = value.partition("/")
            mtype, subtype = mtype.strip(), subtype.strip()
    if not mtype or not subtype or not re.fullmatch(r"[!-~]+", mtype + subtype):
        mtype, subtype = default_type or ("text", "plain")
        params = [("charset", "us-ascii")] if mtype.lower() == "text" else []
    return mtype, subtype, params


def _kind(mtype: str, subtype: str, params: list[tuple[str, str]], depth: int) -> str:
    """ "multipart" (with a boundary), "message" (an encapsulated message) or "leaf"; below
    MAX_DEPTH everything is a leaf. BODYSTRUCTURE and the body sections agree through this."""
    if depth >= MAX_DEPTH:
        return "leaf"
    if mtype.lower() == "multipart" and _boundary(params):
        return "multipart"
    if mtype.lower() == "message" and subtype.lower() in ("rfc822", "global"):
        return "message"
    return "leaf"


def _boundary(params: list[tuple[str, str]]) -> str | None:
    return next((v for k, v in params if k.lower() == "boundary"), None) or None


def _structure(
    raw: bytes,
    headers: list[tuple[str, str]],
    body_start: int,
    end: int,
    depth: int,
    default_type: tuple[str, str] | None,
) -> tuple[str, str]:
    """(BODYSTRUCTURE, BODY) of the entity whose body is raw[body_start:end]."""
    h = _HeaderView(headers)
    mtype, subtype, params = _content_type(h, default_type)
    disposition = _disposition(h.get("content-disposition"))
    language = _language(h.get("content-language"))
    location = imap_quote(h.get("content-location")) if h.get("content-location") else "NIL"
    ext_tail = f"{disposition} {language} {location}"

    kind = _kind(mtype, subtype, params, depth)
    if kind == "multipart":
        children_full, children_simple = [], []
        sub_default = ("message", "rfc822") if subtype.lower() == "digest" else None
        for p_start, p_end in _multipart_parts(raw, body_start, end, _boundary(params) or ""):
            ch_headers, _, ch_body = _split(raw, p_start, p_end)
            full, simple = _structure(raw, ch_headers, ch_body, p_end, depth + 1, sub_default)
            children_full.append(full)
            children_simple.append(simple)
        if not children_full:  # no usable part: an empty text part, as servers do
            empty = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0'
            children_full, children_simple = [empty + " NIL NIL NIL NIL)"], [empty + ")"]
        sub = imap_quote(subtype)
        full = f"({''.join(children_full)} {sub} {_param_list(params)} {ext_tail})"
        simple = f"({''.join(children_simple)} {sub})"
        return full, simple
    if mtype.lower() == "multipart":  # no boundary: treat as text/plain
        mtype, subtype, params = "text", "plain", [("charset", "us-ascii")]
    if mtype.lower() == "text" and not any(k.lower() == "charset" for k, _ in params):
        params = [*params, ("charset", "us-ascii")]  # RFC 2045 §5.2's default, made explicit

    cte = (h.get("content-transfer-encoding") or "7bit").strip() or "7bit"
    basic = (
        f"{imap_quote(mtype)} {imap_quote(subtype)} {_param_list(params)} "
        f"{imap_quote(h.get('content-id')) if h.get('content-id') else 'NIL'} "
        f"{imap_quote(h.get('content-description')) if h.get('content-description') else 'NIL'} "
        f"{imap_quote(cte)} {max(0, end - body_start)}"
    )
    md5 = imap_quote(h.get("content-md5")) if h.get("content-md5") else "NIL"
    if mtype.lower() == "text":
        lines = _count_lines(raw, body_start, end)
        return f"({basic} {lines} {md5} {ext_tail})", f"({basic} {lines})"
    if kind == "message":
        inner_headers, _, inner_body = _split(raw, body_start, end)
        full_in, simple_in = _structure(raw, inner_headers, inner_body, end, depth + 1, None)
        env = _envelope(_HeaderView(inner_headers))
        lines = _count_lines(raw, body_start, end)
        return (
            f"({basic} {env} {full_in} {lines} {md5} {ext_tail})",
            f"({basic} {env} {simple_in} {lines})",
        )
    return f"({basic} {md5} {ext_tail})", f"({basic})"


# -- body sections ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One MIME entity of a stored message: its header is raw[start:body] (the blank line
    included), its body raw[body:end]."""

    start: int
    body: int
    end: int
    headers: list[tuple[str, str]]
    kind: str  # "multipart", "message" (message/rfc822 or message/global) or "leaf"
    subtype: str  # lower case
    boundary: str | None
    depth: int

    def header(self, name: str) -> str | None:
        return _HeaderView(self.headers).get(name)


def entity(
    raw: bytes, start: int, end: int, depth: int = 0, default_type: tuple[str, str] | None = None
) -> Part:
    """The entity at raw[start:end] (the whole message by default)."""
    headers, _, body = _split(raw, start, end)
    mtype, subtype, params = _content_type(_HeaderView(headers), default_type)
    kind = _kind(mtype, subtype, params, depth)
    return Part(start, body, end, headers, kind, subtype.lower(), _boundary(params), depth)


def children(raw: bytes, part: Part) -> list[Part]:
    """A multipart's body parts; the one encapsulated message of a message part; nothing for a
    leaf. The same walk as BODYSTRUCTURE's, so part numbers agree with it."""
    if part.kind == "multipart":
        default = ("message", "rfc822") if part.subtype == "digest" else None
        return [
            entity(raw, s, e, part.depth + 1, default)
            for s, e in _multipart_parts(raw, part.body, part.end, part.boundary or "")
        ]
    if part.kind == "message":
        return [entity(raw, part.body, part.end, part.depth + 1)]
    return []


def locate(raw: bytes, section: str) -> Part | None:
    """The entity a section part number (``1.2.3``) names, None when there is none
    (RFC 9051 §6.4.5). A message that is not multipart has one part, 1: itself (its header is
    that part's MIME header); the parts of a message/rfc822 part are those of the message it
    encapsulates, so ``1.1`` of a message/rfc822 part 1 whose message is not multipart is that
    message's body. As Dovecot, ``n.1`` of a leaf inside a multipart is the leaf itself."""
    node: Part | None = entity(raw, 0, len(raw))
    numbers = [int(n) for n in section.split(".")]
    for i, number in enumerate(numbers):
        assert node is not None
        more = i < len(numbers) - 1
        if node.kind == "multipart":
            parts = children(raw, node)
            node = parts[number - 1] if 1 <= number <= len(parts) else None
        elif number != 1 or (more and node.kind != "message"):
            node = None
        if node is None:
            return None
        if more and node.kind == "message":
            node = children(raw, node)[0]
    return node


def _multipart_parts(raw: bytes, start: int, end: int, boundary: str) -> list[tuple[int, int]]:
    """[start, end) of each body part between delimiter lines (RFC 2046 §5.1.1): lines that
    begin with ``--boundary`` followed by white space only, or ``--`` for the closing one.
    Candidates are found by a byte search, so a large attachment costs no Python loop."""
    delim = b"--" + boundary.encode("utf-8", "surrogateescape")
    parts: list[tuple[int, int]] = []
    current: int | None = None
    pos = raw.find(delim, start, end)
    while pos != -1:
        if pos == start or raw[pos - 1] == 0x0A:  # at the start of a line
            line_end = raw.find(b"\n", pos, end)
            next_pos = end if line_end == -1 else line_end + 1
            rest = raw[pos + len(delim) : next_pos].rstrip(b"\r\n")
            closing = rest.startswith(b"--")
            if closing or not rest.strip(b" \t"):
                if current is not None:
                    part_end = pos
                    if raw[part_end - 2 : part_end] == b"\r\n" and part_end - 2 >= current:
                        part_end -= 2
                    elif raw[part_end - 1 : part_end] == b"\n" and part_end - 1 >= current:
                        part_end -= 1
                    parts.append((current, part_end))
                if closing:
                    return parts
                current = next_pos
                pos = raw.find(delim, next_pos, end)
                continue
        pos = raw.find(delim, pos + 1, end)
    if current is not None and current <= end:  # unterminated: the last part runs to the end
        parts.append((current, end))
    return parts


def _disposition(text: str | None) -> str:
    if not text:
        return "NIL"
    value, params = _params(text)
    if not value:
        return "NIL"
    return f"({imap_quote(value)} {_param_list(params)})"


def _language(text: str | None) -> str:
    if not text:
        return "NIL"
    tags = [t.strip() for t in re.split(r"[,\s]+", text) if t.strip()]
    if not tags:
        return "NIL"
    return "(" + " ".join(imap_quote(t) for t in tags) + ")"


# -- binary content appended ------------------------------------------------------------------

_BINARY_CTE = re.compile(rb"(?im)^content-transfer-encoding[ \t]*:[ \t]*binary")
_CTE_FIELD = re.compile(rb"(?i)content-transfer-encoding[ \t]*:")


def encode_binary_parts(raw: bytes) -> bytes:
    """The message with each leaf whose content is binary (declared
    ``Content-Transfer-Encoding: binary``, or holding NUL octets) re-encoded in base64, its
    header saying so; ``raw`` itself when there is none. For APPEND of binary content
    (RFC 3516 §4.4: the server may change the CTE, losing no data), so that BODYSTRUCTURE and
    BODY describe the message in a CTE of the base protocol (§6) while BINARY still returns the
    original octets; Dovecot does the same."""
    if b"\0" not in raw and not _BINARY_CTE.search(raw):
        return raw
    return _encoded_entity(raw, entity(raw, 0, len(raw)))


def _encoded_entity(raw: bytes, part: Part) -> bytes:
    if part.kind != "leaf":
        out, pos = [raw[part.start : part.body]], part.body
        for child in children(raw, part):
            out += [raw[pos : child.start], _encoded_entity(raw, child)]
            pos = child.end
        out.append(raw[pos : part.end])
        return b"".join(out)
    cte = (part.header("content-transfer-encoding") or "7bit").strip().lower()
    body = raw[part.body : part.end]
    if cte not in ("7bit", "8bit", "binary") or (cte != "binary" and b"\0" not in body):
        return raw[part.start : part.end]
    header = raw[part.start : part.body]
    fields = [
        f for f in re.split(rb"(?<=\n)(?![ \t])", header) if f.strip() and not _CTE_FIELD.match(f)
    ]
    if fields and not fields[-1].endswith(b"\n"):
        fields[-1] += b"\r\n"
    encoded = binascii.b2a_base64(body, newline=False)
    lines = b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    return b"".join(fields) + b"Content-Transfer-Encoding: base64\r\n\r\n" + lines


# -- envelope -----------------------------------------------------------------------------------


def _envelope(h: _HeaderView) -> str:
    from_ = _addresses(h.get("from"))
    sender = _addresses(h.get("sender")) if h.get("sender") else from_
    reply_to = _addresses(h.get("reply-to")) if h.get("reply-to") else from_
    fields = [
        imap_quote(h.get("date")) if h.get("date") is not None else "NIL",
        imap_quote(h.get("subject")) if h.get("subject") is not None else "NIL",
        from_,
        sender,
        reply_to,
        _addresses(h.get("to")),
        _addresses(h.get("cc")),
        _addresses(h.get("bcc")),
        imap_quote(h.get("in-reply-to")) if h.get("in-reply-to") is not None else "NIL",
        imap_quote(h.get("message-id")) if h.get("message-id") is not None else "NIL",
    ]
    return "(" + " ".join(fields) + ")"


def _addresses(text: str | None) -> str:
    """An ENVELOPE address list (RFC 9051 §7.5.2): one ``(name adl mailbox host)`` per
    mailbox, a group as ``(NIL NIL name NIL)``, its members, then ``(NIL NIL NIL NIL)``."""
    if not text or not text.strip():
        return "NIL"
    out: list[str] = []
    for item in address_list(text):
        if isinstance(item, Group):
            out.append(f"(NIL NIL {imap_quote(item.name)} NIL)")
            out.extend(_address_text(m) for m in item.members)
            out.append("(NIL NIL NIL NIL)")
        else:
            out.append(_address_text(item))
    return "(" + "".join(out) + ")" if out else "NIL"


def _address_text(a: Address) -> str:
    def n(v: str | None) -> str:
        return imap_quote(v) if v else "NIL"

    return f"({n(a.name)} {n(a.adl)} {n(a.mailbox)} {n(a.host)})"


#: What an address lacks, spelled as Dovecot does: a NIL host would read as a group's start.
MISSING_MAILBOX = "MISSING_MAILBOX"
MISSING_DOMAIN = "MISSING_DOMAIN"


@dataclass(frozen=True)
class Address:
    """A mailbox of an address list: display name (as written: encoded words stay encoded),
    route (``@a,@b``: RFC 5322 §4.4 obs-route), local part and domain."""

    name: str | None
    adl: str | None
    mailbox: str
    host: str


@dataclass(frozen=True)
class Group:
    """``name: member, member;`` (RFC 5322 §3.4)."""

    name: str
    members: list[Address]


# (kind, text, preceded by white space or a comment): kind is "atom", "quoted", "comment",
# "literal" ([domain literal]) or "special" (one of < > @ , : ; .)
_Token = tuple[str, str, bool]
_ADDRESS_SPECIALS = "<>@,:;."


def _address_tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n, spaced = 0, len(text), False
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            spaced = True
            i += 1
            continue
        if ch == '"':
            buf, i = [], i + 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                if text[i] not in "\r\n":
                    buf.append(text[i])
                i += 1
            tokens.append(("quoted", "".join(buf), spaced))
            i += 1
        elif ch == "(":
            depth, buf, i = 1, [], i + 1
            while i < n:
                c = text[i]
                if c == "\\" and i + 1 < n:
                    buf.append(text[i + 1])
                    i += 2
                    continue
                depth += (c == "(") - (c == ")")
                if depth == 0:
                    break
                buf.append(c)
                i += 1
            tokens.append(("comment", "".join(buf).strip(), spaced))
            i += 1
            spaced = True
            continue
        elif ch == "[":
            close = text.find("]", i)
            close = n - 1 if close == -1 else close
            tokens.append(("literal", text[i : close + 1], spaced))
            i = close + 1
        elif ch in _ADDRESS_SPECIALS:
            tokens.append(("special", ch, spaced))
            i += 1
        else:
            j = i
            while j < n and text[j] not in ' \t\r\n"()[' + _ADDRESS_SPECIALS:
                j += 1
            tokens.append(("atom", text[i:j], spaced))
            i = j
        spaced = False
    return tokens


def address_list(text: str) -> list[Address | Group]:
    """The mailboxes and groups of an address header (RFC 5322 §3.4, with the obsolete
    syntax of §4.4: routes, empty list elements, CFWS around dots), parsed leniently: what
    cannot be read is skipped or marked missing, never raised."""
    tokens = _address_tokens(text)
    items: list[Address | Group] = []
    group: Group | None = None
    element: list[_Token] = []
    angle = False

    def flush() -> None:
        address = _address(element)
        element.clear()
        if address is not None:
            (group.members if group is not None else items).append(address)

    for token in tokens:
        kind, value, _ = token
        if kind == "special" and not angle:
            if value == "<":
                angle = True
            elif value == ",":
                flush()
                continue
            elif value == ":" and group is None:
                group = Group(_phrase(element) or "", [])
                element.clear()
                continue
            elif value == ";":
                flush()
                if group is not None:
                    items.append(group)
                    group = None
                continue
        elif kind == "special" and value == ">":
            angle = False
        element.append(token)
    flush()
    if group is not None:  # an unterminated group ends with the header
        items.append(group)
    return items


def _phrase(tokens: list[_Token]) -> str | None:
    """Words joined by one space where the header separated them; comments dropped."""
    out = ""
    for kind, value, spaced in tokens:
        if kind == "comment":
            continue
        if out and spaced:
            out += " "
        out += value
    return out or None


def _address(tokens: list[_Token]) -> Address | None:
    words = [t for t in tokens if t[0] != "comment"]
    if not words:
        return None
    opening = next((i for i, t in enumerate(words) if t[:2] == ("special", "<")), None)
    if opening is None:  # addr-spec, the name (if any) in a comment: "u@d (Real Name)"
        comments = [t[1] for t in tokens if t[0] == "comment" and t[1]]
        name = comments[-1] if comments else None
        spec = words
        adl = None
    else:
        name = _phrase(words[:opening])
        closing = next(
            (i for i, t in enumerate(words) if i > opening and t[:2] == ("special", ">")),
            len(words),
        )
        spec = words[opening + 1 : closing]
        adl = None
        colon = next((i for i, t in enumerate(spec) if t[:2] == ("special", ":")), None)
        if colon is not None and spec and spec[0][:2] in (("special", "@"), ("special", ",")):
            route, spec = spec[:colon], spec[colon + 1 :]
            domains = _joined(route).split(",")
            adl = ",".join(d for d in (d.strip() for d in domains) if d.strip("@")) or None
        if not spec and name is None and closing == len(words):
            return None
    at = next((i for i, t in enumerate(spec) if t[:2] == ("special", "@")), None)
    if at is None:
        local, domain = _joined(spec), ""
    else:
        after = spec[at + 1 :]
        second = next((i for i, t in enumerate(after) if t[:2] == ("special", "@")), len(after))
        local, domain = _joined(spec[:at]), _joined(after[:second])
    return Address(name, adl, local or MISSING_MAILBOX, domain or MISSING_DOMAIN)


def _joined(tokens: list[_Token]) -> str:
    """A local part, domain or route as its tokens without the white space between them."""
    return "".join(value for kind, value, _ in tokens if kind != "comment")


def _decoded(text: str) -> str:
    try:
        return str(make_header(decode_header(text)))
    except Exception:
        return text


def _first_address(text: str | None) -> str:
    if not text:
        return ""
    pairs = getaddresses([text])
    for name, addr in pairs:
        if addr:
            return f"{_decoded(name)} <{addr}>".strip() if name else addr
    return ""
