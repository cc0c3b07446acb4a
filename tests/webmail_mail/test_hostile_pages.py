"""Hostile HTML, CSS and SVG messages delivered by the gateway and shown by the message page:
nothing executable or remote reaches the page."""

from __future__ import annotations

import re

from espace_sante.storage.runtime import Storage
from fixtures.seed import Seeded

from .conftest import UNREAD, Filled, Web, deliver, message
from .hostile import HOSTILE_HTML, problems_in


def _body(page: str) -> str:
    m = re.search(
        r'<div class="mail-body-html">(.*?)</div>\s*(?:<p class="mail-info">|</section>)',
        page,
        re.S,
    )
    assert m is not None, "no HTML body on the page"
    return m.group(1)


async def test_hostile_html_bodies_are_neutralised_on_the_page(
    web: Web, filled: Filled, storage: Storage, seeded: Seeded
) -> None:
    for name, html in HOSTILE_HTML.items():
        raw = message(to=seeded.active.address, subject=f"hostile {name}", html=html)
        await deliver(storage, seeded, raw)
    listing = await web.client.get(
        "/mail/dossiers/INBOX", params={"q": "hostile", "champ": "objet"}
    )
    uids = dict(
        (subject, uid)
        for uid, subject in re.findall(
            r'<a href="/mail/dossiers/INBOX/(\d+)">' + UNREAD + r"hostile (\w+)</a>",
            listing.text,
        )
    )
    assert set(uids) == set(HOSTILE_HTML)
    for name, uid in uids.items():
        r = await web.client.get(f"/mail/dossiers/INBOX/{uid}")
        assert r.status_code == 200, name
        body = _body(r.text)
        assert problems_in(body) == [], name
        assert "<script" not in r.text.lower(), name
        assert (
            "evil.example"
            not in re.sub(r'<span class="mail-link-target">\[[^]]*\]</span>', "", body)
            or name in ()
        ), name
        if name == "remote_images":
            assert "contenus distants de ce message ont été bloqués" in r.text
            assert 'alt="logo"' in body


async def test_hostile_headers_are_escaped(
    web: Web, filled: Filled, storage: Storage, seeded: Seeded
) -> None:
    raw = message(
        to=seeded.active.address,
        name='<img src=x onerror=alert(1)> "Dr"',
        subject='<script>alert("objet")</script> Résultat',
        text="<script>alert('texte')</script>\nligne 2",
    )
    await deliver(storage, seeded, raw)
    listing = await web.client.get("/mail/dossiers/INBOX")
    assert "<script" not in listing.text
    assert "&lt;script&gt;alert(&#34;objet&#34;)&lt;/script&gt; Résultat" in listing.text
    uid = re.search(
        r'<a href="/mail/dossiers/INBOX/(\d+)">' + UNREAD + "&lt;script",
        listing.text,
    )
    assert uid is not None
    r = await web.client.get(f"/mail/dossiers/INBOX/{uid.group(1)}")
    assert "<script" not in r.text and "<img src=x" not in r.text
    assert "&lt;script&gt;alert(&#x27;texte&#x27;)&lt;/script&gt;\nligne 2" in r.text
