"""``/professionnels``: who may see the record of the space — the attending physician, the
professionals authorised, the blocked ones — and blocking, unblocking, withdrawing.

Everything goes through ``records.professionals`` (which asks ``policy`` and audits); the
directory (``accounts.professionals``) only names people and finds them for the search. The
caller is the space's holder or the guardian acting for them (``portal.actors.caller_for``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from espace_sante.accounts.professionals import (
    SEARCH_LIMIT,
    DirectoryPerson,
    people_by_national_id,
    search_people,
)
from espace_sante.policy.record_access import Decision
from espace_sante.portal.actors import caller_for, space_of
from espace_sante.records.access import Caller
from espace_sante.records.professionals import (
    ProfessionalView,
    StandingOutcome,
    block_professional,
    list_professionals,
    revoke_authorisation,
    unblock_professional,
)
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.web.templating import render

try:
    PARIS: Any = ZoneInfo("Europe/Paris")
except ZoneInfoNotFoundError:  # pragma: no cover - systems without tzdata
    PARIS = UTC

_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
)  # fmt: skip

#: A national identifier (RPPS/ADELI as the directory keeps it): ASCII digits only.
NATIONAL_ID = re.compile(r"[0-9]{6,20}")
#: The longest search text read.
MAX_QUERY = 100
#: The shortest name searched (a national id may be searched from its first digits).
MIN_QUERY = 2

BAD_ID = "Ce numéro d'identification n'est pas valable : un numéro RPPS ou ADELI ne contient que des chiffres."  # noqa: E501
UNKNOWN_ID = "Aucun professionnel de santé ne porte ce numéro dans l'annuaire."
NOT_LISTED = "Ce professionnel ne figure pas parmi ceux qui ont accès à votre dossier."
NOTICES = {
    "bloque": "Le professionnel est bloqué : il ne peut plus consulter votre dossier. Il peut "
    "toujours y déposer des documents.",
    "debloque": "Le professionnel est débloqué. Pour consulter à nouveau votre dossier, il "
    "devra recueillir votre accord lors d'une prochaine consultation.",
    "retire": "L'autorisation est retirée : ce professionnel ne peut plus consulter votre dossier.",
}
VIA = {
    "patient": "autorisé par vous",
    "consultation": "accord déclaré lors d'une consultation",
}


def french_date(at: datetime | None, with_time: bool = False) -> str:
    """« 25 novembre 2026 » (« … à 14 h 05 ») in Paris time; '' when unknown."""
    if at is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    local = at.astimezone(PARIS)
    day = f"{local.day} {_MONTHS[local.month - 1]} {local.year}"
    return f"{day} à {local.hour} h {local.minute:02d}" if with_time else day


def valid_national_id(value: str) -> bool:
    return NATIONAL_ID.fullmatch(value) is not None


def storage_of(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


def now_of(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


def refused_page(request: Request, decision: Decision) -> Response:
    """The record is not the caller's to manage (e.g. a guardianship that ended)."""
    return render(
        request,
        "erreur.html",
        status_code=403,
        code=403,
        title="Accès refusé",
        message=decision.reason_fr,
    )


def _name(view: ProfessionalView | DirectoryPerson) -> str:
    name = " ".join(p for p in (view.given_name, view.family_name) if p)
    return name or f"Professionnel n° {getattr(view, 'professional_id', '')}".strip()


def _card(view: ProfessionalView, person: DirectoryPerson | None) -> dict[str, Any]:
    return {
        "id": view.professional_id,
        "name": _name(view),
        "profession": view.profession_label,
        "specialty": view.specialty_label,
        "organisation": person.organisation if person else "",
        "state": view.state,
        "attending": view.attending_physician,
        "since": french_date(view.authorised_at),
        "since_iso": view.authorised_at.isoformat() if view.authorised_at else "",
        "via": VIA.get(view.authorised_via or "", ""),
        "blocked_since": french_date(view.blocked_at),
        "blocked_iso": view.blocked_at.isoformat() if view.blocked_at else "",
        "last_access": french_date(view.last_access_at, with_time=True),
        "last_access_iso": view.last_access_at.isoformat() if view.last_access_at else "",
    }


async def _views(
    session: AsyncSession, caller: Caller, account_id: int, now: datetime
) -> tuple[Decision, list[ProfessionalView], dict[str, DirectoryPerson]]:
    decision, views = await list_professionals(session, caller, account_id, now=now)
    people = await people_by_national_id(session, {v.professional_id for v in views})
    return decision, views, people


async def _list_page(
    request: Request,
    *,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    space = space_of(request)
    async with storage_of(request).sessions() as session:
        decision, views, people = await _views(
            session, caller_for(request), space.account_id, now_of(request)
        )
    if not decision.allowed:
        return refused_page(request, decision)
    cards = [_card(v, people.get(v.professional_id)) for v in views]
    return render(
        request,
        "professionnels/liste.html",
        status_code=status_code,
        attending=[c for c in cards if c["attending"]],
        authorised=[c for c in cards if not c["attending"] and c["state"] == "authorised"],
        blocked=[c for c in cards if not c["attending"] and c["state"] == "blocked"],
        space=space,
        error=error,
        notice=notice,
        max_query=MAX_QUERY,
    )


async def professionals_page(request: Request) -> Response:
    """The attending physician, the professionals authorised and those blocked."""
    done = request.query_params.get("fait", "")
    return await _list_page(request, notice=NOTICES.get(done))


async def search_page(request: Request) -> Response:
    """Directory search by name or national id, to block someone in advance."""
    raw = request.query_params.get("q", "")
    query = " ".join(raw.split())
    error = None
    results: list[dict[str, Any]] = []
    searched = False
    if len(raw) > MAX_QUERY * 4 or len(query) > MAX_QUERY:
        error = f"Votre recherche est trop longue ({MAX_QUERY} caractères au plus)."
    elif query and len(query) < MIN_QUERY:
        error = f"Saisissez au moins {MIN_QUERY} caractères."
    elif query:
        searched = True
        space = space_of(request)
        async with storage_of(request).sessions() as session:
            decision, views, _ = await _views(
                session, caller_for(request), space.account_id, now_of(request)
            )
            if not decision.allowed:
                return refused_page(request, decision)
            found = await search_people(session, query, limit=SEARCH_LIMIT)
        standing = {v.professional_id: v for v in views}
        for person in found:
            view = standing.get(person.national_id)
            results.append(
                {
                    "id": person.national_id,
                    "name": _name(person),
                    "profession": person.profession_label,
                    "specialty": person.specialty_label,
                    "organisation": person.organisation,
                    "state": view.state if view else "none",
                    "attending": bool(view and view.attending_physician),
                }
            )
    return render(
        request,
        "professionnels/recherche.html",
        status_code=400 if error else 200,
        query=query[:MAX_QUERY],
        results=results,
        searched=searched,
        error=error,
        limit=SEARCH_LIMIT,
        max_query=MAX_QUERY,
    )


Change = Callable[..., Awaitable[StandingOutcome]]


async def _change(request: Request, change: Change, done: str, *, must_be_listed: bool) -> Response:
    pid = str(request.path_params.get("national_id", ""))
    if not valid_national_id(pid):
        return await _list_page(request, status_code=400, error=BAD_ID)
    space = space_of(request)
    caller = caller_for(request)
    now = now_of(request)
    async with transaction(storage_of(request).sessions) as session:
        decision, views, _ = await _views(session, caller, space.account_id, now)
        if not decision.allowed:
            return refused_page(request, decision)
        listed = any(v.professional_id == pid for v in views)
        if must_be_listed and not listed:
            error, code = NOT_LISTED, 404
        elif not listed and not await people_by_national_id(session, {pid}):
            error, code = UNKNOWN_ID, 404
        else:
            outcome = await change(session, caller, space.account_id, pid, now=now)
            if outcome.allowed:
                return RedirectResponse(f"/professionnels?fait={done}", status_code=303)
            error, code = outcome.decision.reason_fr, 409
    return await _list_page(request, status_code=code, error=error)


async def block(request: Request) -> Response:
    """Block a professional (everyone but the attending physician), listed or not."""
    return await _change(request, block_professional, "bloque", must_be_listed=False)


async def unblock(request: Request) -> Response:
    return await _change(request, unblock_professional, "debloque", must_be_listed=True)


async def revoke(request: Request) -> Response:
    return await _change(request, revoke_authorisation, "retire", must_be_listed=True)


routes: list[BaseRoute] = [
    Route("/professionnels", professionals_page, methods=["GET"]),
    Route("/professionnels/rechercher", search_page, methods=["GET"]),
    Route("/professionnels/{national_id}/bloquer", block, methods=["POST"]),
    Route("/professionnels/{national_id}/debloquer", unblock, methods=["POST"]),
    Route("/professionnels/{national_id}/retirer", revoke, methods=["POST"]),
]

__all__ = ["french_date", "routes", "valid_national_id"]
