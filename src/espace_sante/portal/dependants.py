"""The guardian's dependants (« Mes proches »): the list and the switch into a dependant's space.

A guardian manages a minor's space with their own login (DESIGN.md §4, "Dependants"): the switch
sets the web session's space (``accounts.websessions.set_acting_for``) after
``accounts.guardians`` has checked the guardianship, which the shell checks again on every
request — at the dependant's 18th birthday the switch disappears and the session falls back to the
guardian's own space. Each switch is written to both persons' activity history.
"""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from espace_sante import audit
from espace_sante.accounts import guardians, websessions
from espace_sante.policy.guardianship import majority_date
from espace_sante.portal.actors import space_of
from espace_sante.storage.engine import transaction
from espace_sante.web.templating import render


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


async def dependants_page(request: Request) -> Response:
    person = space_of(request).person
    storage = request.app.state.storage
    today = _now(request).date()
    async with storage.sessions() as db:
        dependants = await guardians.dependants_in_force(db, person.account_id, today)
        births = {d.id: await guardians.birth_date_of(db, d.id) for d in dependants}
    rows = []
    for d in dependants:
        birth = births.get(d.id)
        rows.append(
            {
                "id": d.id,
                "name": d.display_name or d.address,
                "until": majority_date(birth).strftime("%d/%m/%Y") if birth else "",
                "current": space_of(request).account_id == d.id,
            }
        )
    return render(
        request,
        "proches.html",
        dependants=rows,
        refused=request.query_params.get("etat") == "refuse",
    )


async def open_dependant_space(request: Request) -> Response:
    live = request.state.web_session
    person = space_of(request).person
    raw = str(request.path_params.get("account_id", ""))
    if not raw.isdigit() or len(raw) > 18:
        return RedirectResponse("/proches?etat=refuse", status_code=303)
    now = _now(request)
    storage = request.app.state.storage
    async with transaction(storage.sessions) as db:
        dependant = await guardians.dependant_in_force(db, person.account_id, int(raw), now.date())
        if dependant is None:
            return RedirectResponse("/proches?etat=refuse", status_code=303)
        await websessions.set_acting_for(db, live.id, dependant.id)
        detail = {"dependant": dependant.id, "guardian": person.account_id}
        for account_id in (dependant.id, person.account_id):
            await audit.append(
                db, account_id=account_id, actor=person.address, action="web.space_opened",
                detail=detail, at=now,
            )  # fmt: skip
    return RedirectResponse("/accueil", status_code=303)


async def back_to_own_space(request: Request) -> Response:
    live = request.state.web_session
    space = space_of(request)
    now = _now(request)
    storage = request.app.state.storage
    async with transaction(storage.sessions) as db:
        await websessions.set_acting_for(db, live.id, None)
        if space.guardian is not None:
            await audit.append(
                db, account_id=space.account_id, actor=space.guardian.address,
                action="web.space_left",
                detail={"dependant": space.account_id, "guardian": space.guardian.account_id},
                at=now,
            )  # fmt: skip
    return RedirectResponse("/accueil", status_code=303)


routes = [
    Route("/proches", dependants_page, methods=["GET"]),
    Route("/proches/{account_id}/ouvrir", open_dependant_space, methods=["POST"]),
    Route("/proches/revenir", back_to_own_space, methods=["POST"]),
]
