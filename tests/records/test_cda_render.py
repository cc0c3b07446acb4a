"""CDA narrative rendering: real shapes render, hostile documents are refused or neutralised."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html

from espace_sante.records.cda_render import (
    IMAGE_PLACEHOLDER,
    MAX_CDA_BYTES,
    MAX_DEPTH,
    CdaRenderError,
    _clean,
    looks_like_cda,
    parse_ts,
    render_cda,
)
from records.cda_fixtures import (
    BILLION_LAUGHS,
    CR_BIO,
    EXTERNAL_DTD,
    NON_XML_BODY,
    VACCINATION_NOTE,
    VSM,
    XXE,
    cda,
    deeply_nested,
    section,
    structured,
    with_text,
)

_TAG = re.compile(r"<[^>]*>")
_BAD_IN_TAG = re.compile(r"\son\w*\s*=|javascript:|\sstyle\s*=|\shref\s*=|\ssrc\s*=", re.IGNORECASE)
_SAFE_TAGS = {
    "article",
    "header",
    "section",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "dl",
    "dt",
    "dd",
    "p",
    "ul",
    "ol",
    "li",
    "table",
    "caption",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "th",
    "td",
    "span",
    "strong",
    "em",
    "u",
    "br",
    "sub",
    "sup",
    "small",
    "div",
}


def _assert_safe(html: str) -> None:
    """Every tag of the output is ours and carries no handler, style, link or source; text
    is escaped, so each ``<`` in the output opens one of those tags."""
    assert "<script" not in html.lower()
    for match in _TAG.finditer(html):
        tag = match.group(0)
        name = re.match(r"</?\s*([a-zA-Z0-9]+)", tag)
        assert name and name.group(1).lower() in _SAFE_TAGS, tag
        assert not _BAD_IN_TAG.search(tag), tag
    for element in lxml_html.fragment_fromstring(html, create_parent="div").iter():
        assert set(element.attrib) <= {"class", "colspan", "rowspan"}, element.attrib


def _tree(html: str) -> lxml_html.HtmlElement:
    return lxml_html.fragment_fromstring(html)


# --- documents shaped like real senders' ---------------------------------------------------


def test_biology_report_renders_header_sections_and_table() -> None:
    out = render_cda(CR_BIO)
    assert out.title == "Compte rendu d'examens de biologie médicale"
    assert out.effective_time == datetime(2024, 3, 12, 8, 30, tzinfo=timezone(timedelta(hours=1)))
    assert out.warnings == ()
    doc = _tree(out.html)
    assert doc.findtext(".//h1") == out.title
    header = [el.text_content() for el in doc.iterfind(".//header//dd")]
    assert header == [
        "12 mars 2024 à 8 h 30",
        "Camille Anne LEFÈVRE",
        "Dr Hugo GARNIER",
        "Laboratoire du Parc",
    ]
    assert [h.text for h in doc.iterfind(".//h2")] == ["Hématologie", "Biochimie"]
    table = doc.find(".//table")
    assert table.findtext("caption") == "Hématologie"
    assert [th.text for th in table.iterfind(".//th")][:2] == ["Analyse", "Résultat"]
    rows = table.findall(".//tbody/tr")
    assert len(rows) == 3
    assert rows[0].find("td[2]//strong").text == "12,1"
    assert rows[2].find("td").get("colspan") == "4"
    assert rows[2].find("td//em").text == "Contrôle conseillé sous 3 mois"
    assert "<br>" in out.html
    # the table's presentational attributes of CDA are not copied
    assert table.get("border") is None and table.get("width") is None
    _assert_safe(out.html)


def test_medical_summary_nests_sections_and_lists() -> None:
    out = render_cda(VSM)
    doc = _tree(out.html)
    assert out.effective_time == datetime(2024, 1, 5)
    assert doc.find(".//header//dd").text == "5 janvier 2024"
    outer = doc.find("section")
    assert outer.findtext("h2") == "Pathologies en cours"
    inner = outer.find("section")
    assert inner.findtext("h3") == "Antécédents médicaux"
    assert inner.find("section").findtext("h4") == "Antécédents familiaux"
    assert [li.text for li in inner.find(".//ol")] == [
        "Appendicectomie (1998)",
        "Fracture du poignet (2015)",
    ]
    assert outer.find(".//ul/li[2]/span/em").text == "équilibré"
    assert doc.find(".//small").text == "Réaction cutanée en 2010."
    assert doc.find(".//sup").text == "1"
    _assert_safe(out.html)


def test_vaccination_note() -> None:
    out = render_cda(VACCINATION_NOTE)
    doc = _tree(out.html)
    assert out.title == "Note de vaccination"
    assert doc.find(".//td").text == "Grippe saisonnière"
    assert doc.find(".//p/span/strong/u").text == "octobre 2025"


def test_non_xml_body_says_it_is_an_attachment() -> None:
    out = render_cda(NON_XML_BODY)
    assert "fichier joint" in out.html and "application/pdf" in out.html
    assert "JVBERi0" not in out.html


def test_non_xml_body_media_type_is_not_trusted() -> None:
    doc = NON_XML_BODY.replace(
        b'mediaType="application/pdf"', b'mediaType="&lt;script&gt;alert(1)&lt;/script&gt;"'
    )
    out = render_cda(doc)
    assert "type : inconnu" in out.html
    _assert_safe(out.html)


def test_missing_title_falls_back_to_the_code_then_a_default() -> None:
    doc = CR_BIO.replace(b"<title>Compte rendu d'examens de biologie m\xc3\xa9dicale</title>", b"")
    assert render_cda(doc).title == "CR d'examens biologiques"
    doc = doc.replace(b'displayName="CR d\'examens biologiques"', b"")
    assert render_cda(doc).title == "Document médical"


def test_document_without_body_is_rendered_with_a_warning() -> None:
    out = render_cda(cda(""))
    assert out.warnings and "texte à afficher" in out.html


def test_deleted_revisions_are_not_shown() -> None:
    out = render_cda(
        with_text(
            '<paragraph>gardé<content revised="delete">effacé</content>'
            '<content revised="insert"> ajouté</content></paragraph>'
        )
    )
    assert "gardé" in out.html and "ajouté" in out.html and "effacé" not in out.html


def test_text_is_escaped() -> None:
    out = render_cda(with_text("<paragraph>&lt;b&gt;gras&lt;/b&gt; &amp; 3 &lt; 4</paragraph>"))
    assert "&lt;b&gt;gras&lt;/b&gt; &amp; 3 &lt; 4" in out.html
    assert "<b>" not in out.html


def test_list_caption_goes_before_the_list() -> None:
    out = render_cda(
        with_text(
            "<list><caption>Traitements</caption><item>A</item>texte perdu<item>B</item></list>"
        )
    )
    assert '<p class="cda-caption">Traitements</p><ul><li>A</li><li>B</li></ul>' in out.html


def test_caption_outside_a_table_and_unknown_elements() -> None:
    out = render_cda(with_text("<caption>Légende</caption><unknownThing>visible</unknownThing>"))
    assert '<p class="cda-caption">Légende</p>' in out.html
    assert "visible" in out.html and out.warnings


# --- hostile narratives ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("narrative", "kept"),
    [
        ("<paragraph>avant<script>alert(1)</script>après</paragraph>", "avantaprès"),
        ('<paragraph onclick="alert(1)" style="color:red" ID="p1">texte</paragraph>', "texte"),
        ('<content styleCode="Bold" onmouseover="alert(1)">gras</content>', "gras"),
        ('<linkHtml href="javascript:alert(1)">cliquez</linkHtml>', "cliquez"),
        (
            '<linkHtml href="http://evil.example/phish">résultats complets</linkHtml>',
            "résultats complets",
        ),
        ('<renderMultiMedia referencedObject="img1"/>', IMAGE_PLACEHOLDER),
        (
            '<table><tbody><tr><td colspan="2 onclick=alert(1)" rowspan="3">c</td></tr></tbody>'
            "</table>",
            "c",
        ),
        (
            '<paragraph><content styleCode="Bold&quot; onload=&quot;alert(1)">t</content>'
            "</paragraph>",
            "t",
        ),
    ],
    ids=[
        "script",
        "attributes",
        "content-handler",
        "javascript-link",
        "http-link",
        "multimedia",
        "bad-colspan",
        "stylecode-injection",
    ],
)
def test_hostile_narrative_is_neutralised(narrative: str, kept: str) -> None:
    out = render_cda(with_text(narrative))
    _assert_safe(out.html)
    text = _tree(out.html).find(".//div").text_content()
    assert kept in text
    assert "alert" not in out.html
    assert "evil.example" not in out.html


def test_multimedia_placeholder_warns() -> None:
    out = render_cda(with_text('<renderMultiMedia referencedObject="img1"/>'))
    assert IMAGE_PLACEHOLDER in out.html
    assert any("image" in w for w in out.warnings)


def test_only_numeric_spans_are_copied() -> None:
    out = render_cda(
        with_text('<table><tbody><tr><td colspan="2 x" rowspan="3">c</td></tr></tbody></table>')
    )
    td = _tree(out.html).find(".//td")
    assert td.get("rowspan") == "3" and td.get("colspan") is None


@pytest.mark.parametrize(
    "smuggled",
    [
        '<xhtml:script xmlns:xhtml="http://www.w3.org/1999/xhtml">alert(1)</xhtml:script>',
        '<xhtml:a xmlns:xhtml="http://www.w3.org/1999/xhtml" href="javascript:alert(1)">x'
        "</xhtml:a>",
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        '<paragraph xmlns="http://www.w3.org/1999/xhtml" onclick="alert(1)">alert(1)</paragraph>',
    ],
    ids=["xhtml-script", "xhtml-link", "svg-default-ns", "xhtml-default-ns"],
)
def test_foreign_namespaces_are_dropped(smuggled: str) -> None:
    out = render_cda(with_text(f"<paragraph>avant</paragraph>{smuggled}"))
    _assert_safe(out.html)
    assert "alert" not in out.html
    assert "avant" in out.html
    assert out.warnings


def test_prefix_declared_on_the_root_is_dropped_too() -> None:
    doc = with_text(
        "<h:script>alert(1)</h:script>", extra_ns='xmlns:h="http://www.w3.org/1999/xhtml"'
    )
    out = render_cda(doc)
    assert "alert" not in out.html


def test_second_wall_cleans_what_the_builder_might_let_through() -> None:
    dirty = (
        '<p onclick="x" style="color:red">a</p><script>b()</script>'
        '<a href="javascript:x">c</a><img src="http://evil.example/p.png">'
        '<td colspan="2" data-x="1">d</td><span class="k">e</span>'
    )
    cleaned = _clean(dirty)
    _assert_safe(cleaned)
    assert "b()" not in cleaned and "evil" not in cleaned
    assert "<p>a</p>" in cleaned and '<span class="k">e</span>' in cleaned


# --- hostile XML -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [XXE, BILLION_LAUGHS, EXTERNAL_DTD], ids=["xxe", "billion-laughs", "external-dtd"]
)
def test_dtd_and_entities_are_refused(data: bytes) -> None:
    with pytest.raises(CdaRenderError) as caught:
        render_cda(data)
    assert caught.value.reason == "hostile"
    assert "root:" not in caught.value.message_fr
    assert caught.value.message_fr[0].isupper()


def test_xxe_in_utf16_is_refused() -> None:
    data = XXE.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    with pytest.raises(CdaRenderError) as caught:
        render_cda(data.encode("utf-16"))
    assert caught.value.reason == "hostile"


def test_deep_nesting_is_refused() -> None:
    assert render_cda(deeply_nested(MAX_DEPTH - 20)).html
    with pytest.raises(CdaRenderError) as caught:
        render_cda(deeply_nested(MAX_DEPTH + 1))
    assert caught.value.reason == "hostile"
    with pytest.raises(CdaRenderError):
        render_cda(deeply_nested(100_000))


def test_too_large_is_refused() -> None:
    big = with_text("<paragraph>" + "x" * (MAX_CDA_BYTES + 1) + "</paragraph>")
    with pytest.raises(CdaRenderError) as caught:
        render_cda(big)
    assert caught.value.reason == "too_large"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not_xml"),
        (b"%PDF-1.4\n%%EOF", "not_xml"),
        (b"<ClinicalDocument xmlns='urn:hl7-org:v3'><title>", "not_xml"),
        (b"<html><body>bonjour</body></html>", "not_cda"),
        (b"<ClinicalDocument><title>sans espace de noms</title></ClinicalDocument>", "not_cda"),
        (b'<?xml version="1.0" encoding="x-unknown"?><a/>', "not_xml"),
        (b"\xff\xfe\x00\x00garbage", "not_xml"),
    ],
    ids=["empty", "pdf", "truncated", "html", "no-namespace", "bad-encoding", "garbage"],
)
def test_not_xml_or_not_cda_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(CdaRenderError) as caught:
        render_cda(data)
    assert caught.value.reason == reason
    assert caught.value.message_fr


# --- helpers ---------------------------------------------------------------------------


def test_looks_like_cda() -> None:
    assert looks_like_cda(CR_BIO, "text/xml")
    assert looks_like_cda(CR_BIO, "application/hl7-v3+xml; charset=utf-8")
    assert looks_like_cda(CR_BIO, None)
    assert looks_like_cda(CR_BIO.decode().encode("utf-16"), "application/xml")
    assert not looks_like_cda(CR_BIO, "application/pdf")
    assert not looks_like_cda(b"<html/>", "text/xml")
    assert not looks_like_cda(b"%PDF-1.4 ClinicalDocument urn:hl7-org:v3", "application/pdf")
    assert not looks_like_cda(b"", None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024", datetime(2024, 1, 1)),
        ("202403", datetime(2024, 3, 1)),
        ("20240312", datetime(2024, 3, 12)),
        ("202403121030", datetime(2024, 3, 12, 10, 30)),
        (
            "20240312103015.123-0500",
            datetime(2024, 3, 12, 10, 30, 15, tzinfo=timezone(timedelta(hours=-5))),
        ),
        ("20241332", None),
        ("", None),
        (None, None),
        ("hier", None),
    ],
)
def test_parse_ts(value: str | None, expected: datetime | None) -> None:
    assert parse_ts(value) == expected


# --- fuzzing -------------------------------------------------------------------------------


def _check_fuzz_output(data: bytes) -> None:
    try:
        out = render_cda(data)
    except CdaRenderError:
        return
    _assert_safe(out.html)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes(data: bytes) -> None:
    _check_fuzz_output(data)


_HOSTILE_BITS = [
    b"<script>alert(1)</script>",
    b' onclick="alert(1)"',
    b'<linkHtml href="javascript:x">j</linkHtml>',
    b"<!DOCTYPE x [<!ENTITY e 'e'>]>",
    b"&e;",
    b'<x:script xmlns:x="http://www.w3.org/1999/xhtml">s</x:script>',
    b'<content styleCode="Bold">',
    b"</content>",
    b"<table><tr><td>",
    b"]]>",
    b"<![CDATA[<script>]]>",
    b"\x00",
    b"\xff",
    b"<",
    b">",
    b"&",
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    base=st.sampled_from([CR_BIO, VSM, VACCINATION_NOTE, NON_XML_BODY]),
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0),
            st.integers(min_value=0, max_value=40),
            st.one_of(st.sampled_from(_HOSTILE_BITS), st.binary(max_size=20)),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_fuzz_mutated_fixtures(base: bytes, edits: list[tuple[int, int, bytes]]) -> None:
    data = bytearray(base)
    for position, cut, insert in edits:
        at = position % (len(data) + 1)
        data[at : at + cut] = insert
    _check_fuzz_output(bytes(data))


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=200))
def test_fuzz_narrative_text_is_kept_as_text(text: str) -> None:
    from xml.sax.saxutils import escape as xml_escape

    # XML itself normalises CR to LF and forbids the other C0 controls
    clean = "".join(ch for ch in text if ch in "\t\n" or ord(ch) >= 0x20)
    clean = "".join(ch for ch in clean if ch not in "\ufffe\uffff")
    doc = cda(structured(section("S", f"<paragraph>{xml_escape(clean)}</paragraph>")))
    out = render_cda(doc)
    _assert_safe(out.html)
    assert _tree(out.html).find(".//p").text_content() == clean


_WELL_FORMED_HOSTILE = [
    "<script>alert(1)</script>",
    '<paragraph onclick="alert(1)" style="x:y">p</paragraph>',
    '<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>',
    '<x:p xmlns:x="http://www.w3.org/1999/xhtml" onmouseover="alert(1)">p</x:p>',
    '<linkHtml href="javascript:alert(1)">l</linkHtml>',
    '<content styleCode="Bold Italics" style="background:url(http://evil)">c</content>',
    '<renderMultiMedia referencedObject="i"/>',
    '<td colspan="javascript:alert(1)" rowspan="1">t</td>',
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    '<iframe src="http://evil.example/"/>',
    "<![CDATA[<script>alert(1)</script>]]>",
    '<table><tbody><tr><td><list><item><content styleCode="Underline">u</content></item></list>'
    "</td></tr></tbody></table>",
]
_ANCHORS = [b"<text>", b"</paragraph>", b"</td>", b"</item>", b"</content>", b"<br/>"]


@settings(max_examples=200, deadline=None)
@given(
    base=st.sampled_from([CR_BIO, VSM, VACCINATION_NOTE]),
    inserts=st.lists(
        st.tuples(st.integers(min_value=0), st.sampled_from(_WELL_FORMED_HOSTILE)),
        min_size=1,
        max_size=5,
    ),
)
def test_fuzz_well_formed_hostile_insertions_render_safely(
    base: bytes, inserts: list[tuple[int, str]]
) -> None:
    data = base
    for choice, fragment in inserts:
        spots = [i + len(a) for a in _ANCHORS for i in range(len(data)) if data.startswith(a, i)]
        at = spots[choice % len(spots)]
        data = data[:at] + fragment.encode() + data[at:]
    out = render_cda(data)  # still well-formed: it must render, and safely
    _assert_safe(out.html)
    assert "evil" not in out.html
