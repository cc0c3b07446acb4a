"""The record pages' card on the home page: the latest documents of the space."""

from __future__ import annotations

from markupsafe import Markup
from starlette.requests import Request

from espace_sante.portal.actors import caller_for, space_of
from espace_sante.records.codes import category_by_key
from espace_sante.records.documents import DocumentQuery, list_documents
from espace_sante.storage.engine import transaction
from espace_sante.web.templating import render_fragment

#: How many documents the card lists.
LATEST = 5


async def documents_home_card(request: Request) -> Markup:
    space = space_of(request)
    storage = request.app.state.storage
    async with transaction(storage.sessions) as db:
        page = await list_documents(
            db,
            caller_for(request),
            space.account_id,
            DocumentQuery(limit=LATEST, period_on="deposit"),
            now=request.app.state.clock(),
        )
    latest = []
    for d in page.documents:
        try:
            category = category_by_key(d.category or "autres").label_fr
        except KeyError:
            category = ""
        latest.append(
            {
                "href": f"/documents/{d.id}",
                "title": d.title or "(sans titre)",
                "category": category,
                "date": d.deposited_at.strftime("%d/%m/%Y"),
            }
        )
    return render_fragment(request, "_documents_card.html", latest=latest, total=page.total)
