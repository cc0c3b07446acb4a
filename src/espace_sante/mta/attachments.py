"""Finding the attachments of a parsed message, leniently: broken parts are skipped, not fatal."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage, Message

MAX_ATTACHMENTS = 100


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    data: bytes
    section: str  # MIME part number, e.g. "2" or "1.3"


def find_attachments(msg: EmailMessage) -> tuple[list[Attachment], list[str]]:
    """Leaf parts that are attachments (by disposition, name, or non-text type), and warnings
    for the parts that could not be decoded."""
    found: list[Attachment] = []
    warnings: list[str] = []
    body_seen = False
    for section, part in _leaves(msg, ""):
        if len(found) >= MAX_ATTACHMENTS:
            warnings.append(f"more than {MAX_ATTACHMENTS} attachments: the rest are ignored")
            break
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        try:
            filename = part.get_filename()
        except Exception:  # a header the email package cannot decode
            filename = None
        is_text_body = ctype in ("text/plain", "text/html") and disposition != "attachment"
        if is_text_body and not filename:
            body_seen = True
            continue
        if ctype.startswith("multipart/") or (ctype == "message/rfc822" and not filename):
            continue
        if not body_seen and disposition == "inline" and ctype.startswith("text/"):
            continue
        try:
            data = part.get_payload(decode=True)
        except Exception as exc:
            warnings.append(f"part {section}: cannot decode ({type(exc).__name__})")
            continue
        if not isinstance(data, bytes) or not data:
            warnings.append(f"part {section}: empty or undecodable attachment skipped")
            continue
        found.append(Attachment(filename, ctype, data, section))
    return found, warnings


def _leaves(part: Message, prefix: str) -> list[tuple[str, Message]]:
    if not part.is_multipart():
        return [(prefix or "1", part)]
    out: list[tuple[str, Message]] = []
    payload = part.get_payload()
    if not isinstance(payload, list):
        return out
    for index, child in enumerate(payload, start=1):
        if not isinstance(child, Message):
            continue
        section = f"{prefix}.{index}" if prefix else str(index)
        if child.get_content_type() == "message/rfc822":
            out.append((section, child))  # an attached message is one attachment
            continue
        out.extend(_leaves(child, section))
    return out
