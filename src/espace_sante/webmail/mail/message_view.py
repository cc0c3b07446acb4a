"""What the message page shows of a parsed message: headers, a safe body, attachments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from espace_sante.webmail.mail.sanitize import SafeBody, render_text, sanitise_html


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    size: int
    section: str  # the IMAP part number to download it with (BINARY[section])


@dataclass(frozen=True)
class MessageView:
    subject: str
    sender_name: str
    sender_address: str
    reply_to: str
    to: list[str]
    cc: list[str]
    date: datetime | None
    message_id: str
    body: SafeBody | None
    is_html: bool
    attachments: list[Attachment]


def one_line(value: object) -> str:
    """A header value on one line, without control characters."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", str(value)).strip() if value is not None else ""


def header(msg: Message, name: str) -> str:
    try:
        return one_line(msg.get(name))
    except (ValueError, TypeError, IndexError, AttributeError):  # malformed header
        return ""


def addresses(msg: Message, name: str) -> list[str]:
    try:
        values = msg.get_all(name) or []
        pairs = getaddresses([str(v) for v in values])
    except (ValueError, TypeError, IndexError, AttributeError):
        return []
    return [one_line(f"{n} <{a}>" if n else a) for n, a in pairs if a]


def _text_of(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, ValueError, AssertionError, KeyError):
        pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def leaf_parts(msg: Message) -> list[tuple[str, Message]]:
    """The parts ``msg.walk()`` yields that are not containers, each with its IMAP part number
    (RFC 9051 §6.4.5): "1" for a single-part message, "2.1" for the first part of a second part
    that is multipart or an enclosed message."""
    out: list[tuple[str, Message]] = []
    _number(msg, "", out, 0)
    return out


def _number(part: Message, section: str, out: list[tuple[str, Message]], depth: int) -> None:
    if depth > 32:
        return
    payload = part.get_payload()
    if not part.is_multipart() or not isinstance(payload, list):
        out.append((section or "1", part))
        return
    if part.get_content_maintype() == "message":  # an enclosed message: its parts under it
        here = section or "1"
        for inner in payload:
            if not isinstance(inner, Message):
                continue
            if inner.is_multipart():
                _number(inner, here, out, depth + 1)
            else:
                out.append((f"{here}.1", inner))
        return
    for index, child in enumerate(payload, 1):
        if not isinstance(child, Message):
            continue
        _number(child, f"{section}.{index}" if section else str(index), out, depth + 1)


def build_view(msg: EmailMessage) -> MessageView:
    """The message as the page shows it (HTML preferred, sanitised; else the text part)."""
    body_part: Message | None = None
    try:
        body_part = msg.get_body(preferencelist=("html", "plain"))
    except (KeyError, AttributeError, ValueError):
        body_part = None
    body: SafeBody | None = None
    is_html = False
    if body_part is not None:
        source = _text_of(body_part)
        is_html = body_part.get_content_subtype() == "html"
        body = sanitise_html(source) if is_html else render_text(source)
    attachments = []
    for section, part in leaf_parts(msg):
        if part is body_part:
            continue
        try:
            filename = part.get_filename()
        except (ValueError, TypeError, IndexError):
            filename = None
        disposition = (part.get_content_disposition() or "").lower()
        if not filename and disposition != "attachment":
            if part.get_content_maintype() == "text" and body_part is not None:
                continue  # the other alternative of the body
            if part.get_content_maintype() == "text":
                continue
        payload = part.get_payload(decode=True)
        attachments.append(
            Attachment(
                name=one_line(filename) or "(sans nom)",
                content_type=part.get_content_type(),
                size=len(payload) if isinstance(payload, bytes) else 0,
                section=section,
            )
        )
    name, address = parseaddr(header(msg, "From"))
    _, reply_to = parseaddr(header(msg, "Reply-To"))
    date = None
    if header(msg, "Date"):
        try:
            date = parsedate_to_datetime(header(msg, "Date"))
        except (ValueError, TypeError, IndexError):
            date = None
    return MessageView(
        subject=header(msg, "Subject"),
        sender_name=one_line(name),
        sender_address=address.lower(),
        reply_to=reply_to.lower(),
        to=addresses(msg, "To"),
        cc=addresses(msg, "Cc"),
        date=date,
        message_id=header(msg, "Message-ID"),
        body=body,
        is_html=is_html,
        attachments=attachments,
    )


def human_size(size: int) -> str:
    """A size in French units (octets, Ko, Mo)."""
    if size < 1024:
        return f"{size} octets"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} Ko".replace(".", ",")
    return f"{size / (1024 * 1024):.1f} Mo".replace(".", ",")
