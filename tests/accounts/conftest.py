"""Database fixtures of the accounts tests: each test gets an empty, migrated database of its own,
on SQLite (a file in the test's temporary directory) and on PostgreSQL.

PostgreSQL isolation: a fresh schema per test, owned by a fresh login role whose ``search_path``
is that schema. The test database is then reachable through a plain URL
(``postgresql+asyncpg://t_xxx:…@host/db``), which any code that only takes a URL (the CLI,
``ESPACE_DATABASE_URL``) can use as is. Schema and role are dropped after the test.

The server is ``ESPACE_TEST_POSTGRES_URL`` (default
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``), connected to as a role allowed to create
roles. When it cannot be reached the PostgreSQL tests fail under CI (``CI`` set) and are skipped
elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from espace_sante.storage.engine import create_engine, session_factory
from espace_sante.storage.migrate import upgrade

PG_URL = os.environ.get(
    "ESPACE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
_PG_STATE: dict[str, str] = {}  # "error" -> why PostgreSQL is unusable (checked once per run)


def _admin_dsn() -> str:
    return make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(*statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_admin_dsn(), timeout=5)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


def _require_postgres() -> None:
    if "error" not in _PG_STATE:
        try:
            asyncio.run(_admin("SELECT 1"))
            _PG_STATE["error"] = ""
        except Exception as exc:  # unreachable, refused, bad credentials…
            _PG_STATE["error"] = f"PostgreSQL at {PG_URL} is not usable: {exc!r}"
    if _PG_STATE["error"]:
        if os.environ.get("CI"):
            pytest.fail(_PG_STATE["error"])
        pytest.skip(_PG_STATE["error"])


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (not yet migrated) for this test alone."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'espace-sante.db'}"
        return
    _require_postgres()
    name = f"t_{secrets.token_hex(6)}"
    password = secrets.token_hex(12)
    asyncio.run(
        _admin(
            f"CREATE ROLE {name} LOGIN PASSWORD '{password}'",
            f"CREATE SCHEMA {name} AUTHORIZATION {name}",
            f"ALTER ROLE {name} SET search_path = {name}",
        )
    )
    url = make_url(PG_URL).set(username=name, password=password)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(
            _admin(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{name}'",
                f"DROP SCHEMA IF EXISTS {name} CASCADE",
                f"DROP OWNED BY {name}",
                f"DROP ROLE IF EXISTS {name}",
            )
        )


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's database, migrated to the current schema."""
    eng = create_engine(database_url)
    try:
        await upgrade(eng)
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment of an ``espace-sante`` command on an initialised data directory (master key,
    migrated schema) whose database is ``database_url``."""
    from espace_sante.config import load_settings
    from espace_sante.storage.crypto import create_master_key

    config = tmp_path / "espace-sante.toml"
    config.write_text("", encoding="utf-8")
    env = {
        "ESPACE_CONFIG": str(config),
        "ESPACE_DATA_DIR": str(tmp_path / "var"),
        "ESPACE_DATABASE_URL": database_url,
    }
    settings = load_settings(environ=env)
    create_master_key(settings.master_key_file)

    async def migrate() -> None:
        eng = create_engine(database_url)
        try:
            await upgrade(eng)
        finally:
            await eng.dispose()

    asyncio.run(migrate())
    return env
