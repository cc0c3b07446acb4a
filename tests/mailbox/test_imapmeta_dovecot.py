"""Our ENVELOPE, BODY, BODYSTRUCTURE and RFC822.SIZE, byte for byte against Dovecot's."""

from __future__ import annotations

import imaplib
import os
from collections.abc import Iterator

import pytest

from espace_sante.mailbox.imapmeta import compute_meta

from . import sexp
from .corpus import CORPUS
from .dovecot_peer import Dovecot, available

pytestmark = pytest.mark.peer
NAMES = sorted(CORPUS)

#: Where we differ from Dovecot on purpose; the structure is compared for every other message.
DELIBERATE = {
    # Dovecot answers ("" "" NIL ...); RFC 2045 §5.2 says an unreadable Content-Type means
    # text/plain; charset=us-ascii, which clients can display.
    "garbage_content_type",
    # Dovecot shows an empty multipart, hiding the text; we show the body as text/plain.
    "multipart_without_boundary",
    # Dovecot counts the CRLF before the outer delimiter in the forwarded message's size and
    # lines; RFC 2046 §5.1.1 attaches it to the delimiter.
    "adjacent_delimiters",
}
STRUCTURED = [n for n in NAMES if n not in DELIBERATE]


@pytest.fixture(scope="module")
def dovecot_answers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, dict[str, bytes]]]:
    if not available():
        message = "Debian's dovecot-imapd is not installed (make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    peer = Dovecot()
    peer.add_messages([CORPUS[name] for name in NAMES])
    peer.start()
    try:
        client = imaplib.IMAP4("127.0.0.1", peer.port)
        client.login(peer.user, peer.password)
        client.select("INBOX", readonly=True)
        answers = {}
        for index, name in enumerate(NAMES, start=1):
            items = {}
            for item in ("ENVELOPE", "BODY", "BODYSTRUCTURE", "RFC822.SIZE"):
                typ, data = client.fetch(str(index), f"({item})")
                assert typ == "OK", data
                items[item] = _flatten(data)
            answers[name] = items
        client.logout()
        yield answers
    finally:
        peer.stop()


def _flatten(data: list[bytes | tuple[bytes, bytes]]) -> bytes:
    """imaplib's answer back into the bytes on the wire (imaplib drops the CRLF after ``{n}``)."""
    out = b""
    for part in data:
        out += part[0] + b"\r\n" + part[1] if isinstance(part, tuple) else part
    return out


def _value(answer: bytes, item: str) -> sexp.Value:
    """The value of ``item`` in ``N (ITEM value)``."""
    _, fetched = sexp.parse(answer)
    assert isinstance(fetched, list) and fetched[0] == item.encode(), answer
    return fetched[1]


def _ours(text: str) -> sexp.Value:
    (value,) = sexp.parse(text.encode("utf-8", "surrogateescape"))
    return value


@pytest.mark.parametrize("name", NAMES)
def test_size_matches(dovecot_answers: dict[str, dict[str, bytes]], name: str) -> None:
    size = _value(dovecot_answers[name]["RFC822.SIZE"], "RFC822.SIZE")
    assert isinstance(size, bytes)
    assert int(size) == compute_meta(CORPUS[name]).size


@pytest.mark.parametrize("name", NAMES)
def test_envelope_matches(dovecot_answers: dict[str, dict[str, bytes]], name: str) -> None:
    ours = _ours(compute_meta(CORPUS[name]).envelope)
    assert ours == _value(dovecot_answers[name]["ENVELOPE"], "ENVELOPE")


@pytest.mark.parametrize("name", STRUCTURED)
def test_body_matches(dovecot_answers: dict[str, dict[str, bytes]], name: str) -> None:
    ours = _ours(compute_meta(CORPUS[name]).body)
    assert ours == _value(dovecot_answers[name]["BODY"], "BODY")


@pytest.mark.parametrize("name", STRUCTURED)
def test_bodystructure_matches(dovecot_answers: dict[str, dict[str, bytes]], name: str) -> None:
    ours = _ours(compute_meta(CORPUS[name]).bodystructure)
    assert ours == _value(dovecot_answers[name]["BODYSTRUCTURE"], "BODYSTRUCTURE")
