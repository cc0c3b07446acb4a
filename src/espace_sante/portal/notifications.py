"""The notification settings (« Notifications »): which notices go to the personal inbox, and by
SMS.

The four notices (a new message, a new document, a professional's first access, every emergency
access) and the two channels are ``notify.NotificationSettings``; they are read with
``notify.get_settings`` and saved with ``notify.save_settings``, which audits the change
(``notification_settings.changed``, the actor being ``account:<id>`` of the person who saved).
The SMS channel is offered when an SMS gateway is configured (``[web] sms_gateway``) and someone
the notices go to has a mobile phone; ``notify`` sends SMS for emergency accesses only. Where the
notices go is ``notify.recipients``' answer (the space holder and, for a dependant, the guardians
in force), shown masked. A guardian in a dependant's space sets the dependant's settings.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from espace_sante.notify import NotificationSettings, get_settings, save_settings
from espace_sante.notify.recipients import notice_addresses, notice_phones
from espace_sante.portal.actors import space_of
from espace_sante.storage.engine import transaction
from espace_sante.web.templating import render

#: The notices, in the form's order: (field, label, hint).
NOTICES: tuple[tuple[str, str, str], ...] = (
    ("new_message", "Un nouveau message arrive dans ma messagerie", ""),
    ("new_document", "Un nouveau document est ajouté à mon dossier", ""),
    (
        "first_professional_access",
        "Un professionnel de santé accède à mon dossier pour la première fois",
        "",
    ),
    (
        "emergency_access",
        "Mon dossier est consulté en urgence",
        "Un avis à chaque accès en urgence (SAMU ou bris de glace), envoyé aussitôt.",
    ),
)
FIELDS = tuple(f.name for f in fields(NotificationSettings))
#: What a ticked checkbox sends (browsers send "on" when a checkbox has no value).
CHECKED = frozenset({"1", "on"})


def mask_email(address: str) -> str:
    """``marie.perso@example.org`` → ``m•••@example.org``."""
    local, at, domain = address.partition("@")
    if not at or not local:
        return "•••"
    return f"{local[0]}•••@{domain}"


def mask_phone(phone: str) -> str:
    """``+33612345678`` → ``+33 6 •• •• •• 78``; another number keeps its last two digits."""
    digits = phone.strip()
    if digits.startswith("+33") and len(digits) == 12 and digits[1:].isdigit():
        return f"+33 {digits[3]} •• •• •• {digits[-2:]}"
    return f"•• •• {digits[-2:]}" if len(digits) >= 2 else "••"


def _sms_gateway(request: Request) -> bool:
    return bool(request.app.state.settings.web.sms_gateway)


async def _contacts(request: Request) -> tuple[list[str], list[str]]:
    space = space_of(request)
    async with request.app.state.storage.sessions() as db:
        emails = await notice_addresses(db, space.account_id)
        phones = await notice_phones(db, space.account_id)
    return emails, phones


async def _page(
    request: Request,
    settings: NotificationSettings,
    *,
    error: str = "",
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    emails, phones = await _contacts(request)
    space = space_of(request)
    return render(
        request,
        "notifications/notifications.html",
        status_code=status_code,
        settings=asdict(settings),
        notices=NOTICES,
        emails=[mask_email(e) for e in emails],
        phones=[mask_phone(p) for p in phones],
        sms_offered=_sms_gateway(request) and bool(phones),
        sms_gateway=_sms_gateway(request),
        guardian=space.guardian is not None,
        holder_name=space.display_name or space.address,
        error=error,
        saved=saved,
        nothing_goes=not settings.any_notice,
    )


async def notifications_page(request: Request) -> Response:
    space = space_of(request)
    async with request.app.state.storage.sessions() as db:
        settings = await get_settings(db, space.account_id)
    return await _page(request, settings, saved=request.query_params.get("etat") == "enregistre")


def _read_form(form: FormData, sms_offered: bool) -> NotificationSettings | None:
    """The settings of the form, or None when a field carries a value a checkbox never sends.
    Fields the form does not have are ignored; SMS stays off when it cannot be offered."""
    values: dict[str, bool] = {}
    for name in FIELDS:
        sent = form.getlist(name)
        if any(not isinstance(v, str) or v not in CHECKED for v in sent) or len(sent) > 1:
            return None
        values[name] = bool(sent)
    if not sms_offered:
        values["channel_sms"] = False
    return NotificationSettings(**values)


async def save_notifications(request: Request) -> Response:
    space = space_of(request)
    form = await request.form()
    try:
        emails, phones = await _contacts(request)
        wanted = _read_form(form, _sms_gateway(request) and bool(phones))
    finally:
        await form.close()
    storage = request.app.state.storage
    if wanted is None:
        async with storage.sessions() as db:
            current = await get_settings(db, space.account_id)
        return await _page(
            request,
            current,
            error="Le formulaire contient une valeur non reconnue : rien n'a été modifié.",
            status_code=400,
        )
    now: datetime = request.app.state.clock()
    async with transaction(storage.sessions) as db:
        await save_settings(
            db, space.account_id, wanted, actor=f"account:{space.person.account_id}", now=now
        )
    return RedirectResponse("/notifications?etat=enregistre", status_code=303)


routes = [
    Route("/notifications", notifications_page, methods=["GET"]),
    Route("/notifications", save_notifications, methods=["POST"]),
]
