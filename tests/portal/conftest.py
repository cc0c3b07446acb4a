"""The record pages' tests reuse the web front's fixtures (httpx over ASGI, a movable clock).
Pages run on SQLite: the record's store and its access rules are tested on both databases under
tests/records."""

from __future__ import annotations

import pytest

from web.conftest import clock, web, web_settings  # noqa: F401  (fixtures)


@pytest.fixture
def backend() -> str:
    return "sqlite"
