"""A patient in Chromium reads their activity history (filtered by kind) and changes their
notification settings, which are kept after a reload; both pages are axe-clean and fit a 320 px
screen without horizontal scrolling."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from espace_sante import audit
from espace_sante.records.access import Caller
from espace_sante.records.upload import Upload, upload_document
from espace_sante.storage.engine import transaction
from fixtures.seed import Seeded
from web.browser.conftest import LiveServer, assert_accessible
from web.browser.test_password_browser import _log_in
from web.conftest import PASSWORD, activate

pytestmark = pytest.mark.browser


async def _some_history(server: LiveServer, seeded: Seeded) -> None:
    assert server.storage is not None
    storage = server.storage
    patient = seeded.active
    me = Caller.patient(patient.account_id, patient.address)
    async with transaction(storage.sessions) as db:
        out = await upload_document(
            db, storage, me, patient.account_id,
            Upload(b"%PDF-1.4 test", "application/pdf", "ordonnance.pdf",
                   "Ordonnance de kinésithérapie avec un titre assez long pour les petits écrans",
                   category="ordonnances"),
            settings=server.settings.records, now=server.clock(),
        )  # fmt: skip
        assert out.allowed
        await audit.append(
            db, account_id=patient.account_id, actor="ps:810000000000", action="record.listed",
            detail={"operation": "list", "total": 1, "documents": [1], "reason": "authorised",
                    "emergency": False, "first_access": True},
            at=server.clock() + timedelta(minutes=1),
        )  # fmt: skip


def _no_horizontal_scroll(page: Any) -> bool:
    return not page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )


def test_history_and_notification_settings(
    page: Any, live_server: LiveServer, seeded_live: Seeded
) -> None:
    patient = seeded_live.active
    assert live_server.storage is not None
    live_server.call(activate(live_server.storage, patient.account_id, live_server.clock()))
    live_server.call(_some_history(live_server, seeded_live))
    _log_in(page, live_server, patient.ins, PASSWORD)

    page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Historique"
    ).click()
    page.wait_for_url("**/historique")
    assert page.get_by_role("heading", name="Historique d'activité").is_visible()
    assert "Journal intègre" in page.locator("main").inner_text()
    table = page.get_by_role("table")
    assert "Consultation de la liste des documents de votre dossier par Dr Jean DUPONT" in (
        table.inner_text()
    )
    assert page.get_by_role("link", name="Ordonnance de kinésithérapie").count() == 1
    assert_accessible(page)

    page.get_by_label("Type d'activité").select_option("documents")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url("**/historique?type=documents*")
    text = page.get_by_role("table").inner_text()
    assert "Ajout d'un document à votre dossier par vous" in text
    assert "Connexion à votre espace" not in text and "liste des documents" not in text
    assert page.get_by_label("Type d'activité").input_value() == "documents"
    assert_accessible(page)

    page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Notifications"
    ).click()
    page.wait_for_url("**/notifications")
    assert page.get_by_label("Un nouveau message arrive dans ma messagerie").is_checked()
    assert_accessible(page)
    page.get_by_label("Un nouveau message arrive dans ma messagerie").uncheck()
    page.get_by_label("SMS, pour les accès en urgence").check()
    page.get_by_role("button", name="Enregistrer mes préférences").click()
    page.wait_for_url("**/notifications?etat=enregistre")
    assert page.get_by_role("status").inner_text().startswith("Vos préférences")
    assert_accessible(page)
    page.reload()
    assert not page.get_by_label("Un nouveau message arrive dans ma messagerie").is_checked()
    assert page.get_by_label("SMS, pour les accès en urgence").is_checked()
    assert page.get_by_label("Un nouveau document est ajouté à mon dossier").is_checked()
    assert not page.csp_violations


def test_history_and_notifications_fit_a_small_screen(
    browser: Any, live_server: LiveServer, seeded_live: Seeded
) -> None:
    patient = seeded_live.active
    assert live_server.storage is not None
    live_server.call(activate(live_server.storage, patient.account_id, live_server.clock()))
    live_server.call(_some_history(live_server, seeded_live))
    context = browser.new_context(
        base_url=live_server.url, locale="fr-FR", viewport={"width": 320, "height": 640}
    )
    try:
        small = context.new_page()
        _log_in(small, live_server, patient.ins, PASSWORD)
        for path in ("/historique", "/historique?type=documents", "/notifications"):
            small.goto(path)
            assert _no_horizontal_scroll(small), path
            assert_accessible(small)
    finally:
        context.close()
