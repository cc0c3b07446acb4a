"""A patient in Chromium with their documents: upload a PDF, find it in the list by category,
open it (framed by our page under its own policies), mask it; axe-core finds no violation on the
pages at 1280 px, and the list does not scroll sideways at 320 px."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fixtures.seed import Seeded
from portal.conftest import deposit
from web.browser.conftest import LiveServer, assert_accessible
from web.browser.test_login_browser import sms_code
from web.conftest import PASSWORD, activate

pytestmark = pytest.mark.browser

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def _log_in(page: Any, server: LiveServer, seeded: Seeded) -> None:
    assert server.storage is not None
    server.call(activate(server.storage, seeded.active.account_id, server.clock()))
    page.goto("/connexion")
    page.get_by_label("Identifiant").fill(seeded.active.ins)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/connexion/code**")
    page.get_by_label("Code reçu").fill(sms_code(server))
    page.get_by_role("button", name="Valider").click()
    page.wait_for_url(lambda url: "/connexion" not in url)  # the landing page may change


def test_upload_find_open_and_mask_a_pdf(
    page: Any, live_server: LiveServer, seeded_live: Seeded
) -> None:
    server = live_server
    assert server.storage is not None
    start = datetime(2026, 1, 5, tzinfo=UTC)
    for i in range(3):  # a professional's documents beside the patient's own
        server.call(
            deposit(
                server.storage, seeded_live.active.account_id,
                title=f"Compte rendu de consultation n° {i + 1}",
                author_institution="Centre hospitalier de démonstration",
                at=start + timedelta(days=i),
            )
        )  # fmt: skip
    page.set_viewport_size({"width": 1280, "height": 900})
    _log_in(page, server, seeded_live)

    page.goto("/documents")
    assert_accessible(page)
    page.get_by_role("link", name="Ajouter un document").click()
    page.wait_for_url("**/documents/ajouter")
    assert_accessible(page)
    page.get_by_label("Fichier").set_input_files(
        {"name": "bilan-sanguin.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_label("Titre").fill("Bilan sanguin de novembre")
    page.get_by_label("Classement").select_option("categorie:biologie")
    page.get_by_role("button", name="Ajouter le document").click()
    page.wait_for_url(re.compile(r".*/documents/\d+\?fait=ajoute$"))
    assert "Votre document a été ajouté" in page.get_by_role("status").inner_text()

    page.goto("/documents")
    page.get_by_label("Catégorie").select_option("biologie")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url("**/documents?categorie=biologie**")
    assert_accessible(page)
    rows = page.locator("table.docs-table tbody tr")
    assert rows.count() == 1
    assert "Résultats d'analyses" in rows.first.inner_text()
    page.get_by_role("link", name="Bilan sanguin de novembre").click()
    page.wait_for_url(re.compile(r".*/documents/\d+$"))
    assert_accessible(page)

    frame_element = page.locator('iframe[title="Document PDF « Bilan sanguin de novembre »"]')
    assert frame_element.is_visible()
    document_url = page.url
    # the frame loaded our /contenu (not the browser's "blocked" page)
    page.wait_for_timeout(1000)
    frame_urls = [f.url for f in page.frames if f != page.main_frame]
    assert any(u.endswith("/contenu") for u in frame_urls), frame_urls
    assert not any(u.startswith("chrome-error:") for u in frame_urls), frame_urls
    # Chromium's PDF viewer runs although /contenu is sandboxed (CSP sandbox)
    assert any(u.startswith("chrome-extension://") for u in frame_urls), frame_urls
    assert not page.csp_violations, page.csp_violations

    # by keyboard: headless Chromium's mouse events below the PDF viewer's frame get lost
    page.get_by_role("button", name="Masquer aux professionnels").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*\?fait=masque$"))
    assert "masqué aux professionnels" in page.get_by_role("main").inner_text()
    assert page.url.startswith(document_url)
    assert_accessible(page)

    page.get_by_role("link", name="Supprimer ce document").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/supprimer")
    assert_accessible(page)


def test_the_list_fits_a_small_screen(
    browser: Any, live_server: LiveServer, seeded_live: Seeded
) -> None:
    server = live_server
    assert server.storage is not None
    for i in range(4):
        server.call(
            deposit(
                server.storage, seeded_live.active.account_id,
                title=f"Compte rendu d'hospitalisation en cardiologie interventionnelle {i}",
                author_person="Dr Marie-Christine DE LA FONTAINE-ROUSSEAU",
                author_institution="Centre hospitalier universitaire de démonstration",
            )
        )  # fmt: skip
    context = browser.new_context(
        base_url=server.url, locale="fr-FR", viewport={"width": 320, "height": 640}
    )
    context.set_default_timeout(15_000)
    try:
        small = context.new_page()
        _log_in(small, server, seeded_live)
        for path in ("/documents", "/documents/ajouter", "/documents?du=n'importe"):
            small.goto(path)
            overflow = small.evaluate(
                "document.documentElement.scrollWidth > document.documentElement.clientWidth"
            )
            assert not overflow, small.url
        small.goto("/documents")
        small.get_by_role("link", name=re.compile("cardiologie interventionnelle 0")).click()
        small.wait_for_url(re.compile(r".*/documents/\d+$"))
        overflow = small.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth"
        )
        assert not overflow, small.url
    finally:
        context.close()
