"""A patient in Chromium manages who sees their record and their emergency settings: blocks a
professional and sees them blocked, blocks one in advance from the directory search, changes the
emergency consents and finds them kept after a reload; axe-core finds no violation, and nothing
scrolls sideways at 320 px."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.seed import Seeded
from portal.pro_fixtures import add_people, standing
from web.browser.conftest import LiveServer, assert_accessible
from web.browser.test_login_browser import sms_code
from web.conftest import PASSWORD, activate

pytestmark = pytest.mark.browser


def _prepare(server: LiveServer, seeded: Seeded) -> None:
    assert server.storage is not None
    patient = seeded.active
    server.call(add_people(server.storage))
    server.call(activate(server.storage, patient.account_id, server.clock()))
    server.call(standing(server.storage, patient, server.clock()))


def _log_in(page: Any, server: LiveServer, identifier: str) -> None:
    page.goto("/connexion")
    page.get_by_label("Identifiant").fill(identifier)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/connexion/code**")
    page.get_by_label("Code reçu").fill(sms_code(server))
    page.get_by_role("button", name="Valider").click()
    page.wait_for_url(lambda url: "/connexion" not in url)  # wherever the site lands


def _fits(page: Any) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
    assert not overflow, page.url


def test_block_a_professional_and_change_the_emergency_settings(
    page: Any, live_server: LiveServer, seeded_live: Seeded
) -> None:
    _prepare(live_server, seeded_live)
    _log_in(page, live_server, seeded_live.active.ins)

    page.goto("/professionnels")
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Professionnels ayant accès à mon dossier"
    )
    attending = page.locator("section", has=page.get_by_role("heading", name="Votre médecin"))
    assert "Louise TRAITANT" in attending.inner_text()
    assert_accessible(page)
    page.get_by_role("button", name="Bloquer Marc CARDIO").click()
    page.wait_for_url("**/professionnels?fait=bloque")
    assert "Le professionnel est bloqué" in page.get_by_role("status").inner_text()
    blocked = page.locator(
        "section", has=page.get_by_role("heading", name="Professionnels bloqués")
    )
    assert "Marc CARDIO" in blocked.inner_text()
    assert "bloqué depuis le" in blocked.inner_text()
    assert page.get_by_role("button", name="Débloquer Marc CARDIO").is_visible()
    assert_accessible(page)

    # Block someone in advance, from the directory search.
    page.get_by_label("Nom ou numéro RPPS").fill("etranger")
    page.get_by_role("button", name="Rechercher").click()
    page.wait_for_url("**/professionnels/rechercher?q=etranger")
    assert_accessible(page)
    page.get_by_role("button", name="Bloquer Paul ETRANGER").click()
    page.wait_for_url("**/professionnels?fait=bloque")
    assert "Paul ETRANGER" in blocked.inner_text()
    page.reload()
    assert "Marc CARDIO" in blocked.inner_text()

    # The emergency settings: all allowed by default, changed, kept after a reload.
    page.goto("/urgence")
    assert_accessible(page)
    samu = page.get_by_role("group", name="Le médecin régulateur du SAMU-Centre 15")
    glass = page.get_by_role("group", name="mode bris de glace")
    masked = page.get_by_role("group", name="documents que vous avez masqués")
    for group in (samu, glass, masked):
        assert group.get_by_label("J'autorise").is_checked()
    glass.get_by_label("Je m'oppose").check()
    masked.get_by_label("Je m'oppose").check()
    page.get_by_role("button", name="Enregistrer mes choix").click()
    page.wait_for_url("**/urgence?enregistre=1")
    assert "sont enregistrés" in page.get_by_role("status").inner_text()
    assert_accessible(page)
    page.goto("/urgence")
    assert samu.get_by_label("J'autorise").is_checked()
    assert glass.get_by_label("Je m'oppose").is_checked()
    assert masked.get_by_label("Je m'oppose").is_checked()
    assert page.get_by_role("status").count() == 0

    # Refusals are shown as errors, accessibly.
    page.goto("/professionnels/rechercher?q=a")
    assert "au moins 2 caractères" in page.get_by_role("alert").inner_text()
    assert_accessible(page)
    assert page.csp_violations == []


def test_record_settings_fit_a_small_screen(
    browser: Any, live_server: LiveServer, seeded_live: Seeded
) -> None:
    _prepare(live_server, seeded_live)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 320, "height": 640})
    try:
        small = context.new_page()
        _log_in(small, live_server, seeded_live.active.ins)
        for path in (
            "/professionnels",
            "/professionnels/rechercher?q=8100000010",
            "/urgence",
            "/professionnels/rechercher?q=" + "x" * 150,
        ):
            small.goto(path)
            _fits(small)
        small.goto("/professionnels")
        small.get_by_role("button", name="Bloquer Inès SOIGNANTE").click()
        small.wait_for_url("**/professionnels?fait=bloque")
        _fits(small)
    finally:
        context.close()
