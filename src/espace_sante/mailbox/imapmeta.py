"""IMAP metadata computed once at delivery: RFC822.SIZE, ENVELOPE, BODY and BODYSTRUCTURE.

The MIME structure is walked over the raw bytes (not re-serialised by the ``email`` package), so
sizes and line counts are those of the stored message, as RFC 3501 §7.4.2 / RFC 9051 §7.5.2
require. Header values in ENVELOPE are sent raw (encoded words stay encoded), as servers do.
Malformed input never raises: a broken part degrades to what its headers allow, a missing
Content-Type to ``text/plain; charset=us-ascii``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

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
    part_offsets: dict[str, list[int]] = field(default_factory=dict)


def compute_meta(raw: bytes) -> MessageMeta:
    """Everything IMAP needs about a stored message, computed once."""
    offsets: dict[str, list[int]] = {}
    headers, header_end, body_start = _split(raw, 0, len(raw))
    structure, simple = _structure(raw, headers, body_start, len(raw), "", offsets, 0, None)
    offsets[""] = [0, body_start, len(raw)]
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
        part_offsets=offsets,
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
    """NIL, a quoted string, or a literal when the value holds CR, LF or NUL."""
    if value is None:
        return "NIL"
    text = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
    if any(ch in text for ch in "\r\n\0"):
        encoded = text.encode("utf-8", "surrogateescape")
        return f"{{{len(encoded)}}}\r\n{text}"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- raw parsing --------------------------------------------------------------------------------

_HEADER_LINE = re.compile(rb"^([!-9;-~]+)[ \t]*:(.*)$", re.S)


def _split(raw: bytes, start: int, end: int) -> tuple[list[tuple[str, str]], int, int]:
    """Headers of the entity at [start, end): (name, raw unfolded value) pairs, end of headers,
    start of body (after the blank line)."""
    if raw.startswith(b"\r\n", start):
        return [], start, start + 2
    if raw.startswith(b"\n", start):
        return [], start, start + 1
    crlf = raw.find(b"\r\n\r\n", start, end)
    lf = raw.find(b"\n\n", start, end)
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


def _structure(
    raw: bytes,
    headers: list[tuple[str, str]],
    body_start: int,
    end: int,
    section: str,
    offsets: dict[str, list[int]],
    depth: int,
    default_type: tuple[str, str] | None,
) -> tuple[str, str]:
    """(BODYSTRUCTURE, BODY) of the entity whose body is raw[body_start:end]."""
    h = _HeaderView(headers)
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
    disposition = _disposition(h.get("content-disposition"))
    language = _language(h.get("content-language"))
    location = imap_quote(h.get("content-location")) if h.get("content-location") else "NIL"
    ext_tail = f"{disposition} {language} {location}"

    boundary = next((v for k, v in params if k.lower() == "boundary"), None)
    if mtype.lower() == "multipart" and boundary and depth < MAX_DEPTH:
        children_full, children_simple = [], []
        sub_default = ("message", "rfc822") if subtype.lower() == "digest" else None
        for index, (p_start, p_end) in enumerate(
            _multipart_parts(raw, body_start, end, boundary), 1
        ):
            child = f"{section}.{index}" if section else str(index)
            ch_headers, _, ch_body = _split(raw, p_start, p_end)
            offsets[child] = [p_start, ch_body, p_end]
            full, simple = _structure(
                raw, ch_headers, ch_body, p_end, child, offsets, depth + 1, sub_default
            )
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
    if mtype.lower() == "message" and subtype.lower() in ("rfc822", "global") and depth < MAX_DEPTH:
        inner_headers, _, inner_body = _split(raw, body_start, end)
        inner_section = section or "1"
        full_in, simple_in = _structure(
            raw, inner_headers, inner_body, end, inner_section, offsets, depth + 1, None
        )
        if section and f"{section}.1" not in offsets:
            # A non-multipart encapsulated message has one part, S.1: its body, with the
            # encapsulated header as MIME header (RFC 9051 §6.4.5).
            offsets[f"{section}.1"] = [body_start, inner_body, end]
        env = _envelope(_HeaderView(inner_headers))
        lines = _count_lines(raw, body_start, end)
        return (
            f"({basic} {env} {full_in} {lines} {md5} {ext_tail})",
            f"({basic} {env} {simple_in} {lines})",
        )
    return f"({basic} {md5} {ext_tail})", f"({basic})"


def _multipart_parts(raw: bytes, start: int, end: int, boundary: str) -> list[tuple[int, int]]:
    """[start, end) of each body part between delimiter lines (RFC 2046 §5.1.1)."""
    delim = b"--" + boundary.encode("utf-8", "surrogateescape")
    parts: list[tuple[int, int]] = []
    pos = start
    current: int | None = None
    while pos < end:
        line_end = raw.find(b"\n", pos, end)
        next_pos = end if line_end == -1 else line_end + 1
        line = raw[pos:next_pos].rstrip(b"\r\n")
        if line.startswith(delim):
            rest = line[len(delim) :]
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
        pos = next_pos
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
    if not text or not text.strip():
        return "NIL"
    out: list[str] = []
    for item in _split_address_list(text):
        if isinstance(item, tuple):  # a group
            name, members = item
            out.append(f"(NIL NIL {imap_quote(name)} NIL)")
            out.extend(_one_address(m) for m in members if _one_address(m))
            out.append("(NIL NIL NIL NIL)")
        else:
            rendered = _one_address(item)
            if rendered:
                out.append(rendered)
    return "(" + "".join(out) + ")" if out else "NIL"


def _one_address(text: str) -> str:
    pairs = getaddresses([text])
    if not pairs:
        return ""
    name, addr = pairs[0]
    if not addr and not name:
        return ""
    mailbox, at, host = addr.rpartition("@")
    if not at:
        mailbox, host = addr, ""
    raw_name = _raw_display_name(text)
    return (
        f"({imap_quote(raw_name) if raw_name else 'NIL'} NIL "
        f"{imap_quote(mailbox) if mailbox else 'NIL'} {imap_quote(host) if host else 'NIL'})"
    )


def _raw_display_name(text: str) -> str | None:
    """The display name as written (encoded words kept), quotes removed."""
    if "<" not in text:
        m = re.search(r"\(([^)]*)\)", text)
        return m.group(1).strip() or None if m else None
    name = text.split("<", 1)[0].strip()
    if len(name) >= 2 and name[0] == '"' and name[-1] == '"':
        name = re.sub(r"\\(.)", r"\1", name[1:-1])
    return name or None


def _split_address_list(text: str) -> list[Any]:
    """Split on top-level commas; ``name: a, b;`` becomes a (name, [a, b]) group."""
    items: list[Any] = []
    buf: list[str] = []
    group: tuple[str, list[str]] | None = None
    quoted = angle = False
    depth = 0
    for ch in text:
        if ch == '"' and depth == 0:
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")" and depth:
            depth -= 1
        elif not quoted and depth == 0 and ch == "<":
            angle = True
        elif not quoted and depth == 0 and ch == ">":
            angle = False
        elif not quoted and depth == 0 and not angle and ch == ":" and group is None:
            group = ("".join(buf).strip().strip('"'), [])
            buf = []
            continue
        elif not quoted and depth == 0 and not angle and ch in ",;":
            token = "".join(buf).strip()
            buf = []
            if group is not None:
                if token:
                    group[1].append(token)
                if ch == ";":
                    items.append(group)
                    group = None
            elif token:
                items.append(token)
            continue
        buf.append(ch)
    token = "".join(buf).strip()
    if group is not None:
        if token:
            group[1].append(token)
        items.append(group)
    elif token:
        items.append(token)
    return items


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
