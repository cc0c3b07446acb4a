"""The ASGI application: routes, static files, error pages and the security middleware."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

import espace_sante.webmail.mail.routes
from espace_sante.accounts.sms import SmsGateway, gateway_from_settings
from espace_sante.accounts.tokens import TokenSigner
from espace_sante.config import Settings
from espace_sante.storage.runtime import Storage
from espace_sante.web import login_pages
from espace_sante.web.ratelimit import AttemptLimiter
from espace_sante.web.security import WebSecurityMiddleware, error_response

STATIC_DIR = Path(__file__).parent / "static"


def wall_clock() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings,
    storage: Storage,
    *,
    clock: Callable[[], datetime] = wall_clock,
    sms: SmsGateway | None = None,
) -> Starlette:
    """The web front of ``storage``. ``clock`` and ``sms`` are for tests (a movable clock, a
    recording gateway); by default the wall clock and the configured SMS gateway."""

    async def http_error(request: Request, exc: Exception) -> Response:
        code = exc.status_code if isinstance(exc, HTTPException) else 500
        return error_response(request, code)

    app = Starlette(
        debug=False,
        routes=[
            *login_pages.routes,
            Mount("/mail", routes=espace_sante.webmail.mail.routes.routes),
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[
            Middleware(WebSecurityMiddleware, settings=settings, storage=storage, clock=clock)
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.settings = settings
    app.state.storage = storage
    app.state.clock = clock
    app.state.sms = sms or gateway_from_settings(settings)
    #: Issues the short-lived XOAUTH2 tokens with which the mail pages log the patient in to our
    #: IMAP and submission servers (``accounts.tokens``).
    app.state.token_signer = TokenSigner.from_settings(settings)
    app.state.login_limiter = AttemptLimiter(
        login_pages.ATTEMPTS_PER_ADDRESS, login_pages.ATTEMPT_WINDOW
    )
    return app
