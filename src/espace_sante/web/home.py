"""The home page (``/accueil``): what is new in the space, one card per section.

The shell knows no section: each hands it a card (``Section.home_card``) — the mail pages the
unread messages, the record pages the new documents. A card that fails (the IMAP server down)
is replaced by a short French note; the page itself always answers.
"""

from __future__ import annotations

import logging

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from espace_sante.web.templating import render

log = logging.getLogger("espace_sante.web")

UNAVAILABLE = Markup(
    '<section class="card"><p>Une partie de votre accueil est momentanément indisponible.</p>'
    "</section>"
)


async def home_page(request: Request) -> Response:
    cards: list[Markup] = []
    for card in request.app.state.home_cards:
        try:
            html = await card(request)
        except Exception:
            log.exception("web: a home card failed")
            html = UNAVAILABLE
        if html is not None:
            cards.append(html)
    return render(request, "accueil.html", cards=cards)


routes = [Route("/accueil", home_page, methods=["GET"])]
