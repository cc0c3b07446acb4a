"""Lockout, code expiry and reuse, session expiry: the clock is moved, nothing sleeps."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from espace_sante.accounts.sms import read_sms_file
from espace_sante.cli.webapp import create_app
from espace_sante.storage.schema import AuditEntry
from web.conftest import PASSWORD, Web, activate, issue_code, make_client, web_settings_of


@pytest.fixture
def backend(both_backends: str) -> str:
    """The login's stores run on both databases."""
    return both_backends


async def actions(web: Web, account_id: int) -> list[str]:
    async with web.storage.sessions() as db:
        query = select(AuditEntry.action).where(AuditEntry.account_id == account_id)
        return list((await db.execute(query.order_by(AuditEntry.seq))).scalars())


async def test_five_wrong_passwords_lock_the_account_for_a_while(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    for attempt in range(4):
        wrong = await web.login(patient.ins, f"Mauvais-mot-{attempt}")
        assert wrong.status_code == 400
        assert "Identifiant ou mot de passe incorrect." in wrong.text
    fifth = await web.login(patient.ins, "Mauvais-mot-5")
    assert fifth.status_code == 429 and "verrouillé" in fifth.text
    right_but_locked = await web.login(patient.ins, PASSWORD)
    assert right_but_locked.status_code == 429 and "verrouillé" in right_but_locked.text
    recorded = await actions(web, patient.account_id)
    assert recorded.count("login.failed") == 5
    assert recorded.count("login.locked") == 1
    assert "login.refused_locked" in recorded
    web.clock.advance(minutes=16)
    assert (await web.login(patient.ins, PASSWORD)).status_code == 303


async def test_unknown_identifier_gets_the_same_answer_and_is_audited(web: Web) -> None:
    await activate(web.storage, web.seeded.active.account_id, web.clock())
    unknown = await web.login("personne@example.org", PASSWORD)
    not_activated = await web.login(web.seeded.other.ins, PASSWORD)
    wrong = await web.login(web.seeded.active.ins, "Pas-le-bon-1234")
    for response in (unknown, not_activated, wrong):
        assert response.status_code == 400
        assert "Identifiant ou mot de passe incorrect." in response.text
    assert "web.login.unknown_identifier" in await actions(web, 0)


async def test_closed_and_opposed_spaces_cannot_activate(web: Web) -> None:
    for patient in (web.seeded.closed, web.seeded.opposed):
        code = await issue_code(web.storage, patient.account_id, web.clock())
        refused = await web.post("/activation", {"identifier": patient.ins, "code": code})
        assert refused.status_code == 400 and "fermé" in refused.text


async def test_wrong_activation_codes_count_toward_the_lock(web: Web) -> None:
    patient = web.seeded.created
    code = await issue_code(web.storage, patient.account_id, web.clock())
    for _ in range(5):
        await web.post("/activation", {"identifier": patient.ins, "code": "AAAA-BBBB-CCCC"})
    locked = await web.post("/activation", {"identifier": patient.ins, "code": code})
    assert locked.status_code == 429 and "verrouillé" in locked.text


async def test_activation_code_expires(web: Web) -> None:
    patient = web.seeded.created
    code = await issue_code(web.storage, patient.account_id, web.clock(), days=30)
    web.clock.advance(days=31)
    late = await web.post("/activation", {"identifier": patient.ins, "code": code})
    assert late.status_code == 400 and "expiré" in late.text


async def test_a_new_activation_code_voids_the_previous_one(web: Web) -> None:
    patient = web.seeded.created
    old = await issue_code(web.storage, patient.account_id, web.clock())
    new = await issue_code(web.storage, patient.account_id, web.clock())
    assert (
        await web.post("/activation", {"identifier": patient.ins, "code": old})
    ).status_code == 400
    assert (
        await web.post("/activation", {"identifier": patient.ins, "code": new})
    ).status_code == 303


async def test_login_code_expires_after_ten_minutes(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    await web.login(patient.ins)
    code = web.last_sms_code()
    token = await web.csrf("/connexion/code")
    web.clock.advance(minutes=10, seconds=1)
    late = await web.client.post("/connexion/code", data={"csrf_token": token, "code": code})
    assert late.status_code == 400 and "expiré" in late.text
    assert (await web.client.get("/connexion/code")).headers["location"] == "/connexion"
    assert "web.login.code_expired" in await actions(web, patient.account_id)


async def test_login_code_cannot_be_reused(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    await web.login_fully(patient.ins)
    used = web.last_sms_code()
    await web.post("/deconnexion", {}, form_page="/compte")
    await web.login(patient.ins)
    fresh = web.last_sms_code()
    if fresh == used:  # one chance in a million: the reuse below would be meaningless
        return
    reuse = await web.post("/connexion/code", {"code": used})
    assert reuse.status_code == 400 and "Code incorrect" in reuse.text
    assert (await web.post("/connexion/code", {"code": fresh})).headers["location"] == "/accueil"


async def test_too_many_wrong_codes_void_the_code(web: Web) -> None:
    settings = web_settings_of(web.settings, login_code_attempts=3)
    app = create_app(settings, web.storage, clock=web.clock)
    web.client = make_client(app)
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    await web.login(patient.ins)
    good = web.last_sms_code()
    wrong = "000000" if good != "000000" else "111111"
    first = await web.post("/connexion/code", {"code": wrong})
    assert first.status_code == 400 and "Il vous reste 2 essais" in first.text
    await web.post("/connexion/code", {"code": wrong})
    third = await web.post("/connexion/code", {"code": wrong}, form_page="/connexion/code")
    assert third.status_code == 400 and "Trop d'essais" in html.unescape(third.text)
    # The good code is now void: the pending session is over.
    after = await web.post("/connexion/code", {"code": good}, form_page="/connexion")
    assert after.status_code == 303 and after.headers["location"].startswith("/connexion?")


async def test_wrong_codes_lock_the_account_too(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    await web.login(patient.ins)
    good = web.last_sms_code()
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(4):
        assert (await web.post("/connexion/code", {"code": wrong})).status_code == 400
    fifth = await web.post("/connexion/code", {"code": wrong})
    assert fifth.status_code == 429 and "verrouillé" in fifth.text
    assert "login.locked" in await actions(web, patient.account_id)


async def test_session_ends_after_idle_minutes_and_says_so(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    await web.login_fully(patient.ins)
    for _ in range(3):  # activity keeps it alive well past 15 minutes in total
        web.clock.advance(minutes=10)
        assert (await web.client.get("/compte")).status_code == 200
    web.clock.advance(minutes=15)
    expired = await web.client.get("/compte")
    assert expired.status_code == 303 and expired.headers["location"] == "/session-expiree"
    assert "Max-Age=0" in expired.headers["set-cookie"]
    notice = await web.client.get("/session-expiree")
    assert "Votre session a expiré" in notice.text and "15 minutes" in notice.text
    assert (await web.client.get("/compte")).headers["location"] == "/connexion"
    assert "web.session.expired" in await actions(web, patient.account_id)


async def test_idle_minutes_are_configurable(web: Web) -> None:
    settings = web_settings_of(web.settings, session_idle_minutes=2)
    web.client = make_client(create_app(settings, web.storage, clock=web.clock))
    await activate(web.storage, web.seeded.active.account_id, web.clock())
    await web.login_fully(web.seeded.active.ins)
    web.clock.advance(minutes=1, seconds=50)
    assert (await web.client.get("/compte")).status_code == 200
    web.clock.advance(minutes=2)
    assert (await web.client.get("/compte")).headers["location"] == "/session-expiree"


async def test_session_has_an_absolute_lifetime(web: Web) -> None:
    settings = web_settings_of(web.settings, session_max_hours=1)
    web.client = make_client(create_app(settings, web.storage, clock=web.clock))
    await activate(web.storage, web.seeded.active.account_id, web.clock())
    await web.login_fully(web.seeded.active.ins)
    for _ in range(5):
        web.clock.advance(minutes=11)
        assert (await web.client.get("/compte")).status_code == 200
    web.clock.advance(minutes=6)
    assert (await web.client.get("/compte")).headers["location"] == "/session-expiree"


async def test_per_address_attempt_limit(web: Web) -> None:
    statuses = []
    for i in range(32):
        response = await web.login(f"inconnu{i}@example.org", "x")
        statuses.append(response.status_code)
    assert statuses[:30] == [400] * 30
    assert statuses[30:] == [429, 429]
    web.clock.advance(minutes=11)
    assert (await web.login("inconnu@example.org", "x")).status_code == 400


async def test_resend_sends_a_new_code_voids_the_old_and_is_bounded(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    await web.login(patient.ins)
    first = web.last_sms_code()
    resent = await web.post("/connexion/code/renvoyer", {}, form_page="/connexion/code")
    assert resent.status_code == 303
    assert resent.headers["location"] == "/connexion/code?canal=sms&renvoye=1"
    page = await web.client.get(resent.headers["location"])
    assert "Un nouveau code vous a été envoyé." in page.text
    second = web.last_sms_code()
    if first != second:
        stale = await web.post("/connexion/code", {"code": first})
        assert stale.status_code == 400 and "Code incorrect" in stale.text
    third = await web.post("/connexion/code/renvoyer", {}, form_page="/connexion/code")
    assert third.status_code == 303
    fourth = await web.post("/connexion/code/renvoyer", {}, form_page="/connexion/code")
    assert fourth.status_code == 429 and "trop de codes" in fourth.text
    assert len(read_sms_file(web.settings.sms_file)) == 3
    done = await web.post("/connexion/code", {"code": web.last_sms_code()})
    assert done.headers["location"] == "/accueil"


async def test_resend_needs_a_pending_session(web: Web) -> None:
    response = await web.post("/connexion/code/renvoyer", {}, form_page="/connexion")
    assert response.status_code == 303 and response.headers["location"].startswith("/connexion?")
    assert read_sms_file(web.settings.sms_file) == []


async def test_sweep_ends_and_audits_sessions_nobody_came_back_to(web: Web) -> None:
    from espace_sante.web.serve import sweep_expired_sessions

    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    await web.login_fully(patient.ins)
    web.clock.advance(minutes=5)
    assert await sweep_expired_sessions(web.settings, web.storage, web.clock()) == 0
    assert (await web.client.get("/compte")).status_code == 200
    web.clock.advance(minutes=15)
    assert await sweep_expired_sessions(web.settings, web.storage, web.clock()) == 1
    assert await sweep_expired_sessions(web.settings, web.storage, web.clock()) == 0
    recorded = await actions(web, patient.account_id)
    assert recorded.count("web.session.expired") == 1
    assert (await web.client.get("/compte")).headers["location"] == "/connexion"
