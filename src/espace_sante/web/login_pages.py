"""The login pages: password, one-time code, activation, logout, session-expired notice, account.

Handlers gather and bound the form fields, call ``accounts.weblogin`` inside one write transaction
and show the outcome; cookies are set here with the attributes of :mod:`web.cookies`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from espace_sante.accounts import weblogin, webpasswords, websessions
from espace_sante.accounts.sms import SmsError, SmsGateway
from espace_sante.accounts.weblogin import LoginRefused
from espace_sante.config import Settings
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Account, Patient, WebCredential
from espace_sante.web import cookies
from espace_sante.web.ratelimit import AttemptLimiter
from espace_sante.web.templating import render

#: Longest value accepted in each field (a longer one is refused as malformed, not cut).
FIELD_LIMITS = {
    "identifier": 254,
    "password": 1024,
    "confirmation": 1024,
    "current": 1024,
    "code": 32,
    "personal_email": 254,
    "mobile_phone": 30,
    "channel": 8,
    "csrf_token": 128,
}
#: Attempts (password, code, activation) one client address may make per window.
ATTEMPTS_PER_ADDRESS = 30
ATTEMPT_WINDOW = timedelta(minutes=10)
NOTICES = {
    "deconnecte": "Vous êtes déconnecté. À bientôt.",
    "active": "Votre compte est activé. Connectez-vous avec votre nouveau mot de passe.",
    "recommencer": "Votre connexion n'a pas abouti : recommencez.",
    "mdp": "Votre mot de passe a été changé. Connectez-vous avec le nouveau.",
}
CHANNEL_TEXT = {
    "sms": "par SMS sur votre téléphone mobile",
    "email": "par courriel à votre adresse personnelle",
}
TOO_MANY = "Trop de tentatives depuis votre connexion. Patientez quelques minutes."


class MalformedForm(ValueError):
    pass


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _storage(request: Request) -> Storage:
    return request.app.state.storage


def _now(request: Request) -> datetime:
    return request.app.state.clock()


def _remote(request: Request) -> str:
    return request.client.host if request.client else ""


def _limiter(request: Request) -> AttemptLimiter:
    return request.app.state.login_limiter


def _session(request: Request) -> websessions.ActiveSession | None:
    return request.state.web_session


async def _fields(request: Request, *names: str) -> dict[str, str]:
    """The named text fields ("" when absent); MalformedForm for a file or an overlong value."""
    form = await request.form()
    values = {}
    for name in names:
        value = form.get(name, "")
        if isinstance(value, UploadFile) or len(value) > FIELD_LIMITS[name]:
            raise MalformedForm(name)
        values[name] = value
    return values


def _malformed(request: Request, template: str, **context: Any) -> Response:
    return render(
        request,
        template,
        status_code=400,
        error="Le formulaire contient des données non valides. Vérifiez votre saisie.",
        **context,
    )


def _with_session_cookie(response: Response, settings: Settings, token: str) -> Response:
    response.headers.append(
        "set-cookie", cookies.set_cookie_header(settings, cookies.SESSION, token)
    )
    return response


def _clearing_session_cookie(response: Response, settings: Settings) -> Response:
    response.headers.append("set-cookie", cookies.clear_cookie_header(settings, cookies.SESSION))
    return response


def _as_visitor(request: Request) -> None:
    """After ending the session in this request, render forms with the pre-session token."""
    request.state.csrf_token = request.state.pre_csrf_token
    request.state.web_session = None
    request.state.account = None


def _post_login_path(request: Request) -> str:
    """Where a logged-in patient goes: ``app.state.post_login_path`` (set by ``create_app``)."""
    return str(request.app.state.post_login_path)


# -- pages --------------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    target = _post_login_path(request) if request.state.account is not None else "/connexion"
    return RedirectResponse(target, status_code=303)


async def login_form(request: Request) -> Response:
    if request.state.account is not None:
        return RedirectResponse(_post_login_path(request), status_code=303)
    notice = NOTICES.get(request.query_params.get("etat", ""))
    return render(request, "connexion.html", notice=notice, identifier="")


async def login_submit(request: Request) -> Response:
    try:
        fields = await _fields(request, "identifier", "password")
    except MalformedForm:
        return _malformed(request, "connexion.html", identifier="")
    identifier = fields["identifier"]
    shown_identifier = identifier if identifier.isprintable() else ""
    errors = {}
    if not identifier.strip():
        errors["identifier"] = "Indiquez votre identifiant."
    if not fields["password"]:
        errors["password"] = "Indiquez votre mot de passe."
    if errors:
        return render(
            request,
            "connexion.html",
            status_code=400,
            errors=errors,
            identifier=shown_identifier,
        )
    now = _now(request)
    if not _limiter(request).allow(_remote(request), now):
        return render(
            request,
            "connexion.html",
            status_code=429,
            error=TOO_MANY,
            identifier=shown_identifier,
        )
    settings = _settings(request)
    sms: SmsGateway = request.app.state.sms
    refusal: LoginRefused | None = None
    token = ""
    channel = ""
    previous = _session(request)
    try:
        async with transaction(_storage(request).sessions) as db:
            try:
                account_id = await weblogin.check_password(
                    db, identifier, fields["password"], now=now, remote=_remote(request)
                )
            except LoginRefused as exc:
                refusal = exc
            else:
                if previous is not None:
                    await websessions.end(db, previous.id, "replaced", now=now)
                session_id, token = await websessions.create(
                    db, account_id, "code", now=now, remote=_remote(request)
                )
                sent = await weblogin.send_login_code(
                    db, account_id, session_id, now=now, settings=settings, sms=sms
                )
                channel = sent.channel
    except SmsError:
        refusal = LoginRefused(
            "sms", "L'envoi du code par SMS a échoué. Réessayez dans quelques minutes."
        )
    if refusal is not None:
        status = 429 if refusal.reason == "locked" else 400
        return render(
            request,
            "connexion.html",
            status_code=status,
            error=refusal.message,
            identifier=shown_identifier,
        )
    response = RedirectResponse(f"/connexion/code?canal={channel}", status_code=303)
    return _with_session_cookie(response, settings, token)


async def code_form(request: Request) -> Response:
    live = _session(request)
    if live is None or live.stage != "code":
        return RedirectResponse("/connexion", status_code=303)
    channel = CHANNEL_TEXT.get(request.query_params.get("canal", ""), "")
    notice = "Un nouveau code vous a été envoyé." if request.query_params.get("renvoye") else None
    return render(request, "code.html", channel_text=channel, notice=notice)


async def code_submit(request: Request) -> Response:
    live = _session(request)
    if live is None or live.stage != "code":
        return RedirectResponse("/connexion?etat=recommencer", status_code=303)
    try:
        fields = await _fields(request, "code")
    except MalformedForm:
        return _malformed(request, "code.html")
    if not fields["code"].strip():
        return render(
            request,
            "code.html",
            status_code=400,
            errors={"code": "Indiquez le code à 6 chiffres reçu."},
        )
    now = _now(request)
    if not _limiter(request).allow(_remote(request), now):
        return render(request, "code.html", status_code=429, error=TOO_MANY)
    settings = _settings(request)
    refusal: LoginRefused | None = None
    token = ""
    async with transaction(_storage(request).sessions) as db:
        try:
            await weblogin.check_login_code(
                db,
                live.account_id,
                live.id,
                fields["code"],
                now=now,
                remote=_remote(request),
                max_attempts=settings.web.login_code_attempts,
            )
        except LoginRefused as exc:
            refusal = exc
            if exc.reason != "bad_code":
                await websessions.end(db, live.id, exc.reason, now=now)
        else:
            token = await websessions.promote(db, live.id, "authenticated", now=now)
    if refusal is None:
        response = RedirectResponse(_post_login_path(request), status_code=303)
        return _with_session_cookie(response, settings, token)
    if refusal.reason == "bad_code":
        return render(request, "code.html", status_code=400, errors={"code": refusal.message})
    _as_visitor(request)
    page = render(
        request,
        "connexion.html",
        status_code=429 if refusal.reason == "locked" else 400,
        error=refusal.message,
        identifier="",
    )
    return _clearing_session_cookie(page, settings)


async def code_resend(request: Request) -> Response:
    """Send a new code for the pending session (the previous one becomes void)."""
    live = _session(request)
    if live is None or live.stage != "code":
        return RedirectResponse("/connexion?etat=recommencer", status_code=303)
    now = _now(request)
    if not _limiter(request).allow(_remote(request), now):
        return render(request, "code.html", status_code=429, error=TOO_MANY)
    refusal: LoginRefused | None = None
    channel = ""
    try:
        async with transaction(_storage(request).sessions) as db:
            try:
                sent = await weblogin.send_login_code(
                    db,
                    live.account_id,
                    live.id,
                    now=now,
                    settings=_settings(request),
                    sms=request.app.state.sms,
                )
                channel = sent.channel
            except LoginRefused as exc:
                refusal = exc
    except SmsError:
        refusal = LoginRefused(
            "sms", "L'envoi du code par SMS a échoué. Réessayez dans quelques minutes."
        )
    if refusal is not None:
        return render(request, "code.html", status_code=429, error=refusal.message)
    return RedirectResponse(f"/connexion/code?canal={channel}&renvoye=1", status_code=303)


async def activation_form(request: Request) -> Response:
    return render(request, "activation.html", identifier="")


async def activation_submit(request: Request) -> Response:
    try:
        fields = await _fields(request, "identifier", "code")
    except MalformedForm:
        return _malformed(request, "activation.html", identifier="")
    identifier = fields["identifier"]
    shown_identifier = identifier if identifier.isprintable() else ""
    errors = {}
    if not identifier.strip():
        errors["identifier"] = "Indiquez votre identifiant."
    if not fields["code"].strip():
        errors["code"] = "Indiquez le code provisoire reçu."
    if errors:
        return render(
            request,
            "activation.html",
            status_code=400,
            errors=errors,
            identifier=shown_identifier,
        )
    now = _now(request)
    if not _limiter(request).allow(_remote(request), now):
        return render(
            request,
            "activation.html",
            status_code=429,
            error=TOO_MANY,
            identifier=shown_identifier,
        )
    refusal: LoginRefused | None = None
    token = ""
    previous = _session(request)
    async with transaction(_storage(request).sessions) as db:
        try:
            account_id = await weblogin.check_activation_code(
                db, identifier, fields["code"], now=now, remote=_remote(request)
            )
        except LoginRefused as exc:
            refusal = exc
        else:
            if previous is not None:
                await websessions.end(db, previous.id, "replaced", now=now)
            _, token = await websessions.create(
                db, account_id, "activation", now=now, remote=_remote(request)
            )
    if refusal is not None:
        return render(
            request,
            "activation.html",
            status_code=429 if refusal.reason == "locked" else 400,
            error=refusal.message,
            identifier=shown_identifier,
        )
    response = RedirectResponse("/activation/mot-de-passe", status_code=303)
    return _with_session_cookie(response, _settings(request), token)


async def _activation_context(request: Request, account_id: int) -> dict[str, Any]:
    async with _storage(request).sessions() as db:
        account = await db.get(Account, account_id)
        patient = await db.get(Patient, account_id)
        credential = await db.get(WebCredential, account_id)
    assert account is not None
    personal: tuple[str, ...] = (account.address.split("@")[0],)
    if patient is not None:
        personal += (patient.ins, patient.family_name, *patient.given_names.split())
    if account.personal_email:
        personal += (account.personal_email.split("@")[0],)
    return {
        "personal": personal,
        "personal_email": account.personal_email or "",
        "mobile_phone": credential.mobile_phone if credential and credential.mobile_phone else "",
        "channel": credential.code_channel if credential else "",
        "address": account.address,
    }


async def password_form(request: Request) -> Response:
    live = _session(request)
    if live is None or live.stage != "activation":
        return RedirectResponse("/activation", status_code=303)
    context = await _activation_context(request, live.account_id)
    del context["personal"]
    return render(request, "activation_mdp.html", **context)


async def password_submit(request: Request) -> Response:
    live = _session(request)
    if live is None or live.stage != "activation":
        return RedirectResponse("/activation", status_code=303)
    context = await _activation_context(request, live.account_id)
    personal = context.pop("personal")
    assert isinstance(personal, tuple)
    try:
        fields = await _fields(
            request, "password", "confirmation", "personal_email", "mobile_phone", "channel"
        )
    except MalformedForm:
        return _malformed(request, "activation_mdp.html", **context)
    form, errors = weblogin.activation_problems(
        password=fields["password"],
        confirmation=fields["confirmation"],
        personal_email=fields["personal_email"],
        mobile_phone=fields["mobile_phone"],
        channel=fields["channel"],
        personal=personal,
    )
    if form is None:
        context.update(
            personal_email=fields["personal_email"]
            if fields["personal_email"].isprintable()
            else "",
            mobile_phone=fields["mobile_phone"] if fields["mobile_phone"].isprintable() else "",
            channel=fields["channel"],
        )
        return render(request, "activation_mdp.html", status_code=400, errors=errors, **context)
    now = _now(request)
    async with transaction(_storage(request).sessions) as db:
        await weblogin.complete_activation(
            db,
            live.account_id,
            password=form.password,
            personal_email=form.personal_email,
            mobile_phone=form.mobile_phone,
            channel=form.channel,
            now=now,
            remote=_remote(request),
        )
        await websessions.end(db, live.id, "activated", now=now)
    response = RedirectResponse("/connexion?etat=active", status_code=303)
    return _clearing_session_cookie(response, _settings(request))


async def logout(request: Request) -> Response:
    live = _session(request)
    if live is not None:
        now = _now(request)
        async with transaction(_storage(request).sessions) as db:
            await websessions.end(db, live.id, "logout", now=now)
            await weblogin.audit_logout(
                db,
                live.account_id,
                live.address,
                now=now,
                reason="logout",
                remote=_remote(request),
            )
    response = RedirectResponse("/connexion?etat=deconnecte", status_code=303)
    return _clearing_session_cookie(response, _settings(request))


async def session_expired(request: Request) -> Response:
    minutes = _settings(request).web.session_idle_minutes
    return render(request, "session_expiree.html", minutes=minutes)


class _RollBack(Exception):
    """Leave a transaction without committing (a good reset code stays usable)."""

    def __init__(self, problems: webpasswords.PasswordProblems) -> None:
        self.problems = problems


async def change_password_form(request: Request) -> Response:
    return render(request, "compte_mdp.html")


async def change_password_submit(request: Request) -> Response:
    """Logged in: the current password, then the new one twice; other sessions are ended."""
    live = _session(request)
    assert live is not None  # /compte is reserved to a logged-in patient by the middleware
    try:
        fields = await _fields(request, "current", "password", "confirmation")
    except MalformedForm:
        return _malformed(request, "compte_mdp.html")
    if not fields["current"]:
        errors = {"current": "Indiquez votre mot de passe actuel."}
        return render(request, "compte_mdp.html", status_code=400, errors=errors)
    now = _now(request)
    if not _limiter(request).allow(_remote(request), now):
        return render(request, "compte_mdp.html", status_code=429, error=TOO_MANY)
    refusal: LoginRefused | None = None
    try:
        async with transaction(_storage(request).sessions) as db:
            try:
                await webpasswords.change_password(
                    db, live.account_id, live.id, current=fields["current"],
                    new=fields["password"], confirmation=fields["confirmation"], now=now,
                    remote=_remote(request),
                )  # fmt: skip
            except webpasswords.PasswordProblems as exc:
                raise _RollBack(exc) from exc
            except LoginRefused as exc:
                refusal = exc
    except _RollBack as rollback:
        errors = rollback.problems.errors
        return render(request, "compte_mdp.html", status_code=400, errors=errors)
    if refusal is not None:
        status = 429 if refusal.reason == "locked" else 400
        if refusal.reason == "bad_current":
            return render(
                request, "compte_mdp.html", status_code=status,
                errors={"current": refusal.message},
            )  # fmt: skip
        return render(request, "compte_mdp.html", status_code=status, error=refusal.message)
    return RedirectResponse("/compte?etat=mdp", status_code=303)


async def forgotten_form(request: Request) -> Response:
    return render(request, "mdp_oublie.html", identifier="")


async def forgotten_submit(request: Request) -> Response:
    """Send a reset code when the identifier names an account; the same page either way."""
    try:
        fields = await _fields(request, "identifier")
    except MalformedForm:
        return _malformed(request, "mdp_oublie.html", identifier="")
    identifier = fields["identifier"]
    shown_identifier = identifier if identifier.isprintable() else ""
    if not identifier.strip():
        errors = {"identifier": "Indiquez votre identifiant."}
        return render(request, "mdp_oublie.html", status_code=400, errors=errors, identifier="")
    now = _now(request)
    if not _limiter(request).allow(_remote(request), now):
        return render(
            request, "mdp_oublie.html", status_code=429, error=TOO_MANY,
            identifier=shown_identifier,
        )  # fmt: skip
    try:
        async with transaction(_storage(request).sessions) as db:
            await webpasswords.request_reset(
                db, identifier, now=now, remote=_remote(request), settings=_settings(request),
                sms=request.app.state.sms,
            )  # fmt: skip
    except SmsError:
        pass  # said nowhere: it would tell that the identifier exists; the patient asks again
    return render(
        request,
        "mdp_nouveau.html",
        identifier=shown_identifier,
        notice="Si cet identifiant correspond à un compte activé, un code vient de vous être "
        "envoyé par SMS ou par courriel.",
    )


async def forgotten_new_password(request: Request) -> Response:
    """The reset code and the new password twice; every session of the account is ended."""
    try:
        fields = await _fields(request, "identifier", "code", "password", "confirmation")
    except MalformedForm:
        return _malformed(request, "mdp_nouveau.html", identifier="")
    identifier = fields["identifier"]
    shown_identifier = identifier if identifier.isprintable() else ""
    errors = {}
    if not identifier.strip():
        errors["identifier"] = "Indiquez votre identifiant."
    if not fields["code"].strip():
        errors["code"] = "Indiquez le code à 6 chiffres reçu."
    if not fields["password"]:
        errors["password"] = "Indiquez un nouveau mot de passe."
    if errors:
        return render(
            request, "mdp_nouveau.html", status_code=400, errors=errors,
            identifier=shown_identifier,
        )  # fmt: skip
    now = _now(request)
    if not _limiter(request).allow(_remote(request), now):
        return render(
            request, "mdp_nouveau.html", status_code=429, error=TOO_MANY,
            identifier=shown_identifier,
        )  # fmt: skip
    refusal: LoginRefused | None = None
    try:
        async with transaction(_storage(request).sessions) as db:
            try:
                await webpasswords.complete_reset(
                    db, identifier, fields["code"], new=fields["password"],
                    confirmation=fields["confirmation"], now=now, remote=_remote(request),
                    max_attempts=_settings(request).web.login_code_attempts,
                )  # fmt: skip
            except webpasswords.PasswordProblems as exc:
                raise _RollBack(exc) from exc
            except LoginRefused as exc:
                refusal = exc
    except _RollBack as rollback:
        return render(
            request, "mdp_nouveau.html", status_code=400, errors=rollback.problems.errors,
            identifier=shown_identifier,
        )  # fmt: skip
    if refusal is not None:
        return render(
            request, "mdp_nouveau.html", status_code=400, errors={"code": refusal.message},
            identifier=shown_identifier,
        )  # fmt: skip
    response = RedirectResponse("/connexion?etat=mdp", status_code=303)
    if _session(request) is not None:  # ended with every session of the account
        return _clearing_session_cookie(response, _settings(request))
    return response


async def account_page(request: Request) -> Response:
    account = request.state.account.person
    async with _storage(request).sessions() as db:
        row = await db.get(Account, account.account_id)
        credential = await db.get(WebCredential, account.account_id)
    assert row is not None
    return render(
        request,
        "compte.html",
        personal_email=row.personal_email or "",
        mobile_phone=credential.mobile_phone if credential and credential.mobile_phone else "",
        channel_text=CHANNEL_TEXT.get(credential.code_channel if credential else "", ""),
        notice="Votre mot de passe a été changé." if request.query_params.get("etat") == "mdp"
        else None,
    )  # fmt: skip


routes = [
    Route("/", home, methods=["GET"]),
    Route("/connexion", login_form, methods=["GET"]),
    Route("/connexion", login_submit, methods=["POST"]),
    Route("/connexion/code", code_form, methods=["GET"]),
    Route("/connexion/code", code_submit, methods=["POST"]),
    Route("/connexion/code/renvoyer", code_resend, methods=["POST"]),
    Route("/activation", activation_form, methods=["GET"]),
    Route("/activation", activation_submit, methods=["POST"]),
    Route("/activation/mot-de-passe", password_form, methods=["GET"]),
    Route("/activation/mot-de-passe", password_submit, methods=["POST"]),
    Route("/deconnexion", logout, methods=["POST"]),
    Route("/session-expiree", session_expired, methods=["GET"]),
    Route("/compte", account_page, methods=["GET"]),
    Route("/compte/mot-de-passe", change_password_form, methods=["GET"]),
    Route("/compte/mot-de-passe", change_password_submit, methods=["POST"]),
    Route("/mot-de-passe-oublie", forgotten_form, methods=["GET"]),
    Route("/mot-de-passe-oublie", forgotten_submit, methods=["POST"]),
    Route("/mot-de-passe-oublie/nouveau", forgotten_new_password, methods=["POST"]),
]
