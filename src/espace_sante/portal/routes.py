"""The routes of the record pages."""

from __future__ import annotations

from starlette.routing import BaseRoute

from espace_sante.portal import dependants, emergency, professionals

routes: list[BaseRoute] = [*dependants.routes]
routes += [*professionals.routes, *emergency.routes]
