"""Shared fixtures: an initialised data directory on SQLite or PostgreSQL, and seeded data.

Storage and delivery tests take the ``backend`` parameter and so run twice: on SQLite in a
temporary directory and on the PostgreSQL at ``ESPACE_TEST_POSTGRES_URL`` (default
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``). When PostgreSQL cannot be reached the
tests fail under CI (``CI`` set) and are skipped elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import hypothesis
import pytest

from espace_sante.config import Settings, load_settings
from espace_sante.mta.tls import DevPki, default_hostnames, ensure_dev_pki
from espace_sante.storage.crypto import create_master_key
from espace_sante.storage.engine import create_engine
from espace_sante.storage.migrate import upgrade
from espace_sante.storage.runtime import Storage
from fixtures.seed import Seeded, seed_trust_space

# Property tests check behaviour, not speed: these machines are shared and a busy moment must not
# fail an example for taking 200 ms.
hypothesis.settings.register_profile(
    "shared-machine", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("shared-machine")

PG_URL = os.environ.get(
    "ESPACE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
_PKI_CACHE: dict[str, DevPki] = {}


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    if database is not None:
        dsn = dsn.rsplit("/", 1)[0] + "/" + database
    return dsn


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(PG_URL), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated once; dropped at the end."""
    name = f"espace_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # unreachable, refused…
        message = f"PostgreSQL at {PG_URL} is not usable: {exc!r}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    url = PG_URL.rsplit("/", 1)[0] + "/" + name

    async def migrate() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    yield url
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_all(url: str) -> None:
    import asyncpg

    from espace_sante.storage.schema import Base

    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    conn = await asyncpg.connect(_asyncpg_dsn(url, url.rsplit("/", 1)[1]), timeout=5)
    try:
        await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """One development CA for the whole run (making keys is the slow part)."""
    if "pki" not in _PKI_CACHE:
        root = tmp_path_factory.mktemp("pki")
        settings = Settings(data_dir=root)
        _PKI_CACHE["pki"], _ = ensure_dev_pki(root / "pki", default_hostnames(settings))
    return _PKI_CACHE["pki"]


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest, pki: DevPki) -> Settings:
    """Settings of an initialised data directory (master key, PKI, migrated schema)."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    database_url = ""
    if backend == "postgresql":
        database_url = request.getfixturevalue("pg_database")
        asyncio.run(_truncate_all(database_url))
    base = load_settings(path=None, environ={})
    s = replace(base, data_dir=data_dir, database_url=database_url)
    s = replace(
        s,
        smtp=replace(
            s.smtp, inbound_port=0, cert_file=str(pki.server_cert), key_file=str(pki.server_key)
        ),
    )
    create_master_key(s.master_key_file)
    if backend == "sqlite":

        async def migrate() -> None:
            engine = create_engine(s)
            try:
                await upgrade(engine)
            finally:
                await engine.dispose()

        asyncio.run(migrate())
    return s


@pytest.fixture
async def storage(settings: Settings) -> AsyncIterator[Storage]:
    st = Storage.open(settings)
    try:
        yield st
    finally:
        await st.close()


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def seeded(storage: Storage) -> Seeded:
    """The trust space of ``fixtures.seed``: domains, professionals, patients in every state."""
    return await seed_trust_space(storage)
