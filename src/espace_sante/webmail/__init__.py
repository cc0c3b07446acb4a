"""The patient's mail pages (``webmail.mail``): a section of the web shell (``web``).

In charge of: the conversations, folders, message lists, message view and reply pages, their
templates (``templates/mail/``) and ``static/mail.css``, reading mail through our own IMAP server
and sending through our own submission server like any mail client. :data:`SECTION` is what the
site's composition (``cli.webapp``) hands to :func:`web.app.create_app`.
Not in charge of: the app, login, sessions, CSRF or the base layout (``web``), nor of the mail store
or the MSSanté rules (``mailbox``, ``mta``, ``policy``), which it never imports.
"""

from __future__ import annotations

from pathlib import Path

from espace_sante.web.app import NavLink, Section
from espace_sante.webmail.mail.home import mail_home_card
from espace_sante.webmail.mail.routes import routes

PACKAGE_DIR = Path(__file__).parent

#: The mail pages under ``/mail``, reserved to a logged-in patient.
SECTION = Section(
    mount="/mail",
    routes=routes,
    template_dir=PACKAGE_DIR / "templates",
    protected_prefixes=("/mail",),
    static_dir=PACKAGE_DIR / "static",
    stylesheets=("/static/mail.css",),
    nav=(NavLink("Messagerie", "/mail/"),),
    home_card=mail_home_card,
)

__all__ = ["SECTION"]
