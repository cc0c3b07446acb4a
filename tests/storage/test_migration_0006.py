"""Migration 0006 on a database that already holds documents: the three visibility booleans
become the ``visibility`` codes, categories and ``updated_at`` are filled; and back again."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from espace_sante.storage.engine import create_engine
from espace_sante.storage.migrate import alembic_config

PG_URL = os.environ.get(
    "ESPACE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(
        PG_URL.replace("postgresql+asyncpg://", "postgresql://"), timeout=5
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def empty_engine(backend: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if backend == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
        yield engine
        await engine.dispose()
        return
    name = f"espace_mig_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        await _pg_admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not usable: {exc!r}")
        pytest.skip(f"PostgreSQL not usable: {exc!r}")
    engine = create_engine(PG_URL.rsplit("/", 1)[0] + "/" + name)
    try:
        yield engine
    finally:
        await engine.dispose()
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _alembic(engine: AsyncEngine, step: Any, revision: str) -> None:
    def run(sync_conn: Any) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        step(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


_DOCS = [
    # title, class, type, hidden_from_patient, hidden_from_legal_representatives, masked
    ("plain", "10", "11488-4", False, False, False),
    ("hidden", "11", "60591-5", True, False, False),
    ("all three", "42", None, True, True, True),
    ("minor's", None, "11369-6", False, True, False),
]


async def test_upgrade_carries_booleans_into_visibility(empty_engine: AsyncEngine) -> None:
    engine = empty_engine
    await _alembic(engine, command.upgrade, "0005")
    at = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO accounts (id, kind, address, display_name, status, wrapped_key, "
                "created_at, status_changed_at) VALUES (1, 'patient', 'p@x.fr', '', 'active', "
                ":key, :at, :at)"
            ),
            {"key": b"k", "at": at},
        )
        await conn.execute(
            text(
                "INSERT INTO blobs (id, account_id, size, sha256, created_at) "
                "VALUES ('b1', 1, 1, 'h', :at)"
            ),
            {"at": at},
        )
        for i, (title, cls, typ, hp, hl, mp) in enumerate(_DOCS, start=1):
            await conn.execute(
                text(
                    "INSERT INTO documents (id, account_id, blob_id, source, title, mime_type, "
                    "size, sha1, class_code, type_code, metadata_json, hidden_from_patient, "
                    "hidden_from_legal_representatives, masked_from_professionals, "
                    "deposited_by, deposited_at) VALUES (:id, 1, 'b1', 'xdm', :title, "
                    "'application/pdf', 1, 's', :cls, :typ, '{}', :hp, :hl, :mp, 'x', :at)"
                ),
                {
                    "id": i,
                    "title": title,
                    "cls": cls,
                    "typ": typ,
                    "hp": hp,
                    "hl": hl,
                    "mp": mp,
                    "at": at,
                },
            )
    await _alembic(engine, command.upgrade, "head")
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT title, visibility, category, status, archived, updated_at, "
                    "replaces_id FROM documents ORDER BY id"
                )
            )
        ).all()
    assert [(r[0], r[1], r[2], r[3], bool(r[4]), r[6]) for r in rows] == [
        ("plain", "", "comptes_rendus", "approved", False, None),
        ("hidden", "INVISIBLE_PATIENT", "synthese", "approved", False, None),
        (
            "all three",
            "INVISIBLE_PATIENT INVISIBLE_REPRESENTANTS_LEGAUX MASQUE_PS",
            "ordonnances",
            "approved",
            False,
            None,
        ),
        ("minor's", "INVISIBLE_REPRESENTANTS_LEGAUX", "vaccination", "approved", False, None),
    ]
    assert all(r[5] is not None for r in rows)
    await _alembic(engine, command.downgrade, "0005")
    async with engine.connect() as conn:
        back = (
            await conn.execute(
                text(
                    "SELECT hidden_from_patient, hidden_from_legal_representatives, "
                    "masked_from_professionals FROM documents ORDER BY id"
                )
            )
        ).all()
    assert [tuple(bool(v) for v in r) for r in back] == [d[3:] for d in _DOCS]
