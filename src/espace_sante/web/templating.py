"""Rendering the French pages: one Jinja2 environment, autoescaped, with the request's account
and CSRF token in every template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

TEMPLATE_DIR = Path(__file__).parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(
    request: Request,
    name: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``templates/<name>`` with ``account``, ``csrf_token`` and ``request`` added."""
    state = request.scope.get("state", {})
    context.setdefault("account", state.get("account"))
    context.setdefault("csrf_token", state.get("csrf_token", ""))
    context.setdefault("request", request)
    html = environment.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=headers)
