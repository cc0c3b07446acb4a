"""The migrations build exactly the schema the ORM models describe (nothing forgotten in either)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Base


async def test_migrated_schema_equals_the_models(storage: Storage) -> None:
    def diff(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with storage.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []
