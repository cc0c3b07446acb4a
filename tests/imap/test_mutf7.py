"""The modified UTF-7 codec of IMAP4rev1 mailbox names (RFC 3501 §5.1.3); on the wire:
test_folders."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from espace_sante.mailbox.imap import mutf7


@pytest.mark.parametrize(
    ("unicode", "wire"),
    [
        ("INBOX", "INBOX"),
        ("Résultats", "R&AOk-sultats"),
        ("Santé & co", "Sant&AOk- &- co"),
        ("日本語", "&ZeVnLIqe-"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501 §5.1.3
        ("😀", "&2D3eAA-"),
    ],
)
def test_known_names(unicode: str, wire: str) -> None:
    assert mutf7.encode(unicode) == wire
    assert mutf7.decode(wire) == unicode


@pytest.mark.parametrize(
    "bad",
    [
        "&AOk",  # unterminated
        "&A-",  # one base64 character is no UTF-16 unit
        "&AEE-",  # "A" encoded: printable ASCII must stand for itself
        "&AOk/-",  # "/" is not in the modified alphabet
        "Ré",  # 8-bit in a rev1 name
        "a\x01b",
    ],
)
def test_malformed_names_are_refused(bad: str) -> None:
    with pytest.raises(mutf7.MUtf7Error):
        mutf7.decode(bad)


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_round_trip(name: str) -> None:
    wire = mutf7.encode(name)
    assert wire.isascii()
    assert mutf7.decode(wire) == name
