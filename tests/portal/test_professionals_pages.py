"""``/professionnels``: the attending physician, the authorised and the blocked professionals,
blocking (even in advance, from the directory search), unblocking and withdrawing, with their
effect on the professionals' reads at the records level; refusals and hostile input."""

from __future__ import annotations

import pytest

from espace_sante.records.access import get_document
from espace_sante.records.professionals import list_professionals
from espace_sante.storage.engine import transaction
from fixtures.record_world import deposit
from portal.pro_fixtures import (
    ATTENDING_ID,
    CARDIO_ID,
    NURSE_ID,
    STRANGER_ID,
    Site,
    backend,
    clock,
    pro,
    site,
    text_of,
)

__all__ = ["backend", "clock", "site"]  # fixtures


async def reads(site: Site, pid: str, doc: int, profession: str = "10") -> bool:
    async with transaction(site.storage.sessions) as s:
        out = await get_document(
            s, pro(pid, profession), site.patient.account_id, doc, now=site.clock.now
        )
    return out.allowed


async def state_of(site: Site, pid: str) -> str:
    async with site.storage.sessions() as s:
        _, views = await list_professionals(s, site.me, site.patient.account_id)
    return next((v.state for v in views if v.professional_id == pid), "none")


async def test_the_list_shows_attending_authorised_blocked_and_last_access(site: Site) -> None:
    doc = await deposit(site.storage, site.patient.account_id, author_id=None)
    site.clock.advance(hours=2)
    assert await reads(site, CARDIO_ID, doc)  # the cardiologist looks: a last access
    await site.login(site.patient)
    blocked = await site.post(
        f"/professionnels/{STRANGER_ID}/bloquer", {}, form_page="/professionnels"
    )
    assert (
        blocked.status_code == 303 and blocked.headers["location"] == "/professionnels?fait=bloque"
    )
    page = await site.client.get("/professionnels?fait=bloque")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Professionnels ayant accès à mon dossier" in text
    assert "Le professionnel est bloqué" in text
    # The attending physician first, with why they cannot be blocked.
    attending = text.index("Votre médecin traitant")
    assert text.index("Louise TRAITANT") > attending
    assert text.index("Louise TRAITANT") < text.index("Professionnels autorisés")
    assert "L1111-15" in text and "ne peut pas être bloqué" in text
    assert "Cabinet Voltaire" in text and "Médecine générale" in text
    # Authorised: how, since when, last access.
    authorised = text[text.index("Professionnels autorisés") : text.index("Professionnels bloqués")]
    assert "Marc CARDIO" in authorised and "accord déclaré lors d'une consultation" in authorised
    assert "Inès SOIGNANTE" in authorised and "autorisé par vous" in authorised
    assert "depuis le 25 novembre 2026" in authorised
    assert "25 novembre 2026 à 12 h 00" in authorised  # 11:00 UTC, Paris time
    assert "aucun accès" in authorised  # the nurse never looked
    assert "Cardiologie" in authorised and "CH de démonstration" in authorised
    # Blocked in advance, though they never accessed.
    blocked_part = text[text.index("Professionnels bloqués") :]
    assert "Paul ETRANGER" in blocked_part and "bloqué depuis le 25 novembre 2026" in blocked_part
    assert "devra à nouveau recueillir votre accord" in blocked_part
    for pid in (CARDIO_ID, NURSE_ID):
        assert f'action="/professionnels/{pid}/retirer"' in page.text
        assert f'action="/professionnels/{pid}/bloquer"' in page.text
    assert f'action="/professionnels/{STRANGER_ID}/debloquer"' in page.text
    assert f'action="/professionnels/{ATTENDING_ID}/bloquer"' not in page.text


async def test_block_then_unblock_and_the_reads_at_the_records_level(site: Site) -> None:
    doc = await deposit(site.storage, site.patient.account_id, author_id=None)
    assert await reads(site, CARDIO_ID, doc)
    await site.login(site.patient)
    out = await site.post(f"/professionnels/{CARDIO_ID}/bloquer", {}, form_page="/professionnels")
    assert out.status_code == 303
    assert await state_of(site, CARDIO_ID) == "blocked"
    assert not await reads(site, CARDIO_ID, doc)
    page = await site.client.get("/professionnels")
    blocked_part = text_of(page.text).split("Professionnels bloqués", 1)[1]
    assert "Marc CARDIO" in blocked_part
    out = await site.post(f"/professionnels/{CARDIO_ID}/debloquer", {}, form_page="/professionnels")
    assert out.status_code == 303 and out.headers["location"] == "/professionnels?fait=debloque"
    notice = text_of((await site.client.get(out.headers["location"])).text)
    assert "devra recueillir votre accord lors d'une prochaine consultation" in notice
    assert "Marc CARDIO" not in notice  # neither authorised nor blocked any more
    assert await state_of(site, CARDIO_ID) == "none"
    assert not await reads(site, CARDIO_ID, doc)  # a new authorisation is needed


async def test_withdrawing_an_authorisation(site: Site) -> None:
    doc = await deposit(site.storage, site.patient.account_id, author_id=None)
    assert await reads(site, NURSE_ID, doc, "60")
    await site.login(site.patient)
    out = await site.post(f"/professionnels/{NURSE_ID}/retirer", {}, form_page="/professionnels")
    assert out.status_code == 303 and out.headers["location"] == "/professionnels?fait=retire"
    assert await state_of(site, NURSE_ID) == "none"
    assert not await reads(site, NURSE_ID, doc, "60")
    again = await site.post(f"/professionnels/{NURSE_ID}/retirer", {}, form_page="/professionnels")
    assert again.status_code == 404
    assert "ne figure pas parmi ceux qui ont accès" in text_of(again.text)


async def test_the_attending_physician_cannot_be_blocked(site: Site) -> None:
    doc = await deposit(site.storage, site.patient.account_id, author_id=None)
    await site.login(site.patient)
    out = await site.post(
        f"/professionnels/{ATTENDING_ID}/bloquer", {}, form_page="/professionnels"
    )
    assert out.status_code == 409
    text = text_of(out.text)
    assert "Il y a un problème" in text
    assert "Votre médecin traitant ne peut pas être bloqué" in text
    assert "L1111-15" in text
    assert await state_of(site, ATTENDING_ID) == "none"
    assert await reads(site, ATTENDING_ID, doc)


async def test_a_post_without_csrf_is_refused(site: Site) -> None:
    await site.login(site.patient)
    for path in (
        f"/professionnels/{CARDIO_ID}/bloquer",
        f"/professionnels/{CARDIO_ID}/retirer",
        f"/professionnels/{STRANGER_ID}/bloquer",
    ):
        out = await site.client.post(path, data={})
        assert out.status_code == 403, path
        wrong = await site.client.post(path, data={"csrf_token": "0" * 64})
        assert wrong.status_code == 403, path
    assert await state_of(site, CARDIO_ID) == "authorised"
    assert await state_of(site, STRANGER_ID) == "none"


async def test_another_patient_sees_none_of_the_first_ones_professionals(site: Site) -> None:
    await site.login(site.other)
    page = await site.client.get("/professionnels")
    assert page.status_code == 200
    text = text_of(page.text)
    for name in ("TRAITANT", "CARDIO", "SOIGNANTE"):
        assert name not in text
    assert "Vous n'avez pas déclaré de médecin traitant" in text
    assert "Aucun autre professionnel n'est autorisé" in text
    # Blocking in their own space changes nothing of the first patient's.
    out = await site.post(f"/professionnels/{CARDIO_ID}/bloquer", {}, form_page="/professionnels")
    assert out.status_code == 303
    assert await state_of(site, CARDIO_ID) == "authorised"
    # Unblocking or withdrawing someone of the first patient's record: not theirs.
    out = await site.post(f"/professionnels/{NURSE_ID}/retirer", {}, form_page="/professionnels")
    assert out.status_code == 404
    assert await state_of(site, NURSE_ID) == "authorised"


async def test_search_by_name_or_number_and_block_in_advance(site: Site) -> None:
    await site.login(site.patient)
    by_name = await site.client.get("/professionnels/rechercher", params={"q": "etran"})
    assert by_name.status_code == 200
    text = text_of(by_name.text)
    assert "Paul ETRANGER" in text and "Psychiatrie" in text and "Clinique du Lac" in text
    assert f'action="/professionnels/{STRANGER_ID}/bloquer"' in by_name.text
    by_number = await site.client.get("/professionnels/rechercher", params={"q": STRANGER_ID})
    assert "Paul ETRANGER" in text_of(by_number.text)
    prefix = await site.client.get("/professionnels/rechercher", params={"q": "8100000010"})
    assert text_of(prefix.text).count("Médecin") >= 4
    # The attending physician has no block button in the results.
    attending = await site.client.get("/professionnels/rechercher", params={"q": "traitant"})
    assert "C'est votre médecin traitant" in text_of(attending.text)
    assert f'action="/professionnels/{ATTENDING_ID}/bloquer"' not in attending.text
    out = await site.post(
        f"/professionnels/{STRANGER_ID}/bloquer",
        {},
        form_page=f"/professionnels/rechercher?q={STRANGER_ID}",
    )
    assert out.status_code == 303
    assert await state_of(site, STRANGER_ID) == "blocked"
    again = await site.client.get("/professionnels/rechercher", params={"q": STRANGER_ID})
    assert "Vous avez déjà bloqué ce professionnel" in text_of(again.text)
    none = await site.client.get("/professionnels/rechercher", params={"q": "zzzz"})
    assert none.status_code == 200
    assert "Aucun professionnel de l'annuaire ne correspond" in text_of(none.text)


async def test_search_results_are_bounded(site: Site) -> None:
    from datetime import UTC, datetime

    from espace_sante.storage.schema import Professional

    async with transaction(site.storage.sessions) as s:
        for i in range(60):
            s.add(
                Professional(
                    address=f"martin{i}@medecin.mssante.fr",
                    mailbox_type="PER",
                    national_id=f"8100000020{i:02d}",
                    family_name="MARTINEZ",
                    given_name=f"Alex{i}",
                    profession_code="10",
                    profession_label="Médecin",
                    updated_at=datetime.now(UTC),
                )
            )
    await site.login(site.patient)
    page = await site.client.get("/professionnels/rechercher", params={"q": "martinez"})
    assert page.status_code == 200
    assert page.text.count("/bloquer") == 20
    assert "les 20 premiers" in text_of(page.text)


@pytest.mark.parametrize(
    "pid",
    [
        "abc",
        "81000000100a",
        "８１０００００００１",  # full-width digits
        "1" * 10_000,
        "%27%20OR%201%3D1",
        "%3Cscript%3E",
        "12",
    ],
)
async def test_bad_ids_get_a_french_message(site: Site, pid: str) -> None:
    await site.login(site.patient)
    for action in ("bloquer", "debloquer", "retirer"):
        out = await site.post(f"/professionnels/{pid}/{action}", {}, form_page="/professionnels")
        assert out.status_code == 400, (pid, action, out.status_code)
        assert "ne contient que des chiffres" in text_of(out.text)
        assert "<script>" not in out.text


async def test_an_unknown_number_gets_a_french_message(site: Site) -> None:
    await site.login(site.patient)
    out = await site.post("/professionnels/810999999999/bloquer", {}, form_page="/professionnels")
    assert out.status_code == 404
    assert "Aucun professionnel de santé ne porte ce numéro" in text_of(out.text)
    out = await site.post("/professionnels/810999999999/debloquer", {}, form_page="/professionnels")
    assert out.status_code == 404
    assert await state_of(site, "810999999999") == "none"


@pytest.mark.parametrize(
    "q",
    [
        "x" * 10_000,
        "%",
        "_",
        "\\",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "a",
        "   ",
        "\x00\x01",
        "é" * 101,
    ],
)
async def test_hostile_search_text(site: Site, q: str) -> None:
    await site.login(site.patient)
    page = await site.client.get("/professionnels/rechercher", params={"q": q})
    assert page.status_code in (200, 400), page.status_code
    assert "<script>alert" not in page.text
    if q in ("%", "_", "\\"):  # escaped: they match nothing rather than everything
        assert page.status_code == 400 or "/bloquer" not in page.text
    if len(q) > 100:
        assert page.status_code == 400 and "trop longue" in text_of(page.text)
