"""IMAP metadata computed at delivery: exact sizes, structure and envelope."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from espace_sante.mailbox.imapmeta import compute_meta, from_json, imap_quote, locate, to_json

from .corpus import CORPUS


def test_plain_message() -> None:
    m = compute_meta(CORPUS["plain"])
    assert m.size == len(CORPUS["plain"])
    assert m.envelope == (
        '("Tue, 24 Nov 2026 10:00:00 +0100" "Bonjour" '
        '(("Dr Dupont" NIL "dr.dupont" "medecin.mssante.fr")) '
        '(("Dr Dupont" NIL "dr.dupont" "medecin.mssante.fr")) '
        '(("Dr Dupont" NIL "dr.dupont" "medecin.mssante.fr")) '
        '((NIL NIL "280017512345610" "patient.mssante.fr")) NIL NIL NIL "<a@b>")'
    )
    assert m.body == '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 2)'
    assert (
        m.bodystructure
        == '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 2 NIL NIL NIL NIL)'
    )
    assert m.subject == "Bonjour" and m.message_id == "<a@b>"
    assert m.date is not None and m.date.utcoffset() is not None
    assert CORPUS["plain"][m.header_size :] == b"Hello\r\nworld\r\n"


def test_lines_are_line_feeds_so_an_unterminated_last_line_adds_none() -> None:
    m = compute_meta(CORPUS["no_content_type_no_final_newline"])
    assert m.body.endswith(' "7bit" 18 1)')


def test_rfc2231_continuations_are_joined_in_index_order() -> None:
    m = compute_meta(CORPUS["rfc2231_extended_continuations"])
    assert '("name*" "utf-8\'\'r%C3%A9sum%C3%A9.pdf")' in m.bodystructure
    assert '("attachment" ("filename" "ab.pdf"))' in m.bodystructure


def test_text_without_charset_gets_the_default_appended() -> None:
    m = compute_meta(CORPUS["text_params_without_charset"])
    assert m.body.startswith(
        '("text" "plain" ("format" "flowed" "delsp" "yes" "charset" "us-ascii")'
    )
    assert '("fr" "en")' in m.bodystructure


def test_encoded_words_stay_encoded_in_envelope_and_groups_are_kept() -> None:
    m = compute_meta(CORPUS["encoded_words_and_groups"])
    assert '"=?utf-8?q?J=C3=A9r=C3=B4me?=" NIL "jerome" "x.fr"' in m.envelope
    assert (
        '(NIL NIL "Equipe" NIL)(NIL NIL "a" "x.fr")("B, Bob" NIL "b" "x.fr")(NIL NIL NIL NIL)'
        in m.envelope
    )
    assert '((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))' in m.envelope
    assert m.subject == "Compte rendu é"  # decoded for SORT and SEARCH
    assert m.envelope.endswith('"<z@y>" NIL)')


def test_nested_structure_sections_and_offsets() -> None:
    raw = CORPUS["nested"]
    m = compute_meta(raw)
    assert m.bodystructure.startswith(
        '((("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 5 0 NIL NIL NIL NIL)'
    )
    assert '"alternative" ("boundary" "inner") NIL NIL NIL)' in m.bodystructure
    assert (
        '("application" "pdf" ("name" "cr.pdf") "<part2@x>" "Compte rendu" "base64" 12 NIL '
        '("attachment" ("filename" "cr.pdf")) NIL "cr.pdf")' in m.bodystructure
    )
    assert (
        '"text" "html" ("charset" "utf-8") NIL NIL "7bit" 12 0 NIL NIL ("fr") NIL)'
        in m.bodystructure
    )
    # the CRLF before the closing delimiter belongs to the delimiter (RFC 2046 §5.1.1)
    assert (
        '("message" "rfc822" NIL NIL NIL "7bit" 50 (NIL "inner message" ((NIL NIL "c" "d.fr"))'
        in m.bodystructure
    )
    assert (
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0 NIL NIL NIL NIL) '
        "3 NIL NIL NIL NIL)" in m.bodystructure
    )
    assert m.bodystructure.endswith(' "mixed" ("boundary" "outer") NIL NIL NIL)')
    text = locate(raw, "1.1")
    assert text is not None and raw[text.body : text.end] == b"Texte"
    pdf = locate(raw, "2")
    assert pdf is not None and raw[pdf.body : pdf.end] == b"JVBERi0xLjQK"
    assert raw[pdf.start : pdf.body].startswith(b"Content-Type: application/pdf")
    forwarded = locate(raw, "3")
    assert forwarded is not None and forwarded.kind == "message"
    assert raw[forwarded.body : forwarded.end] == (
        b"From: c@d.fr\r\nSubject: inner message\r\n\r\ninner body"
    )
    inner_body = locate(raw, "3.1")  # the encapsulated message is not multipart: 3.1 is its body
    assert inner_body is not None and raw[inner_body.body : inner_body.end] == b"inner body"
    assert locate(raw, "4") is None and locate(raw, "2.2") is None


def test_broken_structures_degrade_without_raising() -> None:
    m = compute_meta(CORPUS["unterminated_multipart"])
    assert m.bodystructure.count('"text" "plain"') == 2
    assert compute_meta(CORPUS["multipart_without_boundary"]).body.startswith('("text" "plain"')
    assert compute_meta(CORPUS["garbage_content_type"]).body.startswith(
        '("text" "plain" ("charset" "us-ascii")'
    )


def test_clinician_message_structure() -> None:
    m = compute_meta(CORPUS["clinician"])
    assert '"application" "zip"' in m.bodystructure and '"application" "pdf"' in m.bodystructure
    assert '("attachment" ("filename" "IHE_XDM.ZIP"))' in m.bodystructure


def test_json_round_trip() -> None:
    for raw in CORPUS.values():
        m = compute_meta(raw)
        assert from_json(to_json(m)) == m


def test_imap_quote() -> None:
    assert imap_quote(None) == "NIL"
    assert imap_quote('a "b" \\c') == '"a \\"b\\" \\\\c"'
    assert imap_quote("a\r\nb") == "{4}\r\na\r\nb"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    m = compute_meta(raw)
    assert m.size == len(raw)
    for section in ("1", "1.1", "2", "1.2.1"):
        part = locate(raw, section)
        assert part is None or 0 <= part.start <= part.body <= part.end <= len(raw)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(CORPUS)), st.integers(min_value=0, max_value=10**9))
def test_truncated_corpus_messages_never_raise(name: str, cut_seed: int) -> None:
    raw = CORPUS[name]
    compute_meta(raw[: cut_seed % (len(raw) + 1)])
