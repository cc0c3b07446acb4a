"""The notification settings page (/notifications): the defaults, saving and reading back (audited
by ``notify``), CSRF, values outside the set, masked contacts, and who may read or change whose
settings (patient, guardian in a minor's space, another patient, nobody logged in)."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select, update

from espace_sante.notify import NotificationSettings, get_settings
from espace_sante.storage.engine import transaction
from espace_sante.storage.schema import AuditEntry, WebCredential
from fixtures.family import add_minor
from web.conftest import Web, activate

CHECKED = re.compile(r'<input type="checkbox" id="(\w+)" name="\w+" value="1"( checked)?')
ALL_ON = {
    "new_message": "1",
    "new_document": "1",
    "first_professional_access": "1",
    "emergency_access": "1",
    "channel_email": "1",
}


def _boxes(page: str) -> dict[str, bool]:
    return {name: bool(on) for name, on in CHECKED.findall(page)}


async def _login(web: Web, who: str = "active") -> None:
    patient = getattr(web.seeded, who)
    await activate(web.storage, patient.account_id, web.clock())
    await web.login_fully(patient.ins)


async def _settings(web: Web, account_id: int) -> NotificationSettings:
    async with web.storage.sessions() as db:
        return await get_settings(db, account_id)


async def _actions(web: Web, account_id: int) -> list[tuple[str, str]]:
    async with web.storage.sessions() as db:
        rows = await db.execute(
            select(AuditEntry.actor, AuditEntry.action)
            .where(AuditEntry.account_id == account_id)
            .order_by(AuditEntry.seq)
        )
        return [(a, b) for a, b in rows.all()]


async def test_the_defaults_and_the_masked_contacts(web: Web) -> None:
    await _login(web)
    page = await web.client.get("/notifications")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "<h1>Notifications</h1>" in text
    assert _boxes(page.text) == {
        "new_message": True,
        "new_document": True,
        "first_professional_access": True,
        "emergency_access": True,
        "channel_email": True,
        "channel_sms": False,
    }
    assert "il ne contient jamais de donnée de santé, ni le nom d'un professionnel" in text
    assert "m•••@example.org" in text and "marie.perso@example.org" not in text
    assert "+33 6 •• •• •• 78" in text and "+33612345678" not in text
    assert '<a href="/compte">Mon compte</a>' in text
    for name in ("new_message", "channel_email", "channel_sms"):
        assert f'<label for="{name}">' in text


async def test_save_read_back_and_audited(web: Web) -> None:
    await _login(web)
    me = web.seeded.active.account_id
    data = {"new_document": "1", "emergency_access": "1", "channel_sms": "1"}
    saved = await web.post("/notifications", data)
    assert (
        saved.status_code == 303 and saved.headers["location"] == "/notifications?etat=enregistre"
    )
    assert await _settings(web, me) == NotificationSettings(
        new_message=False,
        new_document=True,
        first_professional_access=False,
        emergency_access=True,
        channel_email=False,
        channel_sms=True,
    )
    page = await web.client.get("/notifications?etat=enregistre")
    assert "Vos préférences de notification ont été enregistrées." in page.text
    boxes = _boxes(page.text)
    assert boxes["new_document"] and boxes["channel_sms"] and not boxes["new_message"]
    assert "Aucun avis ne sera envoyé" not in page.text
    assert (f"account:{me}", "notification_settings.changed") in await _actions(web, me)
    history = html.unescape((await web.client.get("/historique?type=parametres")).text)
    assert "Modification de vos préférences de notification par vous" in history
    again = await web.post("/notifications", data)  # the same again: nothing new to audit
    assert again.status_code == 303
    changes = [a for _, a in await _actions(web, me) if a == "notification_settings.changed"]
    assert len(changes) == 1


async def test_everything_off_warns(web: Web) -> None:
    await _login(web)
    await web.post("/notifications", {})
    page = await web.client.get("/notifications")
    assert "Aucun avis ne sera envoyé" in page.text
    assert not any(_boxes(page.text).values())


async def test_csrf_missing_or_wrong_is_refused(web: Web) -> None:
    await _login(web)
    before = await _settings(web, web.seeded.active.account_id)
    for data in ({}, {"csrf_token": "0" * 64}):
        refused = await web.client.post("/notifications", data={**data, "new_message": "1"})
        assert refused.status_code == 403
    assert await _settings(web, web.seeded.active.account_id) == before


@pytest.mark.parametrize(
    "data",
    [
        {"new_message": "true"},
        {"channel_email": "<script>"},
        {"emergency_access": "0"},
        {"new_document": "x" * 5000},
    ],
)
async def test_values_outside_the_set_are_refused(web: Web, data: dict[str, str]) -> None:
    await _login(web)
    before = await _settings(web, web.seeded.active.account_id)
    refused = await web.post("/notifications", {**ALL_ON, **data})
    assert refused.status_code == 400
    assert "valeur non reconnue" in refused.text and "<script>" not in refused.text
    assert await _settings(web, web.seeded.active.account_id) == before


async def test_unknown_fields_are_ignored(web: Web) -> None:
    await _login(web)
    saved = await web.post("/notifications", {**ALL_ON, "channel_sms": "1", "is_admin": "1"})
    assert saved.status_code == 303
    got = await _settings(web, web.seeded.active.account_id)
    assert got.channel_sms and got.new_message


async def test_no_mobile_phone_no_sms(web: Web) -> None:
    await _login(web)
    async with transaction(web.storage.sessions) as db:
        await db.execute(
            update(WebCredential)
            .where(WebCredential.account_id == web.seeded.active.account_id)
            .values(mobile_phone=None)
        )
    page = html.unescape((await web.client.get("/notifications")).text)
    assert "Aucun numéro de téléphone mobile n'est connu" in page
    assert 'id="channel_sms"' not in page
    await web.post("/notifications", {**ALL_ON, "channel_sms": "1"})
    assert not (await _settings(web, web.seeded.active.account_id)).channel_sms


async def _guardian_in_minors_space(web: Web) -> int:
    minor = await add_minor(web.storage, web.seeded.active.address, today=web.clock().date())
    await _login(web)
    opened = await web.post(f"/proches/{minor.account_id}/ouvrir", {}, form_page="/proches")
    assert opened.status_code == 303
    return minor.account_id


async def test_a_guardian_sets_the_minors_settings(web: Web) -> None:
    minor = await _guardian_in_minors_space(web)
    page = await web.client.get("/notifications")
    text = html.unescape(page.text)
    assert page.status_code == 200
    assert "Les avis de cet espace sont envoyés à ses représentants légaux, donc à vous" in text
    assert "m•••@example.org" in text  # the guardian's address: the notices go there
    saved = await web.post("/notifications", {"emergency_access": "1", "channel_email": "1"})
    assert saved.status_code == 303
    assert (await _settings(web, minor)).new_message is False
    assert (await _settings(web, web.seeded.active.account_id)) == NotificationSettings()
    guardian = web.seeded.active.account_id
    assert (f"account:{guardian}", "notification_settings.changed") in await _actions(web, minor)
    history = html.unescape((await web.client.get("/historique?type=parametres")).text)
    assert "par votre représentant légal" in history


@pytest.mark.parametrize("who", ["patient", "guardian", "other", "nobody"])
async def test_the_access_matrix(web: Web, who: str) -> None:
    """Each one reads and changes only the settings of the space they are in."""
    minor = await add_minor(web.storage, web.seeded.active.address, today=web.clock().date())
    patient, other = web.seeded.active.account_id, web.seeded.other.account_id
    if who == "patient":
        await _login(web)
        mine = patient
    elif who == "guardian":
        await _login(web)
        await web.post(f"/proches/{minor.account_id}/ouvrir", {}, form_page="/proches")
        mine = minor.account_id
    elif who == "other":
        await _login(web, "other")
        mine = other
    else:
        mine = None
    page = await web.client.get("/notifications")
    if mine is None:
        assert page.status_code == 303 and page.headers["location"] == "/connexion"
        token = await web.csrf("/connexion")
        post = await web.client.post("/notifications", data={"csrf_token": token})
        assert post.status_code == 303 and post.headers["location"] == "/connexion"
    else:
        assert page.status_code == 200
        post = await web.post("/notifications", {"new_document": "1", "channel_email": "1"})
        assert post.status_code == 303
    for account in (patient, minor.account_id, other):
        got = await _settings(web, account)
        if account == mine:
            assert not got.new_message and got.new_document, (who, account)
        else:
            assert got == NotificationSettings(), (who, account)
