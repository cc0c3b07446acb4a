"""Activation, password, one-time code, logout: the happy paths and their audit trail, over the
real app and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import html
import logging
import re
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from espace_sante.accounts.sms import SmsError
from espace_sante.cli.webapp import create_app
from espace_sante.storage.schema import Account, AuditEntry, OutboundMessage, WebSession
from web.conftest import (
    EMAIL,
    PASSWORD,
    PHONE,
    Web,
    activate,
    issue_code,
    make_client,
    web_settings_of,
)


async def audit_actions(web: Web, account_id: int) -> list[str]:
    async with web.storage.sessions() as db:
        rows = await db.execute(
            select(AuditEntry.action)
            .where(AuditEntry.account_id == account_id)
            .order_by(AuditEntry.seq)
        )
        return list(rows.scalars())


async def test_activation_sets_password_and_contacts_then_login_with_sms_code(web: Web) -> None:
    patient = web.seeded.created  # a space not yet activated: activation opens it
    code = await issue_code(web.storage, patient.account_id, web.clock())
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)

    step1 = await web.post("/activation", {"identifier": patient.ins, "code": code.lower()})
    assert step1.status_code == 303 and step1.headers["location"] == "/activation/mot-de-passe"
    page = await web.client.get("/activation/mot-de-passe")
    assert page.status_code == 200 and patient.address in page.text
    step2 = await web.post(
        "/activation/mot-de-passe",
        {
            "password": PASSWORD,
            "confirmation": PASSWORD,
            "personal_email": "  Marie.Perso@Example.org ",
            "mobile_phone": "06 12 34 56 78",
            "channel": "sms",
        },
    )
    assert step2.status_code == 303, step2.text
    assert step2.headers["location"] == "/connexion?etat=active"
    notice = await web.client.get("/connexion?etat=active")
    assert "Votre compte est activé" in notice.text

    async with web.storage.sessions() as db:
        account = await db.get(Account, patient.account_id)
        assert account is not None
        assert account.personal_email == "marie.perso@example.org"
        assert account.status == "active"

    # The provisional code is used up.
    again = await web.post("/activation", {"identifier": patient.ins, "code": code})
    assert again.status_code == 400 and "code provisoire incorrect" in again.text

    # Log in with the INS, then the code from the SMS.
    first = await web.login(patient.ins)
    assert first.status_code == 303 and first.headers["location"] == "/connexion/code?canal=sms"
    code_page = await web.client.get(first.headers["location"])
    assert "par SMS" in code_page.text
    assert PHONE in (web.settings.sms_file.read_text())
    done = await web.post("/connexion/code", {"code": web.last_sms_code()})
    assert done.status_code == 303 and done.headers["location"] == "/accueil"
    account_page = await web.client.get("/compte")
    assert account_page.status_code == 200
    assert patient.address in account_page.text and "Se déconnecter" in account_page.text

    actions = await audit_actions(web, patient.account_id)
    for expected in (
        "web.activation_code.issued",
        "web.activated",
        "web.login.code_sent",
        "login.succeeded",
    ):
        assert expected in actions


async def test_every_identifier_form_logs_in(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    for identifier in (patient.ins, patient.address.upper(), EMAIL, f"  {EMAIL.upper()}  "):
        response = await web.login(identifier)
        assert response.status_code == 303, (identifier, response.text)


async def test_email_code_is_queued_as_a_french_mail_from_the_postmaster(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock(), channel="email", phone=None)
    first = await web.login(patient.address)
    assert first.headers["location"] == "/connexion/code?canal=email"
    async with web.storage.sessions() as db:
        rows = (await db.execute(select(OutboundMessage))).scalars().all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.kind, row.mail_from, row.rcpt_to, row.account_id) == (
        "login_code",
        web.settings.mssante.postmaster,
        EMAIL,
        patient.account_id,
    )
    mail = message_from_bytes(row.raw, policy=policy.default)
    assert mail["Subject"] == "Votre code de connexion à espace santé"
    assert mail["Auto-Submitted"] == "auto-generated"
    body = mail.get_body().get_content()  # type: ignore[union-attr]
    code = re.search(r"\b(\d{6})\b", body)
    assert code and "valable 10 minutes" in body
    assert not web.settings.sms_file.exists()
    done = await web.post("/connexion/code", {"code": code.group(1)})
    assert done.headers["location"] == "/accueil"


async def test_logout_ends_the_session_on_the_server(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    await web.login_fully(patient.ins)
    stolen = dict(web.client.cookies)
    out = await web.post("/deconnexion", {}, form_page="/compte")
    assert out.status_code == 303 and out.headers["location"] == "/connexion?etat=deconnecte"
    assert "Max-Age=0" in out.headers["set-cookie"]
    assert (await web.client.get("/compte")).headers["location"] == "/connexion"
    # Replaying the old cookie does not bring the session back.
    web.client.cookies.clear()
    for name, value in stolen.items():
        web.client.cookies.set(name, value)
    replay = await web.client.get("/compte")
    assert replay.status_code == 303 and replay.headers["location"] == "/connexion"
    async with web.storage.sessions() as db:
        ends = (await db.execute(select(WebSession.end_reason))).scalars().all()
    assert "logout" in ends
    assert "web.logout" in await audit_actions(web, patient.account_id)


async def test_session_id_changes_at_login_and_old_pending_cookie_is_dead(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    await web.login(patient.ins)
    pending = web.client.cookies["espace_session"]
    await web.post("/connexion/code", {"code": web.last_sms_code()})
    authenticated = web.client.cookies["espace_session"]
    assert pending != authenticated
    web.client.cookies.set("espace_session", pending)
    assert (await web.client.get("/compte")).status_code == 303
    async with web.storage.sessions() as db:
        hashes = (await db.execute(select(WebSession.token_hash))).scalars().all()
    assert pending not in hashes and authenticated not in hashes  # only digests are stored


async def test_unauthenticated_requests_to_mail_go_to_login(web: Web) -> None:
    for path in ("/mail/", "/mail/anything", "/compte", "/"):
        response = await web.client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/connexion"
    # A session half-way (password right, code not yet given) is not logged in.
    await activate(web.storage, web.seeded.active.account_id, web.clock())
    await web.login(web.seeded.active.ins)
    assert (await web.client.get("/mail/")).headers["location"] == "/connexion"


async def test_codes_reach_the_log_only_when_the_development_switch_is_on(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    with caplog.at_level(logging.INFO, logger="espace_sante.web.login"):
        await web.login(patient.ins)
    assert web.last_sms_code() not in caplog.text
    web.client = make_client(
        create_app(
            web_settings_of(web.settings, dev_show_codes_in_log=True), web.storage, clock=web.clock
        )
    )
    with caplog.at_level(logging.INFO, logger="espace_sante.web.login"):
        await web.login(patient.ins)
    assert f"login code for {patient.address} is {web.last_sms_code()}" in caplog.text


class BrokenGateway:
    async def send(self, phone: str, text: str) -> None:
        raise SmsError("provider down")


async def test_sms_failure_is_said_in_french_and_leaves_no_pending_session(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    web.client = make_client(
        create_app(web.settings, web.storage, clock=web.clock, sms=BrokenGateway())
    )
    response = await web.login(patient.ins)
    assert response.status_code == 400
    assert "L'envoi du code par SMS a échoué" in html.unescape(response.text)
    async with web.storage.sessions() as db:
        assert (await db.execute(select(WebSession))).first() is None


async def test_logging_in_again_over_an_expired_session_cookie(web: Web) -> None:
    patient = web.seeded.active
    await activate(web.storage, patient.account_id, web.clock())
    visitor_token = await web.csrf("/connexion")  # tied to the pre-session cookie
    await web.login_fully(patient.ins)
    web.clock.advance(minutes=20)  # the session cookie is still in the jar, its session is over
    again = await web.client.post(
        "/connexion",
        data={"csrf_token": visitor_token, "identifier": patient.ins, "password": PASSWORD},
    )
    assert again.status_code == 303
    set_cookies = again.headers.get_list("set-cookie")
    assert len([c for c in set_cookies if c.startswith("espace_session=")]) == 1
    assert "Max-Age=0" not in set_cookies[0]
    assert (await web.client.get("/connexion/code")).status_code == 200
