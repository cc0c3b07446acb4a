"""Building the reply from the original's header: recipient, subject, threading headers, and
refusal of unsafe values (no server needed)."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from espace_sante.webmail.mail.compose import (
    ComposeError,
    build_reply,
    reply_recipient,
    reply_subject,
)
from espace_sante.webmail.mail.submission import french_reason


def _original(headers: str) -> EmailMessage:
    parsed = email.message_from_string(headers + "\n\ncorps\n", policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


ORIGINAL = (
    "From: Dr Jean Dupont <Dr.Dupont@medecin.mssante.fr>\n"
    "Subject: Ordonnance\n"
    "Message-ID: <abc.123@medecin.mssante.fr>\n"
    "References: <older@medecin.mssante.fr> <bad ref>"
)


def test_reply_headers() -> None:
    msg = build_reply(
        from_address="280017512345610@patient.mssante.fr",
        from_name="Marie Legrand",
        original=_original(ORIGINAL),
        subject="Re: Ordonnance",
        body="Merci",
    )
    assert str(msg["To"]) == "dr.dupont@medecin.mssante.fr"
    assert str(msg["From"]) == "Marie Legrand <280017512345610@patient.mssante.fr>"
    assert msg["In-Reply-To"] == "<abc.123@medecin.mssante.fr>"
    assert str(msg["References"]) == "<older@medecin.mssante.fr> <abc.123@medecin.mssante.fr>"
    assert str(msg["Message-ID"]).endswith("@patient.mssante.fr>")
    raw = msg.as_bytes()
    assert b"\r\n\r\n" in raw and b"\nBcc" not in raw


def test_reply_to_wins_and_bad_addresses_refuse() -> None:
    assert reply_recipient(_original(ORIGINAL + "\nReply-To: secretariat@medecin.mssante.fr")) == (
        "secretariat@medecin.mssante.fr"
    )
    for bad in ("From: pas une adresse", "From: <a@b@c>", 'From: "x" <a b@exemple.fr>'):
        with pytest.raises(ComposeError):
            reply_recipient(_original(bad))


def test_hostile_threading_headers_are_dropped() -> None:
    msg = build_reply(
        from_address="p@patient.mssante.fr",
        from_name="",
        original=_original("From: a@medecin.mssante.fr\nMessage-ID: <x y>\nSubject: s"),
        subject="Re: s",
        body="b",
    )
    assert msg["In-Reply-To"] is None and msg["References"] is None


def test_reply_subjects() -> None:
    assert reply_subject("Ordonnance") == "Re: Ordonnance"
    assert reply_subject("RE: Ordonnance") == "RE: Ordonnance"
    assert reply_subject("") == "Re: (sans objet)"
    assert reply_subject("a\tb   c") == "Re: a b c"
    assert len(reply_subject("x" * 500)) == 200


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subject": "a\r\nBcc: x@y.fr"}, "retour à la ligne"),
        ({"subject": "a\x85b".replace("\x85", "\x0b")}, "caractère de contrôle"),
        ({"body": "x" * 100_001}, "trop long"),
        ({"from_name": "M\nBcc: x@y.fr"}, "Votre nom"),
        ({"from_address": "a\r\n@patient.mssante.fr"}, "adresse"),
    ],
)
def test_unsafe_values_are_refused(kwargs: dict[str, str], message: str) -> None:
    values = {"from_address": "p@patient.mssante.fr", "from_name": "P", "subject": "Re: s",
              "body": "b"} | kwargs  # fmt: skip
    with pytest.raises(ComposeError, match=message):
        build_reply(original=_original(ORIGINAL), **values)


def test_french_half_of_submission_replies() -> None:
    assert french_reason("5.7.1 Le professionnel a clos cette conversation / The professional") == (
        "Le professionnel a clos cette conversation"
    )
    assert french_reason("Refus simple") == "Refus simple"
    assert french_reason("") == "refus sans explication"


def test_wildcard_listen_addresses_are_reached_on_loopback() -> None:
    from espace_sante.webmail.mail.imap_client import connect_host

    assert connect_host("0.0.0.0") == "127.0.0.1"
    assert connect_host("::") == "127.0.0.1"
    assert connect_host("imap.interne") == "imap.interne"
