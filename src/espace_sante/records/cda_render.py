"""Rendering a CDA R2 document's narrative as safe HTML for the patient's document page.

In charge of: reading a CDA R2 document (HL7 namespace ``urn:hl7-org:v3``) through hardened
parsers, refusing hostile XML (any DOCTYPE, hence entities and external DTDs; documents too
large or too deep), and turning its header (title, date, patient, author, custodian) and the
narrative blocks of its sections into HTML built from a whitelist, then cleaned again by nh3.
A ``nonXMLBody`` document gets a note that its content is carried as an attached file.
Not in charge of: the document's coded entries (vaccinations, results) — only the narrative a
human reads — nor validating CDA against schematrons.

The output never holds a script, a style, an event handler, a link or remote content: elements
are mapped one by one to a small set of HTML tags, no attribute is copied other than numeric
``colspan``/``rowspan``, and every text is escaped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as StdET
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html import escape
from typing import Final

import defusedxml
import defusedxml.ElementTree as SafeET
import nh3
from lxml import etree

__all__ = [
    "IMAGE_PLACEHOLDER",
    "MAX_CDA_BYTES",
    "MAX_DEPTH",
    "CdaRenderError",
    "RenderedCda",
    "looks_like_cda",
    "parse_ts",
    "render_cda",
]

HL7: Final = "urn:hl7-org:v3"
_NS: Final = {"h": HL7}
MAX_CDA_BYTES: Final = 10 * 1024 * 1024
"""Largest document rendered (10 MB)."""
MAX_DEPTH: Final = 100
"""Deepest element nesting accepted (real CDA documents stay well under 40)."""

IMAGE_PLACEHOLDER: Final = "[image non affichée]"

_PARSER: Final = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)

_ALLOWED_TAGS: Final = frozenset(
    {
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
)
_ALLOWED_ATTRIBUTES: Final = {
    "*": {"class"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}

# CDA narrative element -> HTML tag (elements with special handling are not listed).
_SIMPLE: Final = {
    "paragraph": "p",
    "item": "li",
    "table": "table",
    "thead": "thead",
    "tbody": "tbody",
    "tfoot": "tfoot",
    "tr": "tr",
    "sub": "sub",
    "sup": "sup",
}
# Names of web markup that are no CDA narrative elements and whose content is code, not text:
# dropped with their content even when they sit in the HL7 namespace.
_DROPPED: Final = frozenset(
    {
        "script",
        "style",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "svg",
        "math",
        "img",
        "a",
        "form",
        "input",
        "button",
        "textarea",
        "select",
        "link",
        "meta",
        "base",
        "noscript",
        "template",
    }
)
_STYLE_TAGS: Final = {"bold": "strong", "italics": "em", "emphasis": "em", "underline": "u"}
_SPAN_ATTR: Final = re.compile(r"^[1-9][0-9]?$")
_MEDIA_TYPE: Final = re.compile(r"^[A-Za-z0-9][\w.+-]{0,63}/[A-Za-z0-9][\w.+-]{0,63}$")
_TS: Final = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?$")
_MONTHS_FR: Final = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


class CdaRenderError(ValueError):
    """The document cannot be rendered; ``message_fr`` says why, for the patient."""

    def __init__(self, message_fr: str, *, reason: str = "invalid") -> None:
        super().__init__(message_fr)
        self.message_fr = message_fr
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RenderedCda:
    """A rendered CDA document: ``html`` is safe to insert in a page as is.

    ``effective_time`` is timezone-aware when the document states its offset, naive otherwise.
    ``warnings`` lists in French what was left out (unknown elements, images...).
    """

    title: str
    html: str
    effective_time: datetime | None
    warnings: tuple[str, ...]


def looks_like_cda(data: bytes, mime_type: str | None) -> bool:
    """Whether bytes announced with this media type are likely a CDA R2 document (a cheap
    check before rendering: XML media type, or none, and the CDA root in the first 4 KB)."""
    mime = (mime_type or "").split(";", 1)[0].strip().lower()
    if mime and not (
        mime in ("application/octet-stream", "text/plain")
        or mime.endswith("/xml")
        or mime.endswith("+xml")
    ):
        return False
    head = data[:4096]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = head.decode("utf-16")
        except UnicodeDecodeError:
            return False
        head = text.encode("utf-8", "replace")
    return b"<" in head and b"ClinicalDocument" in head and HL7.encode() in head


# --- parsing -------------------------------------------------------------------------------


def _check_depth(root: StdET.Element) -> None:
    stack: list[tuple[StdET.Element, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise CdaRenderError(
                "Ce document est imbriqué trop profondément pour être affiché.", reason="hostile"
            )
        stack.extend((child, depth + 1) for child in element)


def _parse(data: bytes) -> etree._Element:
    if len(data) > MAX_CDA_BYTES:
        raise CdaRenderError(
            "Ce document est trop volumineux pour être affiché.", reason="too_large"
        )
    # First wall: expat through defusedxml refuses any DOCTYPE (so entities and external
    # DTDs), and gives a tree whose depth is measured without recursion.
    try:
        gate = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException:
        raise CdaRenderError(
            "Ce document contient des déclarations XML interdites (DOCTYPE, entités) : il "
            "n'est pas affiché.",
            reason="hostile",
        ) from None
    except Exception:  # expat's ParseError, unknown encodings, ...
        raise CdaRenderError(
            "Ce document n'est pas un fichier XML lisible.", reason="not_xml"
        ) from None
    _check_depth(gate)
    # Second wall: lxml with no network, no DTD, no entity resolution, no huge trees.
    try:
        root = etree.fromstring(data, _PARSER)
    except Exception:
        raise CdaRenderError(
            "Ce document n'est pas un fichier XML lisible.", reason="not_xml"
        ) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # pragma: no cover - gate above
        raise CdaRenderError(
            "Ce document contient une déclaration DOCTYPE interdite.", reason="hostile"
        )
    if root.tag != f"{{{HL7}}}ClinicalDocument":
        raise CdaRenderError("Ce document XML n'est pas un document médical CDA.", reason="not_cda")
    return root


# --- small readers ---------------------------------------------------------------------------


def _local(element: etree._Element) -> str | None:
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith(f"{{{HL7}}}"):
        return None
    return tag[len(HL7) + 2 :]


def _text_of(element: etree._Element | None) -> str:
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())


def _first(root: etree._Element, path: str) -> etree._Element | None:
    return root.find(path, _NS)


def _person_name(name: etree._Element | None) -> str:
    """``prefix given… FAMILY``: the first family name only (birth and used names may both
    be given); a name with no parts gives its plain text."""
    if name is None:
        return ""
    before: list[str] = []
    family = ""
    for child in name:
        kind, value = _local(child), _text_of(child)
        if not value:
            continue
        if kind in ("prefix", "given"):
            before.append(value)
        elif kind == "family" and not family:
            family = value.upper()
    parts = [*before, family] if family else before
    return " ".join(parts) if parts else _text_of(name)


def parse_ts(value: str | None) -> datetime | None:
    """An HL7 TS (``YYYYMMDDHHMMSS[.f][+ZZZZ]``, any precision from the year) as a datetime."""
    match = _TS.match((value or "").strip())
    if not match:
        return None
    year, month, day, hour, minute, second, offset = match.groups()
    try:
        tz = None
        if offset:
            sign = 1 if offset[0] == "+" else -1
            delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
            tz = timezone(sign * delta)
        return datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=tz,
        )
    except ValueError:
        return None


def _format_date_fr(moment: datetime, precision: int) -> str:
    text = f"{moment.day} {_MONTHS_FR[moment.month - 1]} {moment.year}"
    if precision >= 12:
        text += f" à {moment.hour} h {moment.minute:02d}"
    return text


# --- the narrative -----------------------------------------------------------------------------


class _Renderer:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def text(self, value: str | None) -> None:
        if value:
            self.out.append(escape(value, quote=True))

    def children(self, element: etree._Element) -> None:
        self.text(element.text)
        for child in element:
            self.node(child)
            self.text(child.tail)

    def wrap(self, tag: str, element: etree._Element, attrs: str = "") -> None:
        self.out.append(f"<{tag}{attrs}>")
        self.children(element)
        self.out.append(f"</{tag}>")

    def node(self, element: etree._Element) -> None:
        if not isinstance(element.tag, str):  # comments and processing instructions
            return
        name = _local(element)
        if name is None:
            self.warn("Un contenu d'un format non reconnu a été ignoré.")
            return
        if name.lower() in _DROPPED:
            self.warn("Un contenu actif (script ou équivalent) a été retiré du document.")
        elif name in _SIMPLE:
            self.wrap(_SIMPLE[name], element)
        elif name == "list":
            self.render_list(element)
        elif name in ("th", "td"):
            attrs = ""
            for attr in ("colspan", "rowspan"):
                value = (element.get(attr) or "").strip()
                if _SPAN_ATTR.match(value):
                    attrs += f' {attr}="{value}"'
            self.wrap(name, element, attrs)
        elif name == "caption":
            parent = element.getparent()
            if parent is not None and _local(parent) == "table":
                self.wrap("caption", element)
            else:
                self.wrap("p", element, ' class="cda-caption"')
        elif name == "content":
            self.content(element)
        elif name == "br":
            self.out.append("<br>")
        elif name == "linkHtml":
            self.out.append('<span class="cda-link">')
            self.text(_text_of(element))
            self.out.append("</span>")
        elif name == "renderMultiMedia":
            self.warn("Une image du document n'est pas affichée.")
            self.out.append(f'<span class="cda-media">{escape(IMAGE_PLACEHOLDER)}</span>')
        elif name == "footnote":
            self.wrap("small", element, ' class="cda-footnote"')
        elif name in ("footnoteRef", "col", "colgroup"):
            return
        elif name == "text":
            self.children(element)
        else:
            self.warn("Un élément non reconnu du document a été affiché comme du texte simple.")
            self.children(element)

    def render_list(self, element: etree._Element) -> None:
        # HTML lists hold only items: a list's caption goes before it, stray text is dropped
        for caption in element.iterfind("h:caption", _NS):
            self.wrap("p", caption, ' class="cda-caption"')
        ordered = (element.get("listType") or "").lower() == "ordered"
        tag = "ol" if ordered else "ul"
        self.out.append(f"<{tag}>")
        for child in element:
            if _local(child) == "item":
                self.node(child)
        self.out.append(f"</{tag}>")

    def content(self, element: etree._Element) -> None:
        if (element.get("revised") or "").lower() == "delete":
            return
        styles = (element.get("styleCode") or "").lower().split()
        tags = [t for t in dict.fromkeys(_STYLE_TAGS.get(s, "") for s in styles) if t]
        self.out.append("<span>" + "".join(f"<{t}>" for t in tags))
        self.children(element)
        self.out.append("".join(f"</{t}>" for t in reversed(tags)) + "</span>")

    def section(self, section: etree._Element, level: int) -> None:
        heading = min(level, 6)
        title = _text_of(_first(section, "h:title"))
        if not title:
            code = _first(section, "h:code")
            title = (code.get("displayName") or "").strip() if code is not None else ""
        self.out.append('<section class="cda-section">')
        if title:
            self.out.append(f"<h{heading}>{escape(title)}</h{heading}>")
        narrative = _first(section, "h:text")
        if narrative is not None:
            self.out.append('<div class="cda-text">')
            self.children(narrative)
            self.out.append("</div>")
        for sub in section.iterfind("h:component/h:section", _NS):
            self.section(sub, level + 1)
        self.out.append("</section>")


def _header(root: etree._Element, title: str, r: _Renderer) -> datetime | None:
    effective = _first(root, "h:effectiveTime")
    raw_ts = (effective.get("value") if effective is not None else None) or ""
    moment = parse_ts(raw_ts)
    patient = _person_name(_first(root, "h:recordTarget/h:patientRole/h:patient/h:name"))
    author = _person_name(_first(root, "h:author/h:assignedAuthor/h:assignedPerson/h:name"))
    if not author:
        org = _first(root, "h:author/h:assignedAuthor/h:representedOrganization/h:name")
        author = _text_of(org)
    custodian = _text_of(
        _first(root, "h:custodian/h:assignedCustodian/h:representedCustodianOrganization/h:name")
    )
    rows: list[tuple[str, str]] = []
    if moment is not None:
        digits = len(raw_ts.split(".")[0].split("+")[0].split("-")[0])
        rows.append(("Date", _format_date_fr(moment, digits)))
    for label, value in (("Patient", patient), ("Auteur", author), ("Établissement", custodian)):
        if value:
            rows.append((label, value))
    r.out.append(f'<header class="cda-header"><h1>{escape(title)}</h1>')
    if rows:
        r.out.append("<dl>")
        for label, value in rows:
            r.out.append(f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>")
        r.out.append("</dl>")
    r.out.append("</header>")
    return moment


def _clean(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(_ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={k: set(v) for k, v in _ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(),
        strip_comments=True,
        link_rel=None,
    )


def render_cda(data: bytes) -> RenderedCda:
    """Render a CDA R2 document as safe HTML; :class:`CdaRenderError` (French message) when
    it is not XML, not CDA, or hostile."""
    root = _parse(data)
    title = _text_of(_first(root, "h:title"))
    if not title:
        code = _first(root, "h:code")
        title = (code.get("displayName") or "").strip() if code is not None else ""
    title = title or "Document médical"
    r = _Renderer()
    r.out.append('<article class="cda-document">')
    moment = _header(root, title, r)
    body = _first(root, "h:component/h:structuredBody")
    non_xml = _first(root, "h:component/h:nonXMLBody")
    if body is not None:
        sections = list(body.iterfind("h:component/h:section", _NS))
        if not sections:
            r.warn("Le document ne contient aucune section.")
        for section in sections:
            r.section(section, 2)
    elif non_xml is not None:
        text = _first(non_xml, "h:text")
        media = (text.get("mediaType") or "").strip() if text is not None else ""
        shown = media if _MEDIA_TYPE.match(media) else "inconnu"
        r.out.append(
            '<p class="cda-note">Le contenu de ce document est transmis sous forme de fichier '
            f"joint (type : {escape(shown)}) ; il n'est pas affiché ici.</p>"
        )
    else:
        r.warn("Le document ne contient pas de corps lisible.")
        r.out.append('<p class="cda-note">Ce document ne contient pas de texte à afficher.</p>')
    r.out.append("</article>")
    return RenderedCda(title, _clean("".join(r.out)), moment, tuple(r.warnings))
