"""A patient in Chromium: activation with the code printed by the CLI, login with password and
the SMS code, logout, inactivity expiry; axe-core finds no accessibility violation on any page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from espace_sante.accounts.sms import read_sms_file
from fixtures.seed import Seeded
from web.browser.conftest import LiveServer, assert_accessible
from web.conftest import PASSWORD, activate, issue_code

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[3]


def sms_code(server: LiveServer) -> str:
    messages = read_sms_file(server.settings.sms_file)
    match = re.search(r"\b(\d{6})\b", messages[-1]["text"])
    assert match
    return match.group(1)


def cli_patient_add(server: LiveServer, ins: str) -> tuple[str, str]:
    """``espace-sante patient add`` on the live server's data directory: address and code."""
    config = server.settings.data_dir / "empty.toml"
    config.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESPACE_")}
    env.update(ESPACE_CONFIG=str(config), ESPACE_DATA_DIR=str(server.settings.data_dir))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "espace_sante",
            "patient",
            "add",
            "--ins",
            ins,
            "--oid",
            "1.2.250.1.213.1.4.11",
            "--family-name",
            "Lefèvre",
            "--given-names",
            "Inès",
            "--birth-date",
            "1990-03-04",
            "--sex",
            "F",
            "--birthplace",
            "75112",
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    address, code_line = result.stdout.splitlines()
    return address, code_line.split()[3]


def test_activation_with_the_printed_code(page: Any, live_server: LiveServer) -> None:
    from fixtures.mssante import valid_nir

    ins = valid_nir("2900375112233")
    address, code = cli_patient_add(live_server, ins)
    page.goto("/activation")
    assert_accessible(page)
    page.get_by_label("Identifiant").fill(ins)
    page.get_by_label("Code provisoire").fill(code)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/activation/mot-de-passe")
    assert address in page.content()
    assert_accessible(page)

    # A weak password first: the errors are announced and linked to their fields.
    page.get_by_label("Nouveau mot de passe").fill("court")
    page.get_by_label("Confirmez le mot de passe").fill("court")
    page.get_by_label("Téléphone mobile (facultatif)").fill("06 11 22 33 44")
    page.get_by_label("par SMS").check()
    page.get_by_role("button", name="Activer mon compte").click()
    assert page.get_by_role("alert").is_visible()
    assert "au moins 12 caractères" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Nouveau mot de passe").get_attribute("aria-invalid") == "true"
    assert_accessible(page)

    page.get_by_label("Nouveau mot de passe").fill(PASSWORD)
    page.get_by_label("Confirmez le mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Activer mon compte").click()
    page.wait_for_url("**/connexion?etat=active")
    assert "Votre compte est activé" in page.get_by_role("status").inner_text()
    assert_accessible(page)

    page.get_by_label("Identifiant").fill(address)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/connexion/code**")
    assert read_sms_file(live_server.settings.sms_file)[-1]["to"] == "+33611223344"
    assert page.csp_violations == []


def test_login_with_password_and_sms_code_then_logout(
    page: Any, live_server: LiveServer, seeded_live: Seeded
) -> None:
    patient = seeded_live.active
    assert live_server.storage is not None
    live_server.call(activate(live_server.storage, patient.account_id, live_server.clock()))
    page.goto("/")
    page.wait_for_url("**/connexion")
    assert page.title() == "Connexion – espace santé"
    assert_accessible(page)

    page.get_by_label("Identifiant").fill(patient.ins)
    page.get_by_label("Mot de passe").fill("Pas-le-bon-2026")
    page.get_by_role("button", name="Continuer").click()
    assert "Identifiant ou mot de passe incorrect" in page.get_by_role("alert").inner_text()
    assert_accessible(page)

    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/connexion/code?canal=sms")
    assert "par SMS" in page.content()
    assert_accessible(page)
    page.get_by_label("Code reçu").fill(sms_code(live_server))
    page.get_by_role("button", name="Valider").click()
    page.wait_for_url("**/accueil")
    assert (
        patient.address in page.get_by_role("navigation", name="Navigation du compte").inner_text()
    )

    page.goto("/compte")
    assert page.get_by_role("heading", level=1).inner_text() == "Mon compte"
    assert_accessible(page)
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert (
        cookies["espace_session"]["httpOnly"] and cookies["espace_session"]["sameSite"] == "Strict"
    )

    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url("**/connexion?etat=deconnecte")
    assert "Vous êtes déconnecté" in page.get_by_role("status").inner_text()
    page.goto("/compte")
    page.wait_for_url("**/connexion")
    assert page.csp_violations == []


def test_inactivity_ends_the_session(
    page: Any, live_server: LiveServer, seeded_live: Seeded
) -> None:
    patient = seeded_live.active
    assert live_server.storage is not None
    live_server.call(activate(live_server.storage, patient.account_id, live_server.clock()))
    page.goto("/connexion")
    page.get_by_label("Identifiant").fill(patient.address)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/connexion/code**")
    page.get_by_label("Code reçu").fill(sms_code(live_server))
    page.get_by_role("button", name="Valider").click()
    page.wait_for_url("**/accueil")
    page.goto("/compte")
    live_server.clock.advance(minutes=live_server.settings.web.session_idle_minutes, seconds=1)
    page.reload()
    page.wait_for_url("**/session-expiree")
    assert "Votre session a expiré" in page.get_by_role("heading", level=1).inner_text()
    assert_accessible(page)
    page.get_by_role("link", name="Se reconnecter").click()
    page.wait_for_url("**/connexion")


def test_skip_link_and_visible_focus(page: Any, live_server: LiveServer) -> None:
    page.goto("/connexion")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Aller au contenu principal")
    assert skip.evaluate("el => el === document.activeElement")
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0  # shown when focused
    outline = skip.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"


def test_error_pages_are_accessible(page: Any, live_server: LiveServer) -> None:
    response = page.goto("/nulle-part")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Page introuvable"
    assert_accessible(page)
    page.goto("/session-expiree")
    assert_accessible(page)


def test_small_screen_layout_has_no_horizontal_scroll(
    browser: Any, live_server: LiveServer, seeded_live: Seeded
) -> None:
    assert live_server.storage is not None
    patient = seeded_live.created
    code = live_server.call(
        issue_code(live_server.storage, patient.account_id, live_server.clock())
    )
    context = browser.new_context(base_url=live_server.url, viewport={"width": 320, "height": 640})
    try:
        small = context.new_page()

        def assert_fits() -> None:
            overflow = small.evaluate(
                "document.documentElement.scrollWidth > document.documentElement.clientWidth"
            )
            assert not overflow, small.url

        for path in ("/connexion", "/activation", "/session-expiree", "/nulle-part"):
            small.goto(path)
            assert_fits()
        small.get_by_role("link", name="Revenir à l'accueil").click()
        small.goto("/activation")
        small.get_by_label("Identifiant").fill(patient.ins)
        small.get_by_label("Code provisoire").fill(code)
        small.get_by_role("button", name="Continuer").click()
        small.wait_for_url("**/activation/mot-de-passe")
        assert_fits()  # the long patient address wraps
        small.get_by_role("button", name="Activer mon compte").click()
        assert small.get_by_role("alert").is_visible()
        assert_fits()
    finally:
        context.close()


def test_live_server_can_run_the_imap_server_beside_the_web(
    live_server_with_imap: LiveServer,
) -> None:
    import socket

    assert live_server_with_imap.imap is not None
    with socket.create_connection(("127.0.0.1", live_server_with_imap.imap.port), timeout=10) as s:
        assert s.recv(100).startswith(b"* OK")
    with socket.create_connection(("127.0.0.1", live_server_with_imap.listener.port)) as s:  # type: ignore[union-attr]
        s.sendall(b"GET /connexion HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert s.recv(12) == b"HTTP/1.1 200"
