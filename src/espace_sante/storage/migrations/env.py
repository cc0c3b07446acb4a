"""Alembic environment: runs on the connection handed over by ``espace_sante.storage.migrate``."""

from alembic import context

from espace_sante.storage.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - we only run migrations programmatically
    raise RuntimeError("run migrations with `espace-sante init`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
