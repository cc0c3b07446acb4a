"""Upload sniffing: allowed types are recognised from their bytes, hostile files refused."""

from __future__ import annotations

import struct
import unicodedata
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from espace_sante.records.upload_types import (
    MAX_FILENAME_CHARS,
    UploadRefused,
    safe_filename,
    sniff,
)


def _pdf() -> bytes:
    body = (
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
        b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\n"
    )
    xref = len(body)
    return body + (
        b"xref\n0 4\n0000000000 65535 f \n"
        b"trailer << /Size 4 /Root 1 0 R >>\nstartxref\n" + str(xref).encode() + b"\n%%EOF\n"
    )


def _png() -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
TIFF_LE = b"II*\x00\x08\x00\x00\x00\x00\x00"
TIFF_BE = b"MM\x00*\x00\x00\x00\x08\x00\x00"
RTF = rb"{\rtf1\ansi\deff0 {\fonttbl {\f0 Times;}} Ordonnance du Dr Martin\par}"
TEXT_UTF8 = "Résultats : glycémie à jeun 0,95 g/l — à revoir dans 3 mois.\n".encode()
TEXT_CP1252 = "Compte rendu : pas d'anomalie décelée, reçu à l'hôpital.\r\n".encode("cp1252")


@pytest.mark.parametrize(
    ("data", "filename", "mime", "ext"),
    [
        (_pdf(), "compte-rendu.pdf", "application/pdf", ".pdf"),
        (_pdf(), "COMPTE-RENDU.PDF", "application/pdf", ".pdf"),
        (_png(), "radio.png", "image/png", ".png"),
        (JPEG, "photo.jpg", "image/jpeg", ".jpg"),
        (JPEG, "photo.jpeg", "image/jpeg", ".jpg"),
        (TIFF_LE, "scan.tif", "image/tiff", ".tiff"),
        (TIFF_BE, "scan.tiff", "image/tiff", ".tiff"),
        (RTF, "ordonnance.rtf", "application/rtf", ".rtf"),
        (TEXT_UTF8, "notes.txt", "text/plain", ".txt"),
        (TEXT_CP1252, "notes.txt", "text/plain", ".txt"),
        (_pdf(), "sans-extension", "application/pdf", ".pdf"),
    ],
)
def test_allowed_types_are_recognised(data: bytes, filename: str, mime: str, ext: str) -> None:
    found = sniff(data, filename)
    assert (found.mime_type, found.extension) == (mime, ext)


def test_text_charset_is_reported() -> None:
    assert sniff(TEXT_UTF8, "a.txt").charset == "utf-8"
    assert sniff(b"\xef\xbb\xbf" + TEXT_UTF8, "a.txt").charset == "utf-8"
    assert sniff(TEXT_CP1252, "a.txt").charset == "windows-1252"
    assert sniff(_pdf(), "a.pdf").charset is None


def _refused(data: bytes, filename: str) -> UploadRefused:
    with pytest.raises(UploadRefused) as caught:
        sniff(data, filename)
    assert caught.value.message_fr.strip()
    return caught.value


def test_empty_file() -> None:
    assert _refused(b"", "vide.pdf").reason_key == "empty"


def test_too_large() -> None:
    with pytest.raises(UploadRefused) as caught:
        sniff(_pdf() + b"0" * 100, "a.pdf", max_size=50)
    assert caught.value.reason_key == "too_large"
    assert sniff(_pdf(), "a.pdf", max_size=len(_pdf())).mime_type == "application/pdf"


def test_wrong_extension_is_refused_and_says_the_real_type() -> None:
    refused = _refused(_png(), "ordonnance.pdf")
    assert refused.reason_key == "extension_mismatch"
    assert "PNG" in refused.message_fr and ".pdf" in refused.message_fr
    assert _refused(_pdf(), "image.jpg").reason_key == "extension_mismatch"
    assert _refused(TEXT_UTF8, "notes.pdf").reason_key == "extension_mismatch"
    assert _refused(_pdf(), "page.html").reason_key == "extension_mismatch"


@pytest.mark.parametrize(
    "data",
    [
        _pdf()[:20] + b"\n<html><script>alert(1)</script></html>\n" + _pdf()[20:],
        b"%PDF-1.4\n<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>\n",
        b"<html><body>hi</body></html>\n" + _pdf(),
        b"GARBAGE" * 10 + _pdf(),
        b"\xef\xbb\xbf" + _pdf(),
        JPEG[:-2] + b"<script>alert(1)</script>\xff\xd9",
    ],
    ids=[
        "pdf-with-html",
        "pdf-with-svg",
        "html-then-pdf",
        "junk-then-pdf",
        "bom-then-pdf",
        "jpeg-with-script",
    ],
)
def test_polyglots_are_refused(data: bytes) -> None:
    name = "photo.jpg" if data.startswith(b"\xff\xd8") else "doc.pdf"
    assert _refused(data, name).reason_key in {"polyglot", "type_not_allowed"}
    if data.startswith((b"%PDF", b"GARBAGE", b"\xef\xbb\xbf%PDF", b"\xff\xd8")):
        assert _refused(data, name).reason_key == "polyglot"


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "image.svg"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>', "image.png"),
        (b"<!DOCTYPE html><html><body>Bonjour</body></html>", "page.txt"),
        (b"  <html><body>Bonjour</body></html>", "notes.txt"),
        (b'<?xml version="1.0"?><ClinicalDocument/>', "cda.xml"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 20, "archive.zip"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 20, "archive.pdf"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "setup.exe"),
        (b"\x7fELF\x02\x01\x01\x00", "a.txt"),
        (b"GIF89a\x01\x00\x01\x00", "anim.gif"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 8, "lettre.doc"),
    ],
    ids=[
        "svg",
        "svg-as-png",
        "html-as-txt",
        "html-with-spaces",
        "xml",
        "zip",
        "zip-as-pdf",
        "exe",
        "elf",
        "gif",
        "ole",
    ],
)
def test_types_not_allowed(data: bytes, filename: str) -> None:
    assert _refused(data, filename).reason_key == "type_not_allowed"


def test_html_inside_text_is_refused() -> None:
    data = b"Bonjour,\nvoici mon resultat\n<script>fetch('//evil')</script>\n"
    assert _refused(data, "notes.txt").reason_key == "polyglot"


@pytest.mark.parametrize(
    "data",
    [
        b"texte avec un \x00 nul",
        b"\x81\x8d\x8f\x90\x9d texte",
        b"texte \x1b[31m avec un echappement",
        "texte\u0085suite".encode(),
    ],
    ids=["nul", "not-cp1252", "escape", "c1-control"],
)
def test_text_that_is_not_text(data: bytes) -> None:
    assert _refused(data, "notes.txt").reason_key == "text_invalid"


def test_rtf_that_is_not_rtf() -> None:
    assert _refused(b"{\\rtx1 pas du rtf}", "lettre.rtf").reason_key == "rtf_invalid"
    assert _refused(b"  {\\rtf1 espace devant}", "lettre.rtf").reason_key == "rtf_invalid"
    assert _refused(RTF, "lettre.txt").reason_key == "extension_mismatch"


def test_refusal_is_an_exception_with_its_fields() -> None:
    err = UploadRefused("empty", "Le fichier est vide.")
    assert isinstance(err, Exception)
    assert (err.reason_key, err.message_fr) == ("empty", "Le fichier est vide.")


# --- file names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ordonnance.pdf", "ordonnance.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("C:\\Users\\Marie\\Documents\\bilan.pdf", "bilan.pdf"),
        ("C:bilan.pdf", "C_bilan.pdf"),
        ("/absolute/path/radio.png", "radio.png"),
        ("facture\u202efdp.exe", "facturefdp.exe"),
        ("bilan\u2066.pdf\u2069.exe", "bilan.pdf.exe"),
        ("bi\x00lan.pdf", "bilan.pdf"),
        ("ligne\nsuivante.txt", "lignesuivante.txt"),
        ("CON.pdf", "_CON.pdf"),
        ("nul", "_nul"),
        ("com1.tar.gz", "_com1.tar.gz"),
        ("lpt9 .txt", "_lpt9.txt"),
        ("", "document"),
        ("..", "document"),
        (".pdf", "document.pdf"),
        ("   ", "document"),
        ("///", "document"),
        ('a<b>c:d|e?f*g".txt', "a_b_c_d_e_f_g_.txt"),
        ("Résultat d’analyse.pdf", "Résultat d’analyse.pdf"),
        ("Re\u0301sultat.pdf", "Résultat.pdf"),
        (".bashrc", "document.bashrc"),
    ],
)
def test_safe_filename_examples(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_long_names_are_trimmed_keeping_the_extension() -> None:
    out = safe_filename("a" * 1000 + ".pdf")
    assert len(out) == MAX_FILENAME_CHARS
    assert out.endswith(".pdf") and out.startswith("aaa")
    assert len(safe_filename("é" * 500)) == MAX_FILENAME_CHARS


_FORBIDDEN_IN_NAME = set('/\\<>:"|?*')


@given(st.text(max_size=400))
def test_safe_filename_is_always_safe(name: str) -> None:
    out = safe_filename(name)
    assert out
    assert len(out) <= MAX_FILENAME_CHARS
    assert not (_FORBIDDEN_IN_NAME & set(out))
    assert all(unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in out)
    assert not out.startswith((".", " ")) and not out.endswith(" ")
    assert out.split(".", 1)[0].upper() not in {"CON", "PRN", "AUX", "NUL"}
    assert safe_filename(out) == out
