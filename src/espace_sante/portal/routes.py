"""The routes of the record pages (each page module appends its list)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from espace_sante.portal import emergency, professionals

routes: list[BaseRoute] = []
routes += [*professionals.routes, *emergency.routes]
