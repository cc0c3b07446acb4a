"""A patient in Chromium resets a forgotten password with the SMS code, logs in with it, then
changes it from their account page; axe-core finds no violation on these pages, errors shown."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.seed import Seeded
from web.browser.conftest import LiveServer, assert_accessible
from web.browser.test_login_browser import sms_code
from web.conftest import activate

pytestmark = pytest.mark.browser
RESET_PASSWORD = "Camomille-Tilleul-2027"
CHANGED_PASSWORD = "Romarin-Sauge-Thym-2028"


def _log_in(page: Any, server: LiveServer, identifier: str, password: str) -> None:
    page.goto("/connexion")
    page.get_by_label("Identifiant").fill(identifier)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/connexion/code**")
    page.get_by_label("Code reçu").fill(sms_code(server))
    page.get_by_role("button", name="Valider").click()
    page.wait_for_url("**/accueil")


def test_forgotten_password_then_change_it(
    page: Any, live_server: LiveServer, seeded_live: Seeded
) -> None:
    patient = seeded_live.active
    assert live_server.storage is not None
    live_server.call(activate(live_server.storage, patient.account_id, live_server.clock()))

    page.goto("/connexion")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    page.wait_for_url("**/mot-de-passe-oublie")
    assert_accessible(page)
    page.get_by_label("Identifiant").fill(patient.ins)
    page.get_by_role("button", name="Recevoir un code").click()
    assert "un code vient de vous être envoyé" in page.get_by_role("status").inner_text()
    assert_accessible(page)
    code = sms_code(live_server)
    wrong = "111111" if code != "111111" else "222222"
    page.get_by_label("Code reçu").fill(wrong)
    page.get_by_label("Nouveau mot de passe", exact=True).fill(RESET_PASSWORD)
    page.get_by_label("Confirmez le nouveau mot de passe").fill(RESET_PASSWORD)
    page.get_by_role("button", name="Enregistrer le mot de passe").click()
    assert "Ce code n'est pas valable" in page.get_by_role("alert").inner_text()
    assert_accessible(page)
    page.get_by_label("Code reçu").fill(code)
    page.get_by_label("Nouveau mot de passe", exact=True).fill(RESET_PASSWORD)
    page.get_by_label("Confirmez le nouveau mot de passe").fill(RESET_PASSWORD)
    page.get_by_role("button", name="Enregistrer le mot de passe").click()
    page.wait_for_url("**/connexion?etat=mdp")
    assert "Votre mot de passe a été changé" in page.get_by_role("status").inner_text()

    _log_in(page, live_server, patient.ins, RESET_PASSWORD)
    page.goto("/compte")
    page.get_by_role("link", name="Changer mon mot de passe").click()
    page.wait_for_url("**/compte/mot-de-passe")
    assert_accessible(page)
    page.get_by_label("Mot de passe actuel").fill("Pas-le-bon-2026")
    page.get_by_label("Nouveau mot de passe", exact=True).fill(CHANGED_PASSWORD)
    page.get_by_label("Confirmez le nouveau mot de passe").fill(CHANGED_PASSWORD)
    page.get_by_role("button", name="Changer le mot de passe").click()
    assert "Le mot de passe actuel est incorrect" in page.get_by_role("alert").inner_text()
    assert_accessible(page)
    page.get_by_label("Mot de passe actuel").fill(RESET_PASSWORD)
    page.get_by_label("Nouveau mot de passe", exact=True).fill(CHANGED_PASSWORD)
    page.get_by_label("Confirmez le nouveau mot de passe").fill(CHANGED_PASSWORD)
    page.get_by_role("button", name="Changer le mot de passe").click()
    page.wait_for_url("**/compte?etat=mdp")
    assert "Votre mot de passe a été changé" in page.get_by_role("status").inner_text()
    assert_accessible(page)
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url("**/connexion?etat=deconnecte")
    _log_in(page, live_server, patient.ins, CHANGED_PASSWORD)
    assert page.csp_violations == []
