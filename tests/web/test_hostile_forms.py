"""Hostile and malformed input at every form: CSRF, header injection, oversize bodies, unicode
tricks, uploads where text is expected; and the French error pages."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select
from starlette.routing import Route

from espace_sante.cli.webapp import create_app
from espace_sante.storage.schema import Account, OutboundMessage, WebCredential
from web.conftest import EMAIL, PASSWORD, Web, activate, issue_code, make_client, web_settings_of

FORMS = {
    "/connexion": {"identifier": "x@example.org", "password": "y"},
    "/activation": {"identifier": "x@example.org", "code": "AAAA-BBBB-CCCC"},
    "/deconnexion": {},
    "/connexion/code": {"code": "123456"},
    "/connexion/code/renvoyer": {},
    "/activation/mot-de-passe": {"password": "p"},
    "/mot-de-passe-oublie": {"identifier": "x@example.org"},
    "/mot-de-passe-oublie/nouveau": {
        "identifier": "x@example.org",
        "code": "123456",
        "password": "b",
        "confirmation": "b",
    },
}


@pytest.mark.parametrize("path", sorted(FORMS))
async def test_post_without_or_with_a_wrong_csrf_token_is_refused(web: Web, path: str) -> None:
    await web.client.get("/connexion")  # the pre-session cookie exists
    missing = await web.client.post(path, data=FORMS[path])
    assert missing.status_code == 403
    assert "Action refusée" in missing.text and "Traceback" not in missing.text
    forged = await web.client.post(path, data={**FORMS[path], "csrf_token": "0" * 64})
    assert forged.status_code == 403
    as_json = await web.client.post(path, json={**FORMS[path], "csrf_token": "0" * 64})
    assert as_json.status_code == 403


async def test_a_token_from_another_browser_is_refused(web: Web) -> None:
    other = make_client(create_app(web.settings, web.storage, clock=web.clock))
    token_of_other = await Web(other, web.settings, web.storage, web.clock, web.seeded).csrf()
    await web.client.get("/connexion")
    response = await web.client.post(
        "/connexion", data={"identifier": "a@b.fr", "password": "x", "csrf_token": token_of_other}
    )
    assert response.status_code == 403


async def test_logout_without_token_keeps_the_session(web: Web) -> None:
    await activate(web.storage, web.seeded.active.account_id, web.clock())
    await web.login_fully(web.seeded.active.ins)
    assert (await web.client.post("/deconnexion", data={})).status_code == 403
    assert (await web.client.get("/compte")).status_code == 200


async def test_oversize_body_is_refused_with_413_before_any_handler(web: Web) -> None:
    token = await web.csrf()
    big = "a" * (web.settings.web.max_body_bytes + 1)
    response = await web.client.post(
        "/connexion", data={"csrf_token": token, "identifier": big, "password": "x"}
    )
    assert response.status_code == 413
    assert "Requête trop volumineuse" in response.text
    assert "content-security-policy" in response.headers

    async def chunks():  # no Content-Length: the limit is counted while reading
        for _ in range(web.settings.web.max_body_bytes // 65536 + 2):
            yield b"a" * 65536

    streamed = await web.client.post(
        "/connexion",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413


async def test_overlong_fields_are_refused_not_cut(web: Web) -> None:
    response = await web.post("/connexion", {"identifier": "a" * 255 + "@x.fr", "password": "x"})
    assert response.status_code == 400
    assert "données non valides" in response.text


async def test_a_file_where_text_is_expected_is_refused(web: Web) -> None:
    token = await web.csrf()
    response = await web.client.post(
        "/connexion",
        data={"csrf_token": token, "password": "x"},
        files={"identifier": ("id.txt", b"280017512345610", "text/plain")},
    )
    assert response.status_code == 400 and "données non valides" in response.text


@pytest.mark.parametrize(
    "identifier",
    [
        "x@example.org\r\nBcc: victim@example.org",
        "280017512345610\nX-Injected: 1",
        "28001751234\u200b5610",  # zero-width space
        "\u202e016543217510082",  # right-to-left override
        "\x00",
    ],
)
async def test_control_and_invisible_characters_in_identifier(web: Web, identifier: str) -> None:
    await activate(web.storage, web.seeded.active.account_id, web.clock())
    response = await web.login(identifier)
    assert response.status_code == 400
    text = html.unescape(response.text)
    assert "X-Injected" not in text and "Bcc" not in text  # not echoed back either


async def test_full_width_digits_are_the_same_ins(web: Web) -> None:
    await activate(web.storage, web.seeded.active.account_id, web.clock())
    wide = "".join(chr(ord(c) + 0xFEE0) for c in web.seeded.active.ins)
    assert (await web.login(wide)).status_code == 303


async def test_password_is_normalised_nfkc(web: Web) -> None:
    patient = web.seeded.created
    code = await issue_code(web.storage, patient.account_id, web.clock())
    await web.post("/activation", {"identifier": patient.ins, "code": code})
    composed = "Café-Crème-2026!"
    decomposed = "Cafe\u0301-Cre\u0300me-2026!"
    done = await web.post(
        "/activation/mot-de-passe",
        {
            "password": composed,
            "confirmation": composed,
            "personal_email": EMAIL,
            "mobile_phone": "",
            "channel": "email",
        },
    )
    assert done.status_code == 303
    assert (await web.login(patient.ins, decomposed)).status_code == 303


async def activation_page(web: Web) -> None:
    patient = web.seeded.created
    code = await issue_code(web.storage, patient.account_id, web.clock())
    assert (
        await web.post("/activation", {"identifier": patient.ins, "code": code})
    ).status_code == 303


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"password": "court1A!"}, "password", "au moins 12 caractères"),
        ({"password": "toutenminuscules"}, "password", "trois types de caractères"),
        ({"password": "aaaaaaaaaaaaA1!"}, "password", "trop répétitif"),
        ({"password": "Mon201059233344411!"}, "password", "ne doit pas contenir votre identifiant"),
        ({"confirmation": "Autre-chose-2026"}, "confirmation", "pas identiques"),
        ({"personal_email": "pas-une-adresse"}, "personal_email", "Adresse électronique invalide"),
        (
            {"personal_email": f"{EMAIL}\r\nBcc: evil@example.org"},
            "personal_email",
            "caractères non autorisés",
        ),
        ({"personal_email": "mariè@exemple.fr"}, "personal_email", "Adresse électronique invalide"),
        ({"mobile_phone": "06 12 34"}, "mobile_phone", "Numéro de mobile invalide"),
        ({"mobile_phone": "0612345678\r\nX: y"}, "mobile_phone", "caractères non autorisés"),
        ({"mobile_phone": "", "channel": "sms"}, "mobile_phone", "Indiquez un numéro"),
        ({"personal_email": "", "channel": "email"}, "personal_email", "Indiquez une adresse"),
        ({"channel": "pigeon"}, "channel", "Choisissez comment"),
    ],
)
async def test_activation_form_validation(
    web: Web, fields: dict[str, str], field: str, message: str
) -> None:
    await activation_page(web)
    data = {
        "password": PASSWORD,
        "confirmation": PASSWORD,
        "personal_email": EMAIL,
        "mobile_phone": "06 12 34 56 78",
        "channel": "sms",
    }
    data.update(fields)
    if "password" in fields and "confirmation" not in fields:
        data["confirmation"] = fields["password"]
    response = await web.post("/activation/mot-de-passe", data)
    assert response.status_code == 400
    page = html.unescape(response.text)
    assert message in page
    assert f'id="{field}-erreur"' in page and 'aria-invalid="true"' in page or field == "channel"
    assert "evil@example.org" not in page and "X: y" not in page
    async with web.storage.sessions() as db:
        assert await db.get(WebCredential, web.seeded.created.account_id) is None
        account = await db.get(Account, web.seeded.created.account_id)
        assert account is not None and "evil" not in (account.personal_email or "")
        assert (await db.execute(select(OutboundMessage))).first() is None


async def test_html_in_fields_is_escaped_when_echoed(web: Web) -> None:
    response = await web.login('"><script>alert(1)</script>@x.fr')
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text or "&#34;&gt;&lt;script" in response.text


async def test_malformed_cookie_header_is_no_session(web: Web) -> None:
    response = await web.client.get(
        "/compte", headers={"cookie": 'espace_session="\\x00; ;;=; espace_pre=\u00e9'.encode()}
    )
    assert response.status_code == 303 and response.headers["location"] == "/connexion"
    huge = await web.client.get("/compte", headers={"cookie": "espace_session=" + "A" * 5000})
    assert huge.status_code == 303


async def test_malformed_multipart_is_refused(web: Web) -> None:
    await web.client.get("/connexion")
    response = await web.client.post(
        "/connexion",
        content=b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\nabc',
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code in (400, 403)


async def test_error_pages_are_french_without_stack_traces(web: Web) -> None:
    not_found = await web.client.get("/nulle-part")
    assert not_found.status_code == 404 and "Page introuvable" in not_found.text
    wrong_method = await web.client.put("/connexion")
    assert wrong_method.status_code in (403, 405)
    get_logout = await web.client.get("/deconnexion")
    assert get_logout.status_code == 405 and "Méthode non autorisée" in html.unescape(
        get_logout.text
    )

    async def boom(request: object) -> None:
        raise RuntimeError("secret detail /etc/passwd")

    app = create_app(web.settings, web.storage, clock=web.clock)
    app.router.routes.insert(0, Route("/boom", boom))
    async with make_client(app) as client:
        failed = await client.get("/boom")
    assert failed.status_code == 500
    assert "Erreur du serveur" in failed.text
    assert "secret detail" not in failed.text and "Traceback" not in failed.text
    assert failed.headers["content-security-policy"].startswith("default-src 'none'")


async def test_secure_cookie_setting_refuses_plain_http_configs(web: Web) -> None:
    from espace_sante.config.settings import ConfigError, _validate_web

    bad = web_settings_of(web.settings, base_url="http://espace.example.org")
    with pytest.raises(ConfigError, match="web.cookie_secure"):
        _validate_web(bad.web)


# -- password change and reset ---------------------------------------------------------------

HOSTILE_IDENTIFIERS = [
    "x@example.org\r\nBcc: victim@example.org",
    "280017512345610\nX-Injected: 1",
    "\u202e016543217510082",
    "\x00",
    '"><script>alert(1)</script>@x.fr',
]


@pytest.mark.parametrize("identifier", HOSTILE_IDENTIFIERS)
async def test_hostile_identifiers_at_the_reset_form(web: Web, identifier: str) -> None:
    await activate(web.storage, web.seeded.active.account_id, web.clock(), channel="email")
    response = await web.post("/mot-de-passe-oublie", {"identifier": identifier})
    assert response.status_code == 200  # the same page as for any identifier
    text = html.unescape(response.text)
    assert "X-Injected" not in text and "Bcc" not in text  # not echoed back
    assert "<script>alert" not in response.text  # echoed escaped at most
    async with web.storage.sessions() as db:
        assert (await db.execute(select(OutboundMessage))).first() is None  # nothing sent
    second = await web.post(
        "/mot-de-passe-oublie/nouveau",
        {"identifier": identifier, "code": "123456\r\nX-Injected: 1",
         "password": "Camomille-Tilleul-2027", "confirmation": "Camomille-Tilleul-2027"},
        form_page="/mot-de-passe-oublie",
    )  # fmt: skip
    assert second.status_code == 400
    assert "X-Injected" not in html.unescape(second.text)


@pytest.mark.parametrize(
    ("path", "fields", "login"),
    [
        ("/mot-de-passe-oublie", {"identifier": "a" * 300}, False),
        ("/mot-de-passe-oublie/nouveau",
         {"identifier": "x@x.fr", "code": "1" * 40, "password": "p", "confirmation": "p"}, False),
        ("/mot-de-passe-oublie/nouveau",
         {"identifier": "x@x.fr", "code": "123456", "password": "p" * 2000,
          "confirmation": "p"}, False),
        ("/compte/mot-de-passe",
         {"current": "c" * 2000, "password": "p", "confirmation": "p"}, True),
    ],
)  # fmt: skip
async def test_overlong_password_form_fields_are_refused(
    web: Web, path: str, fields: dict[str, str], login: bool
) -> None:
    form_page = "/mot-de-passe-oublie" if path.startswith("/mot-de-passe") else path
    if login:
        await activate(web.storage, web.seeded.active.account_id, web.clock())
        await web.login_fully(web.seeded.active.ins)
    response = await web.post(path, fields, form_page=form_page)
    assert response.status_code == 400 and "données non valides" in response.text


async def test_files_where_passwords_are_expected_are_refused(web: Web) -> None:
    await activate(web.storage, web.seeded.active.account_id, web.clock())
    await web.login_fully(web.seeded.active.ins)
    token = await web.csrf("/compte/mot-de-passe")
    response = await web.client.post(
        "/compte/mot-de-passe",
        data={"csrf_token": token, "password": "x", "confirmation": "x"},
        files={"current": ("pw.txt", PASSWORD.encode(), "text/plain")},
    )
    assert response.status_code == 400 and "données non valides" in response.text
    async with web.storage.sessions() as db:
        credential = await db.get(WebCredential, web.seeded.active.account_id)
    assert credential is not None


async def test_password_change_without_a_valid_csrf_token_is_refused(web: Web) -> None:
    await activate(web.storage, web.seeded.active.account_id, web.clock())
    await web.login_fully(web.seeded.active.ins)
    fields = {"current": PASSWORD, "password": "Camomille-Tilleul-2027",
              "confirmation": "Camomille-Tilleul-2027"}  # fmt: skip
    assert (await web.client.post("/compte/mot-de-passe", data=fields)).status_code == 403
    forged = {**fields, "csrf_token": "0" * 64}
    assert (await web.client.post("/compte/mot-de-passe", data=forged)).status_code == 403
    async with web.storage.sessions() as db:
        credential = await db.get(WebCredential, web.seeded.active.account_id)
    assert credential is not None
    from espace_sante.accounts.passwords import verify_password

    assert await verify_password(credential.password_hash, PASSWORD)  # unchanged
