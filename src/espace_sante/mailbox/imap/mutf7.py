"""Modified UTF-7 for mailbox names (RFC 3501 §5.1.3), spoken to IMAP4rev1 clients.

Folder names are stored as Unicode. An IMAP4rev1 client sends and expects them in modified
UTF-7 ("Résultats" is ``R&AOk-sultats``); an IMAP4rev2 client (after ``ENABLE IMAP4rev2``) uses
UTF-8 directly. Python's ``utf-7`` codec differs in the shift character, the base64 alphabet
and what it leaves unencoded, so this small codec is written out here.
"""

from __future__ import annotations

import base64
import binascii


class MUtf7Error(ValueError):
    """The name is not valid modified UTF-7."""


def _printable(ch: str) -> bool:
    return 0x20 <= ord(ch) <= 0x7E


def encode(name: str) -> str:
    """Modified UTF-7 form of ``name``."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be", "surrogatepass")
            out.append("&" + base64.b64encode(data).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if _printable(ch):
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def decode(text: str) -> str:
    """The Unicode name of a modified UTF-7 ``text``; raises MUtf7Error when malformed."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if not _printable(ch):
            raise MUtf7Error("8-bit or control character in a modified UTF-7 name")
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = text.find("-", i + 1)
        if end < 0:
            raise MUtf7Error("unterminated base64 run")
        run = text[i + 1 : end]
        i = end + 1
        if not run:
            out.append("&")
            continue
        out.append(_decode_run(run))
    return "".join(out)


def _decode_run(run: str) -> str:
    if "/" in run or len(run) % 4 == 1:
        raise MUtf7Error("malformed base64 run")
    padded = run.replace(",", "/") + "=" * (-len(run) % 4)
    try:
        data = base64.b64decode(padded, validate=True)
        if len(data) % 2:
            raise MUtf7Error("odd number of UTF-16 bytes")
        decoded = data.decode("utf-16-be")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise MUtf7Error("malformed base64 run") from exc
    if not decoded or any(_printable(c) for c in decoded):
        # RFC 3501: printable ASCII must represent itself, never be encoded.
        raise MUtf7Error("non-canonical base64 run")
    return decoded
