"""Security headers on every response, and the attributes of every cookie (RFC 6265bis)."""

from __future__ import annotations

from espace_sante.cli.webapp import create_app
from espace_sante.web.security import CONTENT_SECURITY_POLICY
from web.conftest import Web, activate, make_client, web_settings_of

EXPECTED_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def assert_security_headers(response, page: bool = True) -> None:  # type: ignore[no-untyped-def]
    h = response.headers
    assert h["content-security-policy"] == EXPECTED_CSP, response.url
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-frame-options"] == "DENY"
    if page:
        assert h["cache-control"] == "no-store", response.url


async def test_every_page_carries_the_csp_and_no_store(web: Web) -> None:
    assert CONTENT_SECURITY_POLICY == EXPECTED_CSP
    anonymous = [
        "/",
        "/connexion",
        "/connexion?etat=deconnecte",
        "/activation",
        "/session-expiree",
        "/nulle-part",
        "/connexion/code",
        "/mail/",
        "/compte",
    ]
    for path in anonymous:
        assert_security_headers(await web.client.get(path))
    assert_security_headers(await web.client.post("/connexion", data={}))  # 403
    await activate(web.storage, web.seeded.active.account_id, web.clock())
    await web.login_fully(web.seeded.active.ins)
    for path in ("/compte", "/nulle-part", "/mail/"):
        assert_security_headers(await web.client.get(path))
    css = await web.client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert_security_headers(css, page=False)


async def test_pages_have_no_inline_script_or_style(web: Web) -> None:
    await activate(web.storage, web.seeded.active.account_id, web.clock())
    pages = [await web.client.get(p) for p in ("/connexion", "/activation", "/session-expiree")]
    await web.login_fully(web.seeded.active.ins)
    pages.append(await web.client.get("/compte"))
    for page in pages:
        text = page.text.lower()
        assert "<script" not in text and "<style" not in text and " style=" not in text
        assert '<html lang="fr">' in text and 'href="#contenu"' in text


async def test_dev_cookies_are_httponly_samesite_strict(web: Web) -> None:
    first = await web.client.get("/connexion")
    pre = first.headers["set-cookie"]
    assert pre.startswith("espace_pre=")
    assert "; Path=/; HttpOnly; SameSite=Strict" in pre and "Secure" not in pre
    await activate(web.storage, web.seeded.active.account_id, web.clock())
    login = await web.login(web.seeded.active.ins)
    cookie = login.headers["set-cookie"]
    assert cookie.startswith("espace_session=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and "Max-Age" not in cookie and "Domain" not in cookie


async def test_production_cookies_are_secure_host_only(web: Web) -> None:
    settings = web_settings_of(web.settings, cookie_secure=True, base_url="https://espace.example")
    import httpx

    app = create_app(settings, web.storage, clock=web.clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)),
        base_url="https://espace.example",
    ) as client:
        page = await client.get("/connexion")
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("__Host-espace_pre=")
        assert cookie.endswith("; Path=/; HttpOnly; SameSite=Strict; Secure")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        secure_web = Web(client, settings, web.storage, web.clock, web.seeded)
        await activate(web.storage, web.seeded.active.account_id, web.clock())
        login = await secure_web.login(web.seeded.active.ins)
        assert login.status_code == 303
        session_cookie = login.headers["set-cookie"]
        assert session_cookie.startswith("__Host-espace_session=")
        assert session_cookie.endswith("; Path=/; HttpOnly; SameSite=Strict; Secure")
        # A cookie without the prefix (planted by a sub-domain, say) is not a session.
        await secure_web.post("/connexion/code", {"code": secure_web.last_sms_code()})
        token = client.cookies["__Host-espace_session"]
    async with make_client(app) as plain:
        plain.cookies.set("espace_session", token)
        assert (await plain.get("/compte")).status_code == 303


async def test_app_exposes_a_token_signer_for_the_mail_pages(web: Web) -> None:
    from espace_sante.accounts.tokens import TokenSigner

    app = create_app(web.settings, web.storage, clock=web.clock)
    token = app.state.token_signer.issue(7, "x@patient.mssante.fr")
    claims = TokenSigner.from_settings(web.settings).verify(token, "imap")
    assert claims.account_id == 7 and app.state.settings is web.settings
    assert app.state.storage is web.storage
