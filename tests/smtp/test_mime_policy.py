"""The gateway's parsing policy reads every header as ``policy.default`` does."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from espace_sante.mta.mime import MAX_CACHED_VALUE, parse_message

RAW = (
    b"From: =?utf-8?q?Dr_Andr=C3=A9_Dupont?= <dr.dupont@medecin.mssante.fr>\r\n"
    b'To: patient@patient.mssante.fr, "Autre, Nom" <autre@patient.mssante.fr>\r\n'
    b"Subject: =?utf-8?b?Q29tcHRlIHJlbmR1IGQnaG9zcGl0YWxpc2F0aW9u?=\r\n"
    b"X-Long: " + b"a" * (MAX_CACHED_VALUE + 50) + b"\r\n"
    b"Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n'
    b"\r\n"
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour\r\n"
    b'--b1\r\nContent-Type: application/pdf; name="cr\xc3\xa9.pdf"\r\n'
    b"Content-Disposition: attachment; filename*=utf-8''cr%C3%A9.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b1--\r\n"
)


def test_headers_read_as_policy_default_does() -> None:
    ours = parse_message(RAW)
    reference = BytesParser(policy=policy.default).parsebytes(RAW)
    for name in ("From", "To", "Subject", "X-Long", "Date", "Content-Type", "Missing"):
        for _ in range(2):  # the second read comes from the remembered headers
            assert str(ours.get(name)) == str(reference.get(name))
    assert ours["From"].addresses[0].display_name == "Dr André Dupont"
    assert ours["Subject"] == "Compte rendu d'hospitalisation"
    ours_parts = [(p.get_content_type(), p.get_filename()) for p in ours.walk()]
    reference_parts = [(p.get_content_type(), p.get_filename()) for p in reference.walk()]
    assert ours_parts == reference_parts
    assert ("application/pdf", "cré.pdf") in ours_parts


def test_a_header_object_is_shared_only_for_the_same_name_and_value() -> None:
    first = parse_message(RAW)
    second = parse_message(RAW.replace(b"Subject: =?utf-8?b?", b"Subject: Re: =?utf-8?b?"))
    assert first["To"] is second["To"]  # same value: the same immutable object
    assert first["Subject"] != second["Subject"]
    assert second["Subject"] == "Re: Compte rendu d'hospitalisation"
