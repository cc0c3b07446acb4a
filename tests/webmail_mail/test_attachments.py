"""Attachment downloads: fetched through our IMAP server (BINARY, RFC 3516), served to be saved
(RFC 6266) with a content type that cannot run in our origin."""

from __future__ import annotations

import email.policy
import re
from email.message import EmailMessage
from urllib.parse import quote, unquote

import pytest

from espace_sante.storage.runtime import Storage
from espace_sante.webmail.mail.download import (
    MAX_NAME_CHARS,
    content_disposition,
    safe_content_type,
    safe_filename,
)
from espace_sante.webmail.mail.imapwire import body_parts, parse_responses
from espace_sante.webmail.mail.message_view import leaf_parts
from fixtures.seed import Seeded

from .conftest import DOCTOR, Filled, Web, deliver

#: A PDF whose bytes cover every octet value, NUL and CR/LF included.
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\r\n%%EOF\n"
HOSTILE_NAMES = [
    'a"\r\nSet-Cookie: x=1\r\n\r\n<script>.pdf',
    "../../etc/passwd",
    "..\\..\\windows\\system32\\cmd.exe",
    "résultat\u202egpj.exe",  # a right-to-left override hiding ".exe"
    "x" * 2000 + ".pdf",
    "\0\x07\x1b[31m.pdf",
    "CON.txt",
    "…",
    "名前 (1).pdf",
]


def _message(seeded: Seeded, subject: str, attachments: list[tuple[bytes, str, str, str]]) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"Dr Jean Dupont <{DOCTOR}>"
    msg["To"] = seeded.active.address
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{abs(hash(subject))}@medecin.mssante.fr>"
    msg.set_content("Bonjour,\n\nVoici les documents.\n")
    for data, maintype, subtype, filename in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


async def _uid_of(web: Web, subject: str) -> int:
    listing = await web.client.get("/mail/dossiers/INBOX")
    found = re.search(
        r'<a href="/mail/dossiers/INBOX/(\d+)">(?:<span class="mail-badge">Non lu</span> )?'
        + re.escape(subject) + "<",
        listing.text,
    )  # fmt: skip
    assert found is not None, listing.text
    return int(found.group(1))


async def _links(web: Web, uid: int) -> list[str]:
    page = await web.client.get(f"/mail/dossiers/INBOX/{uid}")
    assert page.status_code == 200
    return re.findall(
        r'href="(/mail/dossiers/INBOX/\d+/pieces-jointes/[0-9.]+)" download', page.text
    )


async def test_a_pdf_round_trips_byte_for_byte(web: Web, storage: Storage, seeded: Seeded) -> None:
    raw = _message(seeded, "Vos comptes rendus", [(PDF, "application", "pdf", "compte-rendu.pdf")])
    await deliver(storage, seeded, raw)
    uid = await _uid_of(web, "Vos comptes rendus")
    links = await _links(web, uid)
    assert links == [f"/mail/dossiers/INBOX/{uid}/pieces-jointes/2"]
    r = await web.client.get(links[0])
    assert r.status_code == 200
    assert r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"] == (
        "attachment; filename=\"compte-rendu.pdf\"; filename*=UTF-8''compte-rendu.pdf"
    )
    assert "sandbox" in r.headers["content-security-policy"]


async def test_the_fixture_attachment_with_an_accented_name(web: Web, filled: Filled) -> None:
    uid = await _uid_of(web, "Compte rendu de consultation")
    (link,) = await _links(web, uid)
    r = await web.client.get(link)
    assert r.status_code == 200 and r.content == b"%PDF-1.4\n% test\n"
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="compte-rendu-echo.pdf"; ')
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "compte-rendu-écho.pdf"


async def test_active_content_is_served_as_octet_stream(
    web: Web, storage: Storage, seeded: Seeded
) -> None:
    html = b"<html><script>alert(document.cookie)</script></html>"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    xml = (
        b'<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>'
    )
    raw = _message(seeded, "Pages actives", [
        (html, "text", "html", "page.html"),
        (svg, "image", "svg+xml", "image.svg"),
        (xml, "application", "xhtml+xml", "page.xhtml"),
        (b"texte simple\n", "text", "plain", "note.txt"),
    ])  # fmt: skip
    await deliver(storage, seeded, raw)
    uid = await _uid_of(web, "Pages actives")
    links = await _links(web, uid)
    assert len(links) == 4
    served = [await web.client.get(link) for link in links]
    assert [r.status_code for r in served] == [200] * 4
    assert [r.headers["content-type"] for r in served] == [
        "application/octet-stream", "application/octet-stream", "application/octet-stream",
        "text/plain; charset=utf-8",
    ]  # fmt: skip
    assert served[0].content.replace(b"\r\n", b"\n") == html
    assert served[1].content.replace(b"\r\n", b"\n") == svg
    assert all(r.headers["content-disposition"].startswith("attachment;") for r in served)


async def test_hostile_file_names_stay_harmless(web: Web, storage: Storage, seeded: Seeded) -> None:
    # written by hand: stdlib refuses to put CR/LF in a header, a hostile sender does not
    parts = b"".join(
        b"--sep\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename*=UTF-8''"
        + quote(name, safe="").encode()
        + b"\r\n\r\nJVBERi0xLjQK\r\n"
        for name in HOSTILE_NAMES
    )
    raw = (
        (
            f"From: Dr Jean Dupont <{DOCTOR}>\r\nTo: {seeded.active.address}\r\n"
            "Subject: Noms hostiles\r\nMessage-ID: <hostile@medecin.mssante.fr>\r\n"
            'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="sep"\r\n\r\n'
            "--sep\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour\r\n"
        ).encode()
        + parts
        + b"--sep--\r\n"
    )
    await deliver(storage, seeded, raw)
    uid = await _uid_of(web, "Noms hostiles")
    page = await web.client.get(f"/mail/dossiers/INBOX/{uid}")
    assert "<script>" not in page.text.split('<main id="contenu">', 1)[1]
    links = await _links(web, uid)
    assert len(links) == len(HOSTILE_NAMES)
    for link in links:
        r = await web.client.get(link)
        assert r.status_code == 200 and r.content == b"%PDF-1.4\n"
        assert "set-cookie" not in r.headers
        disposition = r.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="')
        fallback = re.fullmatch(
            r"attachment; filename=\"([A-Za-z0-9._-]+)\"; filename\*=UTF-8''(\S+)", disposition
        )
        assert fallback is not None, disposition
        name = unquote(fallback.group(2))
        assert not {"/", "\\", '"', "\r", "\n", "\0", "\u202e"} & set(name)
        assert not name.startswith(".") and 0 < len(name) <= MAX_NAME_CHARS


@pytest.mark.parametrize(
    "suffix",
    ["9", "1.5", "2.1", "0", "02", "abc", "2;", "2 ", "1.1.1.1.1.1.1.1.1.1.1.1", "99999999999"],
)
async def test_missing_or_malformed_parts_are_a_french_404(
    web: Web, filled: Filled, suffix: str
) -> None:
    uid = await _uid_of(web, "Compte rendu de consultation")
    r = await web.client.get(f"/mail/dossiers/INBOX/{uid}/pieces-jointes/{suffix}")
    assert r.status_code == 404, (suffix, r.status_code)
    assert "Cette pièce jointe n&#39;existe pas." in r.text


async def test_a_crlf_in_the_part_number_matches_no_route(web: Web, filled: Filled) -> None:
    """(The shell answers its own French 404 page for a path no route matches.)"""
    uid = await _uid_of(web, "Compte rendu de consultation")
    r = await web.client.get(f"/mail/dossiers/INBOX/{uid}/pieces-jointes/2%0d%0aX-Injected:%201")
    assert r.status_code == 404 and "x-injected" not in r.headers


async def test_another_patients_message_is_not_reachable(
    web: Web, filled: Filled, storage: Storage, seeded: Seeded
) -> None:
    """The other patient's message has a UID in their own INBOX; through our session that UID
    names nothing (or our own message, whose part 2 is not theirs)."""
    raw = _message(seeded, "Secret", [(b"%PDF-1.4 secret\n", "application", "pdf", "secret.pdf")])
    await deliver(storage, seeded, raw, patient="other")
    for uid in range(1, 12):
        r = await web.client.get(f"/mail/dossiers/INBOX/{uid}/pieces-jointes/2")
        assert b"secret" not in r.content
        assert r.status_code in (200, 404)
    r = await web.client.get("/mail/dossiers/INBOX/999/pieces-jointes/2")
    assert r.status_code == 404 and "n&#39;existe pas" in r.text
    r = await web.client.get("/mail/dossiers/Spam/1/pieces-jointes/2")
    assert r.status_code == 404


# -- units ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_NAMES + ["", ".htaccess", "   ", "a/"])
def test_safe_filename_and_disposition(name: str) -> None:
    safe = safe_filename(name)
    assert safe and len(safe) <= MAX_NAME_CHARS
    assert not any(ord(c) < 32 or c in '/\\"\u202e' for c in safe)
    assert not safe.startswith(".")
    header = content_disposition(name)
    assert header.isascii() and "\r" not in header and "\n" not in header
    assert header.count('"') == 2


def test_long_names_keep_their_extension() -> None:
    assert safe_filename("x" * 500 + ".pdf").endswith("x.pdf")
    assert safe_filename("CON.txt") == "_CON.txt"


@pytest.mark.parametrize(
    ("declared", "served"),
    [
        ("application/pdf", "application/pdf"),
        ("APPLICATION/PDF; name=x", "application/pdf"),
        ("text/html", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("text/xml", "application/octet-stream"),
        ("application/xhtml+xml", "application/octet-stream"),
        ("application/javascript", "application/octet-stream"),
        ("multipart/mixed", "application/octet-stream"),
        ("", "application/octet-stream"),
        ('text/plain; charset="ISO-8859-1"', "text/plain; charset=iso-8859-1"),
        ("text/plain; charset=x\r\nSet-Cookie: a", "text/plain; charset=utf-8"),
    ],
)
def test_content_types(declared: str, served: str) -> None:
    assert safe_content_type(declared) == served


def test_sections_of_stdlib_and_bodystructure_agree() -> None:
    inner = EmailMessage()
    inner["Subject"] = "transféré"
    inner.set_content("texte")
    inner.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="in.pdf")
    outer = EmailMessage()
    outer.set_content("corps")
    outer.add_alternative("<p>corps</p>", subtype="html")
    outer.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="a.pdf")
    outer.add_attachment(inner)
    sections = [s for s, _ in leaf_parts(outer)]
    assert sections == ["1.1", "1.2", "2", "3.1", "3.2"]
    from espace_sante.mailbox.imapmeta import compute_meta  # the server's own numbering

    meta = compute_meta(outer.as_bytes())
    tree = parse_responses([meta.bodystructure.encode()])[0][0]
    assert [p.section for p in body_parts(tree, into_messages=True)] == sections
    assert [p.section for p in body_parts(tree)] == ["1.1", "1.2", "2", "3"]


def test_literal8_is_parsed() -> None:
    lines: list[bytes | bytearray] = [b"1 FETCH (UID 4 BINARY[2] ~{3}", bytearray(b"a\0b"), b")"]
    assert parse_responses(lines) == [["1", "FETCH", ["UID", "4", "BINARY[2]", b"a\0b"]]]


# -- the client, with and without BINARY ----------------------------------------------------------


async def test_fetch_part_with_and_without_binary(
    web: Web, storage: Storage, seeded: Seeded
) -> None:
    from espace_sante.webmail.mail.imap_client import PartNotFound, open_mailbox

    qp_text = "Résultat : normal — à revoir dans 6 mois.\n" * 20
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"Dr Jean Dupont <{DOCTOR}>"
    msg["To"] = seeded.active.address
    msg["Subject"] = "Deux codages"
    msg.set_content("Bonjour\n")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="cr.pdf")
    msg.add_attachment(qp_text, subtype="plain", cte="quoted-printable", filename="note.txt")
    await deliver(storage, seeded, msg.as_bytes())
    uid = await _uid_of(web, "Deux codages")
    account = web.account
    async with open_mailbox(web.settings, account.account_id, account.address) as box:
        assert {"BINARY", "LIST-STATUS"} <= box.capabilities
        with_binary = [await box.fetch_part("INBOX", uid, s) for s in ("2", "3")]
        box.capabilities = frozenset()  # as against a server without RFC 3516
        without = [await box.fetch_part("INBOX", uid, s) for s in ("2", "3")]
        with pytest.raises(PartNotFound):
            await box.fetch_part("INBOX", uid, "4")
    for parts in (with_binary, without):
        assert parts[0].data == PDF and parts[0].filename == "cr.pdf"
        assert parts[0].content_type == "application/pdf"
        assert parts[1].data.decode("utf-8").replace("\r\n", "\n") == qp_text
        assert parts[1].content_type.startswith("text/plain")


async def test_a_message_that_is_only_a_pdf(web: Web, storage: Storage, seeded: Seeded) -> None:
    """Part 1 of a single-part message is its body; its name is in the message's own header."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"Dr Jean Dupont <{DOCTOR}>"
    msg["To"] = seeded.active.address
    msg["Subject"] = "Seulement un PDF"
    msg.set_content(PDF, maintype="application", subtype="pdf", disposition="attachment",
                    filename="ordonnance.pdf")  # fmt: skip
    await deliver(storage, seeded, msg.as_bytes())
    uid = await _uid_of(web, "Seulement un PDF")
    assert await _links(web, uid) == [f"/mail/dossiers/INBOX/{uid}/pieces-jointes/1"]
    r = await web.client.get(f"/mail/dossiers/INBOX/{uid}/pieces-jointes/1")
    assert r.status_code == 200 and r.content == PDF
    assert "filename*=UTF-8''ordonnance.pdf" in r.headers["content-disposition"]
