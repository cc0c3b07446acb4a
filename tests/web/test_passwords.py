"""Changing the password (logged in) and resetting a forgotten one with a one-time code: the
happy paths, the other sessions ended, the audit trail, the throttling, and a page that answers
the same whether the identifier exists or not."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from espace_sante.accounts import passwords, webpasswords
from espace_sante.accounts.sms import read_sms_file
from espace_sante.cli.webapp import create_app
from espace_sante.storage.schema import AuditEntry, OutboundMessage, WebCredential
from web.conftest import EMAIL, PASSWORD, Web, activate, make_client


@pytest.fixture
def backend(both_backends: str) -> str:
    """The login's stores run on both databases."""
    return both_backends


NEW_PASSWORD = "Camomille-Tilleul-2027"
FORGOTTEN = "/mot-de-passe-oublie"


async def _actions(web: Web, account_id: int) -> list[str]:
    async with web.storage.sessions() as db:
        rows = await db.execute(
            select(AuditEntry.action)
            .where(AuditEntry.account_id == account_id)
            .order_by(AuditEntry.seq)
        )
        return list(rows.scalars())


async def _hash(web: Web, account_id: int) -> str:
    async with web.storage.sessions() as db:
        credential = await db.get(WebCredential, account_id)
        assert credential is not None
        return credential.password_hash


def _sms_count(web: Web) -> int:
    return len(read_sms_file(web.settings.sms_file)) if web.settings.sms_file.exists() else 0


def _text(response: object) -> str:
    return html.unescape(response.text)  # type: ignore[attr-defined]


# -- change ---------------------------------------------------------------------------------------


async def test_change_password_ends_the_other_sessions(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    await web.login_fully(patient.ins)
    other_app = create_app(web.settings, web.storage, clock=web.clock)
    async with make_client(other_app) as other_client:
        other = Web(other_client, web.settings, web.storage, web.clock, web.seeded)
        await other.login_fully(patient.ins)
        assert (await other.client.get("/compte")).status_code == 200

        form = await web.client.get("/compte/mot-de-passe")
        assert form.status_code == 200 and "Mot de passe actuel" in _text(form)
        r = await web.post(
            "/compte/mot-de-passe",
            {"current": PASSWORD, "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD},
        )
        assert r.status_code == 303 and r.headers["location"] == "/compte?etat=mdp"
        shown = await web.client.get("/compte?etat=mdp")
        assert shown.status_code == 200 and "Votre mot de passe a été changé" in _text(shown)
        # the other browser is logged out; this one is not
        assert (await other.client.get("/compte")).status_code in (302, 303, 307)
    assert await passwords.verify_password(await _hash(web, patient.account_id), NEW_PASSWORD)
    assert "web.password.changed" in await _actions(web, patient.account_id)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"current": "faux", "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD},
         "current", "Le mot de passe actuel est incorrect."),
        ({"current": PASSWORD, "password": "court", "confirmation": "court"},
         "password", "12 caractères"),
        ({"current": PASSWORD, "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD + "x"},
         "confirmation", "ne sont pas identiques"),
        ({"current": PASSWORD, "password": PASSWORD, "confirmation": PASSWORD},
         "password", "différent de l'actuel"),
        ({"current": "", "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD},
         "current", "Indiquez votre mot de passe actuel."),
    ],
)  # fmt: skip
async def test_change_password_refusals(
    web: Web, fields: dict[str, str], field: str, message: str
) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    await web.login_fully(patient.ins)
    before = await _hash(web, patient.account_id)
    r = await web.post("/compte/mot-de-passe", fields)
    assert r.status_code == 400
    assert message in _text(r)
    assert f'id="{field}-erreur"' in r.text
    assert await _hash(web, patient.account_id) == before


async def test_wrong_current_passwords_lock_the_account(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    await web.login_fully(patient.ins)
    statuses = []
    for _ in range(12):
        r = await web.post(
            "/compte/mot-de-passe",
            {"current": "Mauvais-mot-2026", "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD},
        )
        statuses.append(r.status_code)
    assert statuses[0] == 400 and statuses[-1] == 429
    assert "verrouillé" in _text(r)
    # even the right one is refused while locked
    r = await web.post(
        "/compte/mot-de-passe",
        {"current": PASSWORD, "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD},
    )
    assert r.status_code == 429
    assert not await passwords.verify_password(await _hash(web, patient.account_id), NEW_PASSWORD)


async def test_change_password_needs_a_login(web: Web) -> None:
    assert (await web.client.get("/compte/mot-de-passe")).status_code in (302, 303, 307)


# -- reset ----------------------------------------------------------------------------------------


async def _reset(web: Web, identifier: str, code: str, password: str = NEW_PASSWORD) -> object:
    return await web.post(
        f"{FORGOTTEN}/nouveau",
        {"identifier": identifier, "code": code, "password": password, "confirmation": password},
        form_page=FORGOTTEN,
    )


async def test_reset_by_sms_then_log_in_with_the_new_password(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    await web.login_fully(patient.ins)  # a session that the reset must end
    page = await web.client.get("/connexion")
    assert page.status_code in (200, 303)
    other_app = create_app(web.settings, web.storage, clock=web.clock)
    async with make_client(other_app) as anon_client:
        anon = Web(anon_client, web.settings, web.storage, web.clock, web.seeded)
        login_page = await anon.client.get("/connexion")
        assert 'href="/mot-de-passe-oublie"' in login_page.text
        sent_before = _sms_count(web)
        r = await anon.post(FORGOTTEN, {"identifier": patient.ins})
        assert r.status_code == 200 and "un code vient de vous être envoyé" in _text(r)
        assert _sms_count(web) == sent_before + 1
        sms = read_sms_file(web.settings.sms_file)[-1]["text"]
        assert "pour changer de mot de passe" in sms
        code = anon.last_sms_code()
        # a weak password keeps the code usable
        weak = await _reset(anon, patient.ins, code, "court")
        assert weak.status_code == 400 and "12 caractères" in _text(weak)
        done = await _reset(anon, patient.ins, code)
        assert done.status_code == 303 and done.headers["location"] == "/connexion?etat=mdp"
        # single use
        again = await _reset(anon, patient.ins, code, "Autre-Mot-De-Passe-2028")
        assert again.status_code == 400 and webpasswords.BAD_RESET_CODE in _text(again)
        await anon.login_fully(patient.ins, NEW_PASSWORD)
    # the session opened before the reset is over
    assert (await web.client.get("/compte")).status_code in (302, 303, 307)
    actions = await _actions(web, patient.account_id)
    assert {"web.password.reset_requested", "web.password.reset_code_sent",
            "web.password.reset"} <= set(actions)  # fmt: skip


async def test_reset_by_email_goes_through_the_outbound_queue(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock(), channel="email")
    r = await web.post(FORGOTTEN, {"identifier": EMAIL})
    assert r.status_code == 200
    async with web.storage.sessions() as db:
        (queued,) = (await db.execute(select(OutboundMessage))).scalars()
    assert (queued.kind, queued.rcpt_to) == ("login_code", EMAIL)
    body = queued.raw.decode()
    assert "pour changer de mot de passe" in body
    code = re.search(r"\b(\d{6})\b", body.split("\r\n\r\n", 1)[1])
    assert code is not None
    done = await _reset(web, EMAIL, code.group(1))
    assert done.status_code == 303


async def test_unknown_and_known_identifiers_get_the_same_page(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())

    def shape(text: str) -> str:
        text = re.sub(r'name="csrf_token" value="[0-9a-f]+"', "", text)
        return re.sub(r'value="[^"]*"', "", text)  # the identifier typed back

    known = await web.post(FORGOTTEN, {"identifier": patient.ins})
    unknown = await web.post(FORGOTTEN, {"identifier": "inconnu@example.org"})
    not_activated = await web.post(FORGOTTEN, {"identifier": web.seeded.other.ins})
    assert known.status_code == unknown.status_code == not_activated.status_code == 200
    assert shape(known.text) == shape(unknown.text) == shape(not_activated.text)
    assert set(known.headers) == set(unknown.headers)
    bad_known = await _reset(web, patient.ins, "000000")
    bad_unknown = await _reset(web, "inconnu@example.org", "000000")
    assert bad_known.status_code == bad_unknown.status_code == 400
    assert shape(bad_known.text) == shape(bad_unknown.text)


async def test_reset_codes_are_limited_and_wrong_codes_count(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    before = _sms_count(web)
    for _ in range(webpasswords.MAX_RESET_CODES + 2):
        r = await web.post(FORGOTTEN, {"identifier": patient.ins})
        assert r.status_code == 200
    assert _sms_count(web) == before + webpasswords.MAX_RESET_CODES
    code = web.last_sms_code()
    wrong = "111111" if code != "111111" else "222222"
    for _ in range(web.settings.web.login_code_attempts):
        r = await _reset(web, patient.ins, wrong)
        assert r.status_code == 400
    # the code is void after too many wrong tries, even the right one
    r = await _reset(web, patient.ins, code)
    assert r.status_code == 400 and webpasswords.BAD_RESET_CODE in _text(r)
    assert "web.password.reset_refused" in await _actions(web, patient.account_id)
    web.clock.advance(minutes=16)
    r = await web.post(FORGOTTEN, {"identifier": patient.ins})
    assert _sms_count(web) == before + webpasswords.MAX_RESET_CODES + 1


async def test_the_sweep_ends_reset_anchors_without_a_logout_entry(web: Web) -> None:
    from espace_sante.storage.schema import WebSession
    from espace_sante.web.serve import sweep_expired_sessions

    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    await web.post(FORGOTTEN, {"identifier": patient.ins})
    web.clock.advance(minutes=20)
    assert await sweep_expired_sessions(web.settings, web.storage, web.clock()) == 0
    async with web.storage.sessions() as db:
        rows = (await db.execute(select(WebSession))).scalars().all()
    assert [(r.stage, r.end_reason) for r in rows] == [("reset", "idle")]
    assert "web.session.expired" not in await _actions(web, patient.account_id)
