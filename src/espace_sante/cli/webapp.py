"""The whole web site: the web shell (``web``) with its sections, the mail pages (``webmail``) and
the record pages (``portal``), in one Starlette app behind one login."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from starlette.applications import Starlette

from espace_sante import portal, webmail
from espace_sante.accounts.sms import SmsGateway
from espace_sante.config import Settings
from espace_sante.storage.runtime import Storage
from espace_sante.web import app as shell
from espace_sante.web.app import Section, wall_clock

#: The sections of the site, in the order their routes are tried (after the shell's).
SECTIONS: tuple[Section, ...] = (webmail.SECTION, portal.SECTION)


def create_app(
    settings: Settings,
    storage: Storage,
    *,
    clock: Callable[[], datetime] = wall_clock,
    sms: SmsGateway | None = None,
) -> Starlette:
    """The site's ASGI app. ``clock`` and ``sms`` are for tests (a movable clock, a recording
    gateway); by default the wall clock and the configured SMS gateway."""
    return shell.create_app(settings, storage, sections=SECTIONS, clock=clock, sms=sms)


__all__ = ["SECTIONS", "create_app", "wall_clock"]
