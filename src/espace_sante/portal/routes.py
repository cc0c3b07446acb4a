"""The routes of the record pages."""

from __future__ import annotations

from starlette.routing import BaseRoute

from espace_sante.portal import dependants, emergency, history, notifications, professionals
from espace_sante.portal.documents_forms import document_routes

routes: list[BaseRoute] = [*dependants.routes]
routes += document_routes()
routes += [*history.routes, *notifications.routes]
routes += [*professionals.routes, *emergency.routes]
