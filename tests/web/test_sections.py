"""The shell serves the sections its caller hands it: routes, templates extending ``base.html``,
static files and stylesheets, protected prefixes, and the page a patient lands on after login."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from espace_sante import portal, webmail
from espace_sante.cli.webapp import SECTIONS
from espace_sante.config import Settings
from espace_sante.storage.runtime import Storage
from espace_sante.web.app import Section, create_app
from espace_sante.web.templating import render
from fixtures.seed import seed_trust_space
from web.conftest import Clock, Web, activate, make_client


def test_the_site_is_the_shell_with_webmail_and_portal() -> None:
    assert SECTIONS == (webmail.SECTION, portal.SECTION)
    assert webmail.SECTION.mount == "/mail" and webmail.SECTION.protected_prefixes == ("/mail",)
    assert portal.SECTION.mount is None and portal.SECTION.routes
    assert portal.SECTION.home_card is not None and webmail.SECTION.home_card is not None
    assert [link.href for link in webmail.SECTION.nav] == ["/mail/"]
    assert "/documents" in [link.href for link in portal.SECTION.nav]


async def test_every_sections_prefix_needs_a_login(web: Web) -> None:
    for path in ("/compte", "/mail/", "/accueil", "/documents", "/urgence", "/proches"):
        response = await web.client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/connexion", path
    assert (await web.client.get("/connexion")).status_code == 200


async def test_every_page_links_the_shell_and_section_stylesheets(web: Web) -> None:
    page = (await web.client.get("/connexion")).text
    assert page.index('href="/static/style.css"') < page.index('href="/static/mail.css"')
    for name in ("style.css", "mail.css"):
        css = await web.client.get(f"/static/{name}")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


async def test_a_section_of_its_own(
    web_settings: Settings, storage: Storage, clock: Clock, tmp_path: Path
) -> None:
    (tmp_path / "essai.html").write_text(
        '{% extends "base.html" %}{% block main %}<h1>Page d\'essai</h1>{% endblock %}'
    )
    (tmp_path / "essai.css").write_text("h1 { color: black; }")

    async def page(request: Request) -> Response:
        return render(request, "essai.html")

    section = Section(
        mount=None,
        routes=[Route("/essai", page)],
        template_dir=tmp_path,
        protected_prefixes=("/essai",),
        static_dir=tmp_path,
        stylesheets=("/static/essai.css",),
    )
    app = create_app(
        web_settings, storage, sections=[section], clock=clock, post_login_path="/essai"
    )
    seeded = await seed_trust_space(storage)
    async with make_client(app) as client:
        web = Web(client, web_settings, storage, clock, seeded)
        anonymous = await client.get("/essai")
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/connexion"
        assert (await client.get("/mail/")).status_code == 404  # no webmail in this app
        assert (await client.get("/static/essai.css")).status_code == 200
        assert (await client.get("/static/style.css")).status_code == 200

        await activate(storage, seeded.active.account_id, clock())
        first = await web.login(seeded.active.ins)
        assert first.headers["location"].startswith("/connexion/code")
        done = await web.post("/connexion/code", {"code": web.last_sms_code()})
        assert done.status_code == 303 and done.headers["location"] == "/essai"
        assert (await client.get("/")).headers["location"] == "/essai"
        shown = await client.get("/essai")
        assert shown.status_code == 200
        assert "<h1>Page d'essai</h1>" in shown.text and 'lang="fr"' in shown.text
        assert 'href="/static/style.css"' in shown.text
        assert 'href="/static/essai.css"' in shown.text
