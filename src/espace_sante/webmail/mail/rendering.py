"""Rendering the mail pages, and French formatting of dates and sizes for them.

:func:`render` uses the app's Jinja2 environment (``web.templating``: the shell's templates and
every section's, ours included), unless ``app.state.mail_template_loader`` holds a loader to look
in first (the mail pages' own tests use it for a minimal ``base.html``); ``account`` and
``csrf_token`` come from ``request.state``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from espace_sante.web import templating

#: The mail pages' own templates (``templates/mail/…``).
TEMPLATE_DIR = Path(__file__).parents[1] / "templates"

try:
    PARIS: Any = ZoneInfo("Europe/Paris")
except ZoneInfoNotFoundError:  # pragma: no cover - systems without tzdata
    PARIS = UTC

_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
)  # fmt: skip


def french_date(at: datetime | None, with_time: bool = True) -> str:
    """« 25 novembre 2026 à 14 h 05 » in Paris time; '' when unknown."""
    if at is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    local = at.astimezone(PARIS)
    day = f"{local.day} {_MONTHS[local.month - 1]} {local.year}"
    return f"{day} à {local.hour} h {local.minute:02d}" if with_time else day


def _environment(request: Request) -> Environment:
    extra = getattr(request.app.state, "mail_template_loader", None)
    if extra is None:
        return templating.environment_for(request)
    env = getattr(request.app.state, "mail_jinja_env", None)
    if env is None:
        loaders: list[Any] = [extra, FileSystemLoader(TEMPLATE_DIR), templating.environment.loader]
        env = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        request.app.state.mail_jinja_env = env
    return env


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page ``name`` with ``account`` and ``csrf_token`` from ``request.state``."""
    template = _environment(request).get_template(name)
    page = template.render(
        request=request,
        account=getattr(request.state, "account", None),
        csrf_token=getattr(request.state, "csrf_token", ""),
        stylesheets=templating.stylesheets_for(request),
        **context,
    )
    return HTMLResponse(page, status_code=status_code)
