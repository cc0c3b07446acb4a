"""Fixtures of the command-line tests: they run on SQLite, the embedded default; the commands
whose work is the database's (init's migrations, the demo's seeding and the audit chain) run on
both databases (``both_databases`` in test_cli.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def backend() -> str:
    return "sqlite"
