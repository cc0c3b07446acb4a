"""The record pages: a section of the web shell (``web``).

In charge of (as they come): the patient's pages — documents, profile, authorisations, emergency
settings, history, notification settings, dependants — and later the professionals' pages
(consultation, deposit, break-glass), with their templates (``templates/``). Its routes sit at the
top level of the site (``/accueil``, ``/documents``…), all reserved to a logged-in user.
:data:`SECTION` is what the site's composition (``cli.webapp``) hands to
:func:`web.app.create_app`.
Not in charge of: the app, login, sessions, CSRF or the base layout (``web``), nor of the document
store and its access rules (``records``, ``policy``); it never imports ``mailbox`` or ``mta``.
"""

from __future__ import annotations

from pathlib import Path

from espace_sante.portal.home import documents_home_card
from espace_sante.portal.routes import routes
from espace_sante.web.app import NavLink, Section

PACKAGE_DIR = Path(__file__).parent

#: Paths of the record pages, reserved to a logged-in user.
PROTECTED_PREFIXES = (
    "/accueil",
    "/documents",
    "/professionnels",
    "/urgence",
    "/historique",
    "/notifications",
    "/proches",
)

#: The record pages at the top level of the site (no mount).
SECTION = Section(
    mount=None,
    routes=routes,
    template_dir=PACKAGE_DIR / "templates",
    protected_prefixes=PROTECTED_PREFIXES,
    nav=(
        NavLink("Mes documents", "/documents"),
        NavLink("Professionnels", "/professionnels"),
        NavLink("Urgence", "/urgence"),
        NavLink("Historique", "/historique"),
        NavLink("Notifications", "/notifications"),
        NavLink("Mes proches", "/proches"),
    ),
    home_card=documents_home_card,
)

__all__ = ["PROTECTED_PREFIXES", "SECTION"]
