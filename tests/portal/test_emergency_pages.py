"""``/urgence``: the three emergency consents as radio groups, allowed by default, saved through
``records.emergency`` (audited) and read back, with their effect on emergency grants; CSRF and
values outside the set."""

from __future__ import annotations

import pytest

from espace_sante.config import RecordsSettings
from espace_sante.policy.record_access import MASQUE_PS, ActorKind, EmergencyConsents
from espace_sante.records.access import get_document
from espace_sante.records.emergency import get_consents, open_emergency_access
from espace_sante.storage.engine import transaction
from fixtures.record_world import audit_actions, deposit
from portal.pro_fixtures import EMERGENCY_ID, Site, backend, clock, pro, site, text_of

__all__ = ["backend", "clock", "site"]  # fixtures

GRANT = RecordsSettings(break_glass_minutes=30)
ALL = {"samu": "autorise", "bris_de_glace": "autorise", "masques": "autorise"}


def checked(page: str, field: str) -> str:
    """The value of the checked radio of ``field``."""
    for value in ("autorise", "oppose"):
        marker = f'name="{field}" value="{value}" checked'
        if marker in page:
            return value
    raise AssertionError(f"no radio of {field} checked")


async def consents(site: Site) -> EmergencyConsents:
    async with site.storage.sessions() as s:
        out = await get_consents(s, site.me, site.patient.account_id)
    assert out.consents is not None
    return out.consents


async def open_grant(site: Site, kind: ActorKind = ActorKind.BREAK_GLASS) -> str:
    async with transaction(site.storage.sessions) as s:
        out = await open_emergency_access(
            s,
            pro(EMERGENCY_ID, kind=kind),
            site.patient.account_id,
            reason="Patient inconscient aux urgences",
            settings=GRANT,
            now=site.clock.now,
        )
    return out.decision.reason


async def test_every_consent_is_allowed_by_default(site: Site) -> None:
    await site.login(site.patient)
    page = await site.client.get("/urgence")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Accès en cas d'urgence" in text
    assert "médecin régulateur du SAMU-Centre 15" in text
    assert "mode bris de glace" in text
    assert "documents que vous avez masqués" in text
    assert "L1111-17" in text
    assert text.count("J'autorise") == 3 and text.count("Je m'oppose") == 3
    for field in ("samu", "bris_de_glace", "masques"):
        assert checked(page.text, field) == "autorise"
    assert page.text.count("<fieldset") == 3 and page.text.count("<legend>") == 3


async def test_choices_are_saved_read_back_and_audited(site: Site) -> None:
    await site.login(site.patient)
    out = await site.post(
        "/urgence",
        {"samu": "autorise", "bris_de_glace": "oppose", "masques": "oppose"},
        form_page="/urgence",
    )
    assert out.status_code == 303 and out.headers["location"] == "/urgence?enregistre=1"
    page = await site.client.get(out.headers["location"])
    assert "Vos choix pour l'accès en cas d'urgence sont enregistrés" in text_of(page.text)
    assert checked(page.text, "samu") == "autorise"
    assert checked(page.text, "bris_de_glace") == "oppose"
    assert checked(page.text, "masques") == "oppose"
    assert await consents(site) == EmergencyConsents(
        samu=True, break_glass=False, masked_documents=False
    )
    changed = [
        (actor, detail)
        for actor, action, detail in await audit_actions(site.storage, site.patient.account_id)
        if action == "emergency.consents_changed"
    ]
    assert changed[-1] == (
        site.patient.address,
        {"samu": True, "break_glass": False, "masked_documents": False},
    )
    # A plain reload shows no confirmation but keeps the choices.
    again = await site.client.get("/urgence")
    assert "sont enregistrés" not in again.text
    assert checked(again.text, "bris_de_glace") == "oppose"


async def test_opposing_break_glass_refuses_a_grant(site: Site) -> None:
    await site.login(site.patient)
    await site.post("/urgence", {**ALL, "bris_de_glace": "oppose"}, form_page="/urgence")
    assert await open_grant(site) == "emergency_refused"
    assert await open_grant(site, ActorKind.SAMU) == "emergency"  # the SAMU still may
    await site.post("/urgence", {**ALL, "samu": "oppose"}, form_page="/urgence")
    assert await open_grant(site, ActorKind.SAMU) == "emergency_refused"
    assert await open_grant(site) == "emergency"


async def test_opposing_masked_documents_hides_them_in_an_emergency(site: Site) -> None:
    masked = await deposit(
        site.storage, site.patient.account_id, author_id=None, visibility={MASQUE_PS}
    )
    await site.login(site.patient)
    await site.post("/urgence", {**ALL, "masques": "oppose"}, form_page="/urgence")
    assert await open_grant(site) == "emergency"
    async with transaction(site.storage.sessions) as s:
        out = await get_document(
            s,
            pro(EMERGENCY_ID, kind=ActorKind.BREAK_GLASS),
            site.patient.account_id,
            masked,
            now=site.clock.now,
        )
    assert out.decision.reason == "masked"


async def test_a_post_without_csrf_is_refused(site: Site) -> None:
    await site.login(site.patient)
    opposed = {"samu": "oppose", "bris_de_glace": "oppose", "masques": "oppose"}
    assert (await site.client.post("/urgence", data=opposed)).status_code == 403
    forged = {**opposed, "csrf_token": "f" * 64}
    assert (await site.client.post("/urgence", data=forged)).status_code == 403
    assert await consents(site) == EmergencyConsents()


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"samu": "oppose"},
        {**ALL, "samu": "non"},
        {**ALL, "bris_de_glace": "true"},
        {**ALL, "masques": ""},
        {**ALL, "masques": "oppose" * 2000},
        {**ALL, "samu": "<script>alert(1)</script>"},
        {**ALL, "samu": "Oppose"},
    ],
)
async def test_values_outside_the_set_change_nothing(site: Site, form: dict[str, str]) -> None:
    await site.login(site.patient)
    out = await site.post("/urgence", form, form_page="/urgence")
    assert out.status_code == 400
    text = text_of(out.text)
    assert "Il y a un problème" in text and "J'autorise" in text
    assert "<script>alert" not in out.text
    assert await consents(site) == EmergencyConsents()
    actions = [a for _, a, _ in await audit_actions(site.storage, site.patient.account_id)]
    assert "emergency.consents_changed" not in actions


async def test_a_file_instead_of_a_value_is_refused(site: Site) -> None:
    await site.login(site.patient)
    token = await site.csrf("/urgence")
    out = await site.client.post(
        "/urgence",
        data={"csrf_token": token, "bris_de_glace": "oppose", "masques": "oppose"},
        files={"samu": ("oppose", b"oppose", "text/plain")},
    )
    assert out.status_code == 400
    assert await consents(site) == EmergencyConsents()


async def test_another_patients_choices_are_their_own(site: Site) -> None:
    await site.login(site.other)
    page = await site.client.get("/urgence")
    assert checked(page.text, "samu") == "autorise"
    await site.post(
        "/urgence",
        {"samu": "oppose", "bris_de_glace": "oppose", "masques": "oppose"},
        form_page="/urgence",
    )
    assert await consents(site) == EmergencyConsents()  # the first patient's are untouched
    assert await open_grant(site) == "emergency"
