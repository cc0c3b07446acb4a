"""A guardian switches into a minor's space with their own login, and the switch ends at the
minor's 18th birthday; nobody else can switch in."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlalchemy import select

from espace_sante.audit.log import verify
from espace_sante.storage.schema import AuditEntry
from fixtures.family import add_minor
from web.conftest import Web, activate

OPEN_FORM = re.compile(r'action="/proches/(\d+)/ouvrir"')


async def _logged_in_guardian(web: Web) -> None:
    await activate(web.storage, web.seeded.active.account_id, web.clock())
    await web.login_fully(web.seeded.active.ins)


async def test_the_switch_opens_the_minors_space_and_comes_back(web: Web) -> None:
    minor = await add_minor(web.storage, web.seeded.active.address, today=web.clock().date())
    await _logged_in_guardian(web)
    page = await web.client.get("/proches")
    assert page.status_code == 200
    assert OPEN_FORM.findall(page.text) == [str(minor.account_id)]

    opened = await web.post(f"/proches/{minor.account_id}/ouvrir", {}, form_page="/proches")
    assert opened.status_code == 303 and opened.headers["location"] == "/accueil"
    home = await web.client.get("/accueil")
    assert "en tant que représentant légal" in home.text
    assert minor.address not in home.text or "Revenir à mon espace" in home.text
    account = await web.client.get("/compte")  # the account page stays the guardian's own
    assert web.seeded.active.address in account.text

    back = await web.post("/proches/revenir", {}, form_page="/accueil")
    assert back.status_code == 303
    home = await web.client.get("/accueil")
    assert "en tant que représentant légal" not in home.text

    async with web.storage.sessions() as db:
        actions = (
            (
                await db.execute(
                    select(AuditEntry.action).where(AuditEntry.account_id == minor.account_id)
                )
            )
            .scalars()
            .all()
        )
        assert "web.space_opened" in actions and "web.space_left" in actions
        assert not await verify(db)


async def test_nobody_else_can_switch_into_a_minors_space(web: Web) -> None:
    minor = await add_minor(web.storage, web.seeded.other.address, today=web.clock().date())
    await _logged_in_guardian(web)  # the active patient is not this minor's guardian
    page = await web.client.get("/proches")
    assert OPEN_FORM.findall(page.text) == []
    for target in (str(minor.account_id), "0", "abc", "9" * 40, str(web.seeded.other.account_id)):
        refused = await web.post(f"/proches/{target}/ouvrir", {}, form_page="/proches")
        assert refused.status_code in (303, 404), target
        if refused.status_code == 303:
            assert refused.headers["location"] == "/proches?etat=refuse"
        home = await web.client.get("/accueil")
        assert "en tant que représentant légal" not in home.text


async def test_the_switch_disappears_at_the_18th_birthday(web: Web) -> None:
    web.clock.now = datetime(2026, 11, 25, 23, 50, tzinfo=UTC)
    minor = await add_minor(
        web.storage, web.seeded.active.address, birth_date=date(2008, 11, 26),
        today=web.clock().date(),
    )  # fmt: skip
    await _logged_in_guardian(web)
    await web.post(f"/proches/{minor.account_id}/ouvrir", {}, form_page="/proches")
    assert "en tant que représentant légal" in (await web.client.get("/accueil")).text

    web.clock.advance(minutes=11)  # midnight: the minor is 18, the same session goes on
    home = await web.client.get("/accueil")
    assert home.status_code == 200
    assert "en tant que représentant légal" not in home.text
    assert OPEN_FORM.findall((await web.client.get("/proches")).text) == []
    refused = await web.post(f"/proches/{minor.account_id}/ouvrir", {}, form_page="/proches")
    assert refused.headers["location"] == "/proches?etat=refuse"


async def test_without_login_the_pages_send_to_the_login(web: Web) -> None:
    for path in ("/accueil", "/proches"):
        response = await web.client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/connexion"
    response = await web.client.post("/proches/1/ouvrir", data={"csrf_token": "x"})
    assert response.status_code in (303, 403)
