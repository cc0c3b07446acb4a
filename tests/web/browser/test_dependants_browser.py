"""A guardian in Chromium opens their child's space from « Mes proches », sees the banner that
says whose space it is, and comes back to their own; the home page and the dependants page are
axe-clean and fit a 320 px screen."""

from __future__ import annotations

from typing import Any

import pytest

from fixtures.family import add_minor
from fixtures.seed import Seeded
from web.browser.conftest import LiveServer, assert_accessible
from web.browser.test_password_browser import _log_in
from web.conftest import PASSWORD, activate

pytestmark = pytest.mark.browser


def test_a_guardian_switches_to_the_childs_space_and_back(
    page: Any, live_server: LiveServer, seeded_live: Seeded
) -> None:
    guardian = seeded_live.active
    assert live_server.storage is not None
    live_server.call(activate(live_server.storage, guardian.account_id, live_server.clock()))
    minor = live_server.call(
        add_minor(live_server.storage, guardian.address, today=live_server.clock().date())
    )
    _log_in(page, live_server, guardian.ins, PASSWORD)
    assert_accessible(page)

    page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Mes proches"
    ).click()
    page.wait_for_url("**/proches")
    assert_accessible(page)
    page.get_by_role("button", name="Ouvrir l'espace de").click()
    page.wait_for_url("**/accueil")
    banner = page.locator(".space-banner").inner_text()
    assert "représentant légal" in banner and minor.address not in banner
    who = page.get_by_role("navigation", name="Navigation du compte").inner_text()
    assert guardian.address in who  # still logged in as oneself
    assert_accessible(page)

    page.get_by_role("button", name="Revenir à mon espace").first.click()
    page.wait_for_url("**/accueil")
    assert page.locator(".space-banner").count() == 0


def test_home_and_dependants_fit_a_small_screen(
    browser: Any, live_server: LiveServer, seeded_live: Seeded
) -> None:
    patient = seeded_live.active
    assert live_server.storage is not None
    live_server.call(activate(live_server.storage, patient.account_id, live_server.clock()))
    context = browser.new_context(
        base_url=live_server.url, locale="fr-FR", viewport={"width": 320, "height": 640}
    )
    try:
        small = context.new_page()
        _log_in(small, live_server, patient.ins, PASSWORD)
        for path in ("/accueil", "/proches"):
            small.goto(path)
            overflow = small.evaluate(
                "document.documentElement.scrollWidth > document.documentElement.clientWidth"
            )
            assert not overflow, path
    finally:
        context.close()
