"""The routes of the record pages (none yet)."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
