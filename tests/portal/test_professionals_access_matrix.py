"""Who reaches the professionals and emergency pages, as a table: actors {the patient, another
patient, no login, a guardian switched into a dependant's space} × {GET /professionnels, POST
…/bloquer, GET /urgence, POST /urgence} → allowed, login redirect, only their own data, or only
the dependant's.

The guardian switches with the shell's ``/proches/{id}/ouvrir``; the page handlers are also
called directly with the space a switch gives (``request.state.account`` naming the dependant,
``.guardian`` the logged-in guardian) to check what happens once the guardianship ends, and the
same rules are checked at the records level (a person who never was a guardian is refused).
"""

from __future__ import annotations

from datetime import date

import pytest
from starlette.requests import Request

from espace_sante.accounts.guardians import add_guardian, revoke_guardian
from espace_sante.accounts.patients import NewPatient, PatientRecord, create_patient
from espace_sante.policy.ins import DEMO_NIR_OID
from espace_sante.portal import emergency, professionals
from espace_sante.portal.actors import caller_for
from espace_sante.records.access import Caller
from espace_sante.records.emergency import get_consents, set_consents
from espace_sante.records.professionals import (
    authorise_professional,
    block_professional,
    list_professionals,
)
from espace_sante.storage.engine import transaction
from espace_sante.web.auth import WebAccount
from fixtures.mssante import valid_nir
from portal.pro_fixtures import (
    CARDIO_ID,
    NURSE_ID,
    STRANGER_ID,
    Site,
    backend,
    clock,
    site,
    text_of,
)

__all__ = ["backend", "clock", "site"]  # fixtures

ROUTES = ("GET /professionnels", "POST bloquer", "GET /urgence", "POST /urgence")
ALLOWED, LOGIN, OWN = "allowed", "login redirect", "only own data"
DEPENDANT = "only the dependant's data"
MATRIX = {
    "patient": {route: ALLOWED for route in ROUTES},
    "another patient": {route: OWN for route in ROUTES},
    "no login": {route: LOGIN for route in ROUTES},
    "guardian in the dependant's space": {route: DEPENDANT for route in ROUTES},
}
OPPOSE_ALL = {"samu": "oppose", "bris_de_glace": "oppose", "masques": "oppose"}


async def _standing(site: Site, account_id: int, caller: Caller) -> dict[str, str]:
    async with site.storage.sessions() as s:
        _, views = await list_professionals(s, caller, account_id)
    return {v.professional_id: v.state for v in views}


async def _run(site: Site, route: str) -> tuple[int, str, str]:
    """Status, location and text of one route for the current client."""
    client = site.client
    if route == "GET /professionnels":
        out = await client.get("/professionnels")
    elif route == "GET /urgence":
        out = await client.get("/urgence")
    else:
        path = f"/professionnels/{STRANGER_ID}/bloquer" if route == "POST bloquer" else "/urgence"
        form_page = "/professionnels" if route == "POST bloquer" else "/urgence"
        page = await client.get(form_page)
        token = ""
        if page.status_code == 200:
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        else:  # not logged in: the login page's token (the middleware's pre-session one)
            token = await site.csrf("/connexion")
        data = {"csrf_token": token, **(OPPOSE_ALL if route == "POST /urgence" else {})}
        out = await client.post(path, data=data)
    return out.status_code, out.headers.get("location", ""), text_of(out.text)


@pytest.mark.parametrize("actor", sorted(MATRIX))
@pytest.mark.parametrize("route", ROUTES)
async def test_access_matrix(site: Site, actor: str, route: str) -> None:
    expected = MATRIX[actor][route]
    child: PatientRecord | None = None
    if actor == "patient":
        await site.login(site.patient)
    elif actor == "another patient":
        await site.login(site.other)
    elif actor.startswith("guardian"):
        child = await _child(site)
        await site.login(site.patient)
        opened = await site.post(f"/proches/{child.account_id}/ouvrir", {}, form_page="/proches")
        assert opened.status_code == 303, opened.text
    status, location, text = await _run(site, route)
    a_id = site.patient.account_id
    a_standing = await _standing(site, a_id, site.me)
    async with site.storage.sessions() as s:
        a_consents = (await get_consents(s, site.me, a_id)).consents
    assert a_consents is not None
    if expected == LOGIN:
        assert status == 303 and location == "/connexion", (status, location)
        assert a_standing[CARDIO_ID] == "authorised" and STRANGER_ID not in a_standing
        assert a_consents.break_glass
        return
    if route.startswith("POST"):
        assert status == 303, (status, text)
    else:
        assert status == 200, status
    touched_a = STRANGER_ID in a_standing or not a_consents.break_glass
    if expected == ALLOWED:
        if route == "GET /professionnels":
            assert "Marc CARDIO" in text and "Louise TRAITANT" in text
        if route == "POST bloquer":
            assert a_standing[STRANGER_ID] == "blocked"
        if route == "POST /urgence":
            assert not a_consents.break_glass
    else:  # only their own (or the dependant's) data: nothing of the first patient's
        for name in ("CARDIO", "TRAITANT", "SOIGNANTE"):
            assert name not in text
        assert not touched_a
        b = Caller.patient(site.other.account_id, site.other.address)
        b_id = site.other.account_id
        if child is not None:
            if route.startswith("GET"):
                assert "Dossier de" in text and "que vous représentez" in text
            b = Caller.guardian(site.patient.account_id, site.patient.address)
            b_id = child.account_id
        if route == "POST bloquer":
            assert (await _standing(site, b_id, b))[STRANGER_ID] == "blocked"
        if route == "POST /urgence":
            async with site.storage.sessions() as s:
                b_consents = (await get_consents(s, b, b_id)).consents
            assert b_consents is not None and not b_consents.break_glass


# -- the guardian -----------------------------------------------------------------------------


async def _child(site: Site) -> PatientRecord:
    async with transaction(site.storage.sessions) as s:
        child = await create_patient(
            s,
            site.storage.keyring,
            NewPatient(
                ins=valid_nir("2150675123888"),
                oid=DEMO_NIR_OID,
                family_name="ENFANT",
                given_names="Lou",
                birth_date=date(2015, 6, 6),
                sex="F",
                birthplace="75112",
            ),
            patient_domain=site.storage.settings.mssante.patient_domain,
            accept_test_ins=True,
        )
        await add_guardian(s, child.address, site.patient.address)
    return child


def _request(site: Site, space: WebAccount, method: str, path: str, body: bytes = b"") -> Request:
    app = site.client._transport.app  # type: ignore[attr-defined]
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    path_params = {}
    if path.endswith("/bloquer"):
        path_params["national_id"] = path.split("/")[2]
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "app": app,
        "state": {"account": space, "csrf_token": "t"},
        "path_params": path_params,
    }
    return Request(scope, receive)  # type: ignore[arg-type]


async def test_a_guardian_manages_the_dependants_space(site: Site) -> None:
    child = await _child(site)
    parent = WebAccount(site.patient.account_id, site.patient.address, "LEGRAND Test")
    space = WebAccount(child.account_id, child.address, "ENFANT Lou", guardian=parent)
    caller = caller_for(_request(site, space, "GET", "/professionnels"))
    assert caller == Caller.guardian(site.patient.account_id, site.patient.address)
    async with transaction(site.storage.sessions) as s:
        assert (await authorise_professional(s, caller, child.account_id, NURSE_ID)).allowed
    # The pages, for the dependant's space.
    page = await professionals.professionals_page(_request(site, space, "GET", "/professionnels"))
    text = text_of(bytes(page.body).decode())
    assert page.status_code == 200
    assert "Dossier de ENFANT Lou, que vous représentez" in text
    assert "Inès SOIGNANTE" in text and "Marc CARDIO" not in text  # the child's, not the parent's
    blocked = await professionals.block(
        _request(site, space, "POST", f"/professionnels/{STRANGER_ID}/bloquer")
    )
    assert blocked.status_code == 303
    assert (await _standing(site, child.account_id, caller))[STRANGER_ID] == "blocked"
    assert STRANGER_ID not in await _standing(site, site.patient.account_id, site.me)
    urgence = await emergency.emergency_page(_request(site, space, "GET", "/urgence"))
    assert urgence.status_code == 200
    body = b"samu=oppose&bris_de_glace=autorise&masques=autorise"
    saved = await emergency.emergency_submit(_request(site, space, "POST", "/urgence", body))
    assert saved.status_code == 303
    async with site.storage.sessions() as s:
        child_consents = (await get_consents(s, caller, child.account_id)).consents
        own = (await get_consents(s, site.me, site.patient.account_id)).consents
    assert child_consents is not None and not child_consents.samu
    assert own is not None and own.samu
    # Once the guardianship ends, the same space is refused, pages and records alike.
    async with transaction(site.storage.sessions) as s:
        await revoke_guardian(s, child.address, site.patient.address)
    refused = await professionals.professionals_page(
        _request(site, space, "GET", "/professionnels")
    )
    assert refused.status_code == 403
    assert (
        await emergency.emergency_page(_request(site, space, "GET", "/urgence"))
    ).status_code == 403
    async with transaction(site.storage.sessions) as s:
        assert not (await block_professional(s, caller, child.account_id, CARDIO_ID)).allowed
        assert not (await set_consents(s, caller, child.account_id, samu=True)).decision.allowed
        decision, views = await list_professionals(s, caller, child.account_id)
    assert not decision.allowed and views == []


async def test_a_person_who_is_no_guardian_is_refused_at_the_records_level(site: Site) -> None:
    child = await _child(site)
    stranger = Caller.guardian(site.other.account_id, site.other.address)
    async with transaction(site.storage.sessions) as s:
        decision, views = await list_professionals(s, stranger, child.account_id)
        blocked = await block_professional(s, stranger, child.account_id, STRANGER_ID)
        consents = await set_consents(s, stranger, child.account_id, samu=False)
    assert not decision.allowed and views == []
    assert not blocked.allowed and not consents.decision.allowed
    # A patient caller naming someone else's record is refused too.
    me_on_child = Caller.patient(site.patient.account_id, site.patient.address)
    async with transaction(site.storage.sessions) as s:
        assert not (await block_professional(s, me_on_child, child.account_id, NURSE_ID)).allowed
