"""The ORM models and the migrations describe the same schema (on SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Base


async def test_models_match_migrated_schema(storage: Storage) -> None:
    def diff(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": False})
        return list(compare_metadata(context, Base.metadata))

    async with storage.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []
