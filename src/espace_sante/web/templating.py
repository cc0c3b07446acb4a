"""Rendering the French pages: a Jinja2 environment per app, autoescaped, with the request's
account, CSRF token and stylesheets in every template.

The shell's templates come first in the search path, then each section's (``create_app`` builds
the app's environment with :func:`make_environment`), so every section's pages extend the shell's
``base.html``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

TEMPLATE_DIR = Path(__file__).parent / "templates"
#: The stylesheets of a page rendered outside an app made by ``create_app``.
DEFAULT_STYLESHEETS = ("/static/style.css",)


def make_environment(section_dirs: Iterable[Path] = ()) -> Environment:
    """An environment finding the shell's templates, then those of ``section_dirs``."""
    return Environment(
        loader=FileSystemLoader([TEMPLATE_DIR, *section_dirs]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


#: The shell's templates alone (for a request outside an app made by ``create_app``).
environment = make_environment()


def environment_for(request: Request) -> Environment:
    """The environment of the request's app (its sections' templates included)."""
    app = request.scope.get("app")
    found = getattr(getattr(app, "state", None), "templates", None)
    return found if isinstance(found, Environment) else environment


def stylesheets_for(request: Request) -> tuple[str, ...]:
    """The stylesheets the base layout links: the shell's, then the sections'."""
    app = request.scope.get("app")
    found = getattr(getattr(app, "state", None), "stylesheets", None)
    return tuple(found) if found else DEFAULT_STYLESHEETS


def nav_for(request: Request) -> tuple[Any, ...]:
    """The main menu's links (``web.app.NavLink``): the sections'."""
    app = request.scope.get("app")
    found = getattr(getattr(app, "state", None), "nav", None)
    return tuple(found) if found else ()


def render(
    request: Request,
    name: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render the template ``name`` with ``account``, ``csrf_token``, ``stylesheets`` and
    ``request`` added."""
    state = request.scope.get("state", {})
    context.setdefault("account", state.get("account"))
    context.setdefault("csrf_token", state.get("csrf_token", ""))
    context.setdefault("stylesheets", stylesheets_for(request))
    context.setdefault("nav_links", nav_for(request))
    context.setdefault("request", request)
    html = environment_for(request).get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def render_fragment(request: Request, name: str, **context: Any) -> Markup:
    """Render a partial template (a home card…) to safe HTML, with the same context as
    :func:`render`."""
    state = request.scope.get("state", {})
    context.setdefault("account", state.get("account"))
    context.setdefault("csrf_token", state.get("csrf_token", ""))
    context.setdefault("request", request)
    return Markup(environment_for(request).get_template(name).render(**context))
