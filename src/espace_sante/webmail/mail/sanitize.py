"""Making a message body safe to show inside our pages.

HTML mail goes through nh3 (the ammonia sanitiser) with a short allow-list: no script, no
event handler, no style (neither elements nor attributes: CSS can fetch and exfiltrate), no
form, no SVG or MathML, no ``<base>``/``<meta>``/``<link>``, no relative or ``javascript:``/
``data:`` URL. Remote content is blocked: images lose their ``src`` (tracking pixels included).
Links stay, with ``rel="noopener noreferrer"``, and their real destination is written out after
them so the patient sees where a link goes. Plain text is escaped, its line breaks kept, its
web addresses made into the same kind of links.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import nh3
from markupsafe import Markup

#: Largest body rendered (larger ones are cut, with a note); keeps pages and nh3 fast.
MAX_BODY_CHARS = 1_000_000

_TAGS = {
    "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite", "code", "col",
    "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p",
    "pre", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul", "var", "wbr",
    "center",
}  # fmt: skip
#: Elements removed with everything inside them.
_DROP_WITH_CONTENT = {
    "script", "style", "title", "template", "svg", "math", "object", "iframe", "noscript",
    "head", "textarea", "select", "button", "frameset", "noembed", "xmp",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "hreflang", "title"},
    "img": {"src", "alt", "width", "height", "title"},
    "td": {"colspan", "rowspan", "headers", "align"},
    "th": {"colspan", "rowspan", "headers", "scope", "align"},
    "table": {"summary"},
    "ol": {"start"},
    "abbr": {"title"},
    "bdo": {"dir"},
    "time": {"datetime"},
    "*": {"lang", "dir"},
}
_LINK_SCHEMES = {"http", "https", "mailto", "tel"}
_LINK = re.compile(r'(<a\b[^>]*?\shref="([^"]*)"[^>]*>)(.*?)(</a>)', re.S)
_URL_IN_TEXT = re.compile(r"\bhttps?://[^\s<>\"'\x00-\x1f]+", re.I)


@dataclass(frozen=True)
class SafeBody:
    """A body ready for the template, and whether remote content was blocked."""

    html: Markup
    remote_blocked: bool
    truncated: bool


def sanitise_html(source: str) -> SafeBody:
    """An HTML body with nothing executable and nothing remote left in it."""
    truncated = len(source) > MAX_BODY_CHARS
    source = source[:MAX_BODY_CHARS]
    blocked: list[str] = []

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            blocked.append(value)
            return None
        if attribute in ("width", "height") and not value.strip().isdigit():
            return None
        return value

    cleaned = nh3.clean(
        source,
        tags=_TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=_ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes=_LINK_SCHEMES,
        url_relative="deny",
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
    return SafeBody(Markup(_show_link_targets(cleaned)), bool(blocked), truncated)


def _show_link_targets(cleaned: str) -> str:
    """Write each link's destination after it, e.g. ``texte [https://exemple.fr/]``."""

    def add_target(m: re.Match[str]) -> str:
        target = html.unescape(m.group(2))
        shown = html.escape(target if len(target) <= 120 else target[:117] + "…")
        shown_html = f'<span class="mail-link-target">[{shown}]</span>'
        return f"{m.group(1)}{m.group(3)}{m.group(4)} {shown_html}"

    return _LINK.sub(add_target, cleaned)


def render_text(source: str) -> SafeBody:
    """A plain-text body: escaped, line breaks kept (CSS ``white-space: pre-wrap``), web
    addresses linked."""
    truncated = len(source) > MAX_BODY_CHARS
    source = source[:MAX_BODY_CHARS].replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    last = 0
    for m in _URL_IN_TEXT.finditer(source):
        url = m.group(0).rstrip(".,;:!?)]}")
        end = m.start() + len(url)
        out.append(html.escape(source[last : m.start()]))
        escaped = html.escape(url)
        out.append(f'<a href="{escaped}" rel="noopener noreferrer" target="_blank">{escaped}</a>')
        last = end
    out.append(html.escape(source[last:]))
    return SafeBody(Markup("".join(out)), False, truncated)
