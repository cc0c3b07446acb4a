"""The routes of the record pages."""

from __future__ import annotations

from starlette.routing import BaseRoute

from espace_sante.portal import dependants, history, notifications

routes: list[BaseRoute] = [*dependants.routes]
routes += [*history.routes, *notifications.routes]
