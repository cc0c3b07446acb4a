"""Our ENVELOPE, BODY, BODYSTRUCTURE and RFC822.SIZE, byte for byte against Dovecot's."""

from __future__ import annotations

import imaplib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from espace_sante.mailbox.imapmeta import compute_meta

from .corpus import CORPUS
from .dovecot_peer import Dovecot, available

pytestmark = pytest.mark.peer
NAMES = sorted(CORPUS)


@pytest.fixture(scope="module")
def dovecot_answers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, bytes]]]:
    if not available():
        message = "Debian's dovecot-imapd is not installed (make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    peer = Dovecot(tmp_path_factory.mktemp("dovecot"))
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


def _flatten(data: list) -> bytes:
    out = b""
    for part in data:
        if isinstance(part, tuple):
            out += part[0] + b"{%d}\r\n" % len(part[1]) + part[1] if False else part[0] + part[1]
        else:
            out += part
    return out


def _value(answer: bytes, item: str) -> str:
    text = answer.decode("utf-8", "surrogateescape")
    m = re.match(r"^\d+ \(" + re.escape(item) + r" (.*)\)$", text, re.S)
    assert m, text
    return m.group(1)


@pytest.mark.parametrize("name", NAMES)
def test_size_matches(dovecot_answers: dict[str, dict[str, bytes]], name: str) -> None:
    assert int(_value(dovecot_answers[name]["RFC822.SIZE"], "RFC822.SIZE")) == compute_meta(CORPUS[name]).size


@pytest.mark.parametrize("name", NAMES)
def test_envelope_matches(dovecot_answers: dict[str, dict[str, bytes]], name: str) -> None:
    assert compute_meta(CORPUS[name]).envelope == _value(dovecot_answers[name]["ENVELOPE"], "ENVELOPE")


@pytest.mark.parametrize("name", NAMES)
def test_body_matches(dovecot_answers: dict[str, dict[str, bytes]], name: str) -> None:
    assert compute_meta(CORPUS[name]).body == _value(dovecot_answers[name]["BODY"], "BODY")


@pytest.mark.parametrize("name", NAMES)
def test_bodystructure_matches(dovecot_answers: dict[str, dict[str, bytes]], name: str) -> None:
    ours = compute_meta(CORPUS[name]).bodystructure
    assert ours == _value(dovecot_answers[name]["BODYSTRUCTURE"], "BODYSTRUCTURE")
