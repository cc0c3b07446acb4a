"""The middleware every request passes: body size, session, CSRF, security headers, errors.

For each HTTP request it
- refuses a body larger than ``[web] max_body_bytes`` (413) before any handler sees it;
- finds the web session of the cookie (ending it when idle or too old) and sets
  ``request.state.account`` (a :class:`WebAccount` once fully logged in, else None),
  ``request.state.web_session`` and ``request.state.csrf_token``;
- gives a visitor without a session a random pre-session cookie, so that the login forms carry a
  CSRF token too (the token is an HMAC of the cookie under a key derived from the master key);
- refuses a POST whose ``csrf_token`` field is not the token of its cookie (403);
- sends an unauthenticated request for a protected path (the shell's ``/compte``, and the
  prefixes the sections reserve, e.g. ``/mail``) to the login page (or to the "session expired"
  notice when its session just ran out);
- adds the Content-Security-Policy and the other security headers to every response, forbids
  caching of every page, and answers a French 500 page (no stack trace) on an unexpected error.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from espace_sante.accounts import guardians, weblogin, websessions
from espace_sante.config import Settings
from espace_sante.storage.crypto import load_master_key
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.web import cookies
from espace_sante.web.auth import WebAccount
from espace_sante.web.templating import render

log = logging.getLogger("espace_sante.web")

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]
NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
#: The shell's own paths reserved to a fully logged-in patient (``create_app`` adds the sections').
SHELL_PROTECTED_PREFIXES = ("/compte", "/accueil")
#: Most form fields and files accepted in one POST (the byte limit is ``max_body_bytes``).
MAX_FORM_FIELDS = 50
MAX_FORM_FILES = 20


class WebSecurityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        storage: Storage,
        clock: Callable[[], datetime],
        protected_prefixes: tuple[str, ...] = SHELL_PROTECTED_PREFIXES,
    ) -> None:
        self.app = app
        self.protected_prefixes = protected_prefixes
        self.settings = settings
        self.storage = storage
        self.clock = clock
        self.limits = websessions.SessionLimits(
            idle=timedelta(minutes=settings.web.session_idle_minutes),
            lifetime=timedelta(hours=settings.web.session_max_hours),
        )
        self.csrf_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"espace-sante web csrf v1"
        ).derive(load_master_key(settings.master_key_file))
        self.session_cookie = cookies.name(settings, cookies.SESSION)
        self.pre_cookie = cookies.name(settings, cookies.PRE_SESSION)

    def csrf_for(self, cookie_value: str) -> str:
        return hmac.new(self.csrf_key, b"csrf:" + cookie_value.encode(), hashlib.sha256).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra_headers: list[tuple[bytes, bytes]] = []
        started = False
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {b"cache-control", b"pragma"} or static
                ]
                # A cookie the handler set (a new session) wins over our clearing of the old one.
                set_by_handler = {_cookie_name(v) for k, v in headers if k.lower() == b"set-cookie"}
                headers += SECURITY_HEADERS + [
                    (k, v) for k, v in extra_headers if _cookie_name(v) not in set_by_handler
                ]
                if not static:
                    headers += NO_STORE
                if self.settings.web.cookie_secure:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self._handle(scope, receive, send_with_headers, extra_headers)
        except Exception:
            log.exception("web: unexpected error on %s %s", scope.get("method"), scope["path"])
            if not started:
                response = render(
                    Request(scope),
                    "erreur.html",
                    status_code=500,
                    code=500,
                    title="Erreur du serveur",
                    message="Une erreur inattendue s'est produite. Réessayez dans un instant.",
                )
                await response(scope, receive, send_with_headers)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        extra_headers: list[tuple[bytes, bytes]],
    ) -> None:
        request = Request(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state.update(account=None, web_session=None, csrf_token="")
        if scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        body = await _read_body(scope, receive, self.settings.web.max_body_bytes)
        if body is None:
            await self._error(
                scope,
                send,
                413,
                "Requête trop volumineuse",
                "Les données envoyées dépassent la taille autorisée.",
            )
            return
        jar = _cookies(request)
        now = self.clock()
        remote = request.client.host if request.client else ""
        token = jar.get(self.session_cookie, "")
        found = websessions.Lookup(None)
        if token:
            found = await self._lookup(token, now, remote)
            if found.session is None:
                extra_headers.append(
                    (
                        b"set-cookie",
                        cookies.clear_cookie_header(self.settings, cookies.SESSION).encode(),
                    )
                )
        live = found.session
        pre = jar.get(self.pre_cookie, "")
        if not _plausible(pre):
            pre = secrets.token_urlsafe(24)
            extra_headers.append(
                (
                    b"set-cookie",
                    cookies.set_cookie_header(self.settings, cookies.PRE_SESSION, pre).encode(),
                )
            )
        state["web_session"] = live
        if live is not None and live.stage == "authenticated":
            state["account"] = await self._space(live, now)
        state["pre_csrf_token"] = self.csrf_for(pre)
        state["csrf_token"] = self.csrf_for(live.token) if live else state["pre_csrf_token"]

        path = scope["path"]
        if state["account"] is None and path.startswith(self.protected_prefixes):
            target = "/session-expiree" if found.expired else "/connexion"
            await RedirectResponse(target, status_code=303)(scope, _replay(b""), send)
            return
        if scope["method"] == "POST":
            accepted = {self.csrf_for(pre)} | ({self.csrf_for(token)} if token else set())
            sent = await _form_token(scope, body)
            if sent is None or not any(hmac.compare_digest(sent, ok) for ok in accepted):
                await self._error(
                    scope,
                    send,
                    403,
                    "Action refusée",
                    "Le formulaire a expiré ou ne provient pas de ce site. Rechargez la page "
                    "et recommencez.",
                )
                return
        await self.app(scope, _replay(body), send)

    async def _space(self, live: websessions.ActiveSession, now: datetime) -> WebAccount:
        """The space of an authenticated session: the person's own, or the dependant's a guardian
        switched to while the guardianship is still in force (it ends at the majority)."""
        person = WebAccount(live.account_id, live.address, live.display_name)
        if live.acting_for is None:
            return person
        async with self.storage.sessions() as db:
            dependant = await guardians.dependant_in_force(
                db, live.account_id, live.acting_for, now.date()
            )
        if dependant is None:
            async with transaction(self.storage.sessions) as db:
                await websessions.set_acting_for(db, live.id, None)
            return person
        return WebAccount(dependant.id, dependant.address, dependant.display_name, guardian=person)

    async def _lookup(self, token: str, now: datetime, remote: str) -> websessions.Lookup:
        async with self.storage.sessions() as db:
            found = await websessions.lookup(db, token, self.limits, now=now, write=False)
        if not found.needs_write:
            return found
        async with transaction(self.storage.sessions) as db:
            found = await websessions.lookup(db, token, self.limits, now=now, write=True)
            if found.expired and found.ended is not None:
                await weblogin.audit_logout(
                    db,
                    found.ended[0],
                    found.ended[1],
                    now=now,
                    reason=found.expired,
                    remote=remote,
                )
        return found

    async def _error(self, scope: Scope, send: Send, code: int, title: str, message: str) -> None:
        response = render(
            Request(scope),
            "erreur.html",
            status_code=code,
            code=code,
            title=title,
            message=message,
        )
        await response(scope, _replay(b""), send)


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it exceeds ``limit`` bytes."""
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                if int(value) > limit:
                    return None
            except ValueError:
                return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _form_token(scope: Scope, body: bytes) -> str | None:
    """The ``csrf_token`` field of a form body, or None (no form, unreadable form)."""
    request = Request(scope, _replay(body))
    try:
        form: FormData = await request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS)
    except Exception:  # malformed multipart, too many fields…
        return None
    try:
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    finally:
        await form.close()


def _cookies(request: Request) -> dict[str, str]:
    raw = request.headers.get("cookie", "")
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed Cookie header is no cookie
        return {}
    return {key: morsel.value for key, morsel in jar.items()}


def _cookie_name(set_cookie: bytes) -> bytes:
    return set_cookie.split(b"=", 1)[0].strip()


def _plausible(token: str) -> bool:
    return (
        20 <= len(token) <= 100
        and token.replace("-", "").replace("_", "").isalnum()
        and (token.isascii())
    )


def error_response(request: Request, code: int) -> Response:
    """The French page for an HTTP error raised by a route (404, 405…)."""
    titles = {
        404: ("Page introuvable", "La page demandée n'existe pas ou n'existe plus."),
        405: ("Méthode non autorisée", "Cette adresse ne s'utilise pas ainsi."),
        403: ("Accès refusé", "Vous n'avez pas accès à cette page."),
        413: ("Requête trop volumineuse", "Les données envoyées dépassent la taille autorisée."),
    }
    title, message = titles.get(code, ("Erreur", "La demande n'a pas pu aboutir."))
    return render(request, "erreur.html", status_code=code, code=code, title=title, message=message)
