"""The ASGI application: the shell's routes, the sections' routes, static files, error pages and
the security middleware.

The shell knows no section by name: its caller (``cli.webapp`` for the whole site, a test for
less) hands it :class:`Section` values, and every section's templates extend the shell's
``base.html`` through one template loader.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path

from markupsafe import Markup
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from espace_sante.accounts.sms import SmsGateway, gateway_from_settings
from espace_sante.accounts.tokens import TokenSigner
from espace_sante.config import Settings
from espace_sante.storage.runtime import Storage
from espace_sante.web import home, login_pages, templating
from espace_sante.web.ratelimit import AttemptLimiter
from espace_sante.web.security import (
    SHELL_PROTECTED_PREFIXES,
    WebSecurityMiddleware,
    error_response,
)

STATIC_DIR = Path(__file__).parent / "static"
#: The shell's own stylesheet, first in every page.
STYLESHEET = "/static/style.css"
#: The page a patient lands on after logging in (and ``/`` once logged in): what is new.
POST_LOGIN_PATH = "/accueil"

#: A section's card on the home page: an HTML fragment (rendered from the section's templates,
#: so already escaped) or None when it has nothing to say.
HomeCard = Callable[[Request], Awaitable["Markup | None"]]


@dataclass(frozen=True)
class NavLink:
    """A link of the site's main menu."""

    label: str
    href: str


@dataclass(frozen=True)
class Section:
    """A set of pages the shell serves behind its login.

    ``mount``: the path the routes are mounted under, or None for routes at the top level.
    ``template_dir``: the section's templates, found by name next to the shell's (so they can
    extend ``base.html``); names must not clash with the shell's or another section's.
    ``protected_prefixes``: the paths reserved to a logged-in user (the others are public).
    ``static_dir``: files served under ``/static/`` next to the shell's.
    ``stylesheets``: URLs the base layout links in every page, after the shell's stylesheet.
    ``nav``: links of the main menu; ``home_card``: what the section shows on the home page.
    """

    mount: str | None
    routes: list[BaseRoute]
    template_dir: Path | None
    protected_prefixes: tuple[str, ...]
    static_dir: Path | None = None
    stylesheets: tuple[str, ...] = ()
    #: The section's entries in the main menu, in order.
    nav: tuple[NavLink, ...] = ()
    #: The section's card on the home page (``/accueil``), if it has one.
    home_card: HomeCard | None = None


def wall_clock() -> datetime:
    return datetime.now(UTC)


class _StaticDirectories(StaticFiles):
    """``/static``: the first of ``directories`` that holds the file asked for."""

    def __init__(self, directories: Sequence[str | PathLike[str]]) -> None:
        super().__init__(directory=directories[0])
        self.all_directories = list(directories)


def create_app(
    settings: Settings,
    storage: Storage,
    *,
    sections: Sequence[Section],
    clock: Callable[[], datetime] = wall_clock,
    sms: SmsGateway | None = None,
    post_login_path: str = POST_LOGIN_PATH,
) -> Starlette:
    """The web front of ``storage`` with the shell's pages and those of ``sections``. ``clock``
    and ``sms`` are for tests (a movable clock, a recording gateway); by default the wall clock
    and the configured SMS gateway."""

    async def http_error(request: Request, exc: Exception) -> Response:
        code = exc.status_code if isinstance(exc, HTTPException) else 500
        return error_response(request, code)

    routes: list[BaseRoute] = [*login_pages.routes, *home.routes]
    for section in sections:
        if section.mount is None:
            routes.extend(section.routes)
        else:
            routes.append(Mount(section.mount, routes=section.routes))
    static_dirs = [STATIC_DIR, *(s.static_dir for s in sections if s.static_dir is not None)]
    routes.append(Mount("/static", app=_StaticDirectories(static_dirs), name="static"))
    protected = tuple(
        dict.fromkeys(
            [*SHELL_PROTECTED_PREFIXES, *(p for s in sections for p in s.protected_prefixes)]
        )
    )
    app = Starlette(
        debug=False,
        routes=routes,
        middleware=[
            Middleware(
                WebSecurityMiddleware,
                settings=settings,
                storage=storage,
                clock=clock,
                protected_prefixes=protected,
            )
        ],
        exception_handlers={HTTPException: http_error},
    )
    app.state.settings = settings
    app.state.storage = storage
    app.state.clock = clock
    app.state.sms = sms or gateway_from_settings(settings)
    app.state.templates = templating.make_environment(
        [s.template_dir for s in sections if s.template_dir is not None]
    )
    app.state.stylesheets = (STYLESHEET, *(css for s in sections for css in s.stylesheets))
    app.state.post_login_path = post_login_path
    app.state.nav = tuple(link for s in sections for link in s.nav)
    app.state.home_cards = tuple(s.home_card for s in sections if s.home_card is not None)
    #: Issues the short-lived XOAUTH2 tokens with which the mail pages log the patient in to our
    #: IMAP and submission servers (``accounts.tokens``).
    app.state.token_signer = TokenSigner.from_settings(settings)
    app.state.login_limiter = AttemptLimiter(
        login_pages.ATTEMPTS_PER_ADDRESS, login_pages.ATTEMPT_WINDOW
    )
    return app
