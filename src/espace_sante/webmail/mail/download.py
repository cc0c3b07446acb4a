"""Serving an attachment so that it can only be saved, never run in our origin.

A file a clinician (or anyone in the trust space) attached may be hostile: an HTML or SVG page
with script, a name with CR/LF that would split the response header, ``../`` or a name that
hides its extension behind a right-to-left override. This module names the file safely
(RFC 6266 ``Content-Disposition: attachment`` with ``filename*=UTF-8''…``) and picks a content
type from a short list of passive formats, ``application/octet-stream`` otherwise.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

#: Types served as declared: documents and images a browser shows without running anything.
PASSIVE_TYPES = frozenset(
    {
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "text/plain",
        "text/csv",
        "application/zip",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/dicom",
    }
)
FALLBACK_TYPE = "application/octet-stream"
DEFAULT_NAME = "piece-jointe"
#: Longest name we hand to the browser, in characters (extension kept).
MAX_NAME_CHARS = 120
#: Names Windows refuses whatever their extension.
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.I)


def safe_content_type(declared: str) -> str:
    """``declared`` if it is a passive type, else octet-stream; a text keeps its declared
    charset when it is a plain token (UTF-8 otherwise), other parameters are dropped."""
    base, _, params = declared.partition(";")
    base = base.strip().lower()
    if base not in PASSIVE_TYPES:
        return FALLBACK_TYPE
    if not base.startswith("text/"):
        return base
    found = re.search(r"charset\s*=\s*\"?([A-Za-z0-9_.:-]{1,40})\"?\s*(?:;|$)", params, re.I)
    return f"{base}; charset={found.group(1).lower() if found else 'utf-8'}"


def safe_filename(name: str) -> str:
    """A file name that is only a name: no control or format characters (CR, LF, NUL, bidi
    overrides), no path, no quotes, no leading dots, at most :data:`MAX_NAME_CHARS` characters."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = []
    for ch in name:
        category = unicodedata.category(ch)
        if category[0] in "CZ" and ch != " ":  # controls, format (bidi), separators, unassigned
            cleaned.append(" " if category[0] == "Z" else "")
        elif ch in '"<>:|?*':
            cleaned.append("_")
        else:
            cleaned.append(ch)
    name = re.sub(r"\s+", " ", "".join(cleaned)).strip(" .")
    if _RESERVED.match(name):
        name = "_" + name
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_NAME_CHARS - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_NAME_CHARS].rstrip(" .")
    return name or DEFAULT_NAME


def ascii_fallback(name: str) -> str:
    """The name for clients that ignore ``filename*``: ASCII letters, digits, ``.-_`` only."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    folded = re.sub(r"[^A-Za-z0-9._-]+", "_", folded).strip("._")
    return folded or DEFAULT_NAME


def content_disposition(name: str) -> str:
    """``attachment; filename="…"; filename*=UTF-8''…`` (RFC 6266 §4.3, RFC 8187)."""
    safe = safe_filename(name)
    return (
        f"attachment; filename=\"{ascii_fallback(safe)}\"; filename*=UTF-8''{quote(safe, safe='')}"
    )


def download_headers(name: str) -> dict[str, str]:
    """The headers of an attachment download, besides its content type."""
    return {
        "Content-Disposition": content_disposition(name),
        "X-Content-Type-Options": "nosniff",
        # if a browser ever showed it anyway: no script, no plugin, no request, own origin
        "Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'",
        "Cache-Control": "no-store",
    }
