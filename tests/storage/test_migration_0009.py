"""Migration 0009 on a database that already holds mail: the folders' first \\Recent UID starts
after their messages (no old message becomes \\Recent), blobs get their orphaned_at; and back."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from .test_migration_0006 import _alembic, empty_engine  # noqa: F401 (the fixture)


async def test_upgrade_keeps_existing_messages_old(empty_engine: AsyncEngine) -> None:  # noqa: F811
    engine = empty_engine
    await _alembic(engine, command.upgrade, "0008")
    at = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    async with engine.begin() as conn:
        for sql in (
            "INSERT INTO accounts (id, kind, address, display_name, status, wrapped_key, "
            "created_at, status_changed_at) VALUES (1, 'patient', 'p@x.fr', '', 'active', "
            ":key, :at, :at)",
            "INSERT INTO blobs (id, account_id, size, sha256, created_at) "
            "VALUES ('b1', 1, 1, 'h', :at)",
            "INSERT INTO folders (id, account_id, name, uidvalidity, uidnext, highest_modseq, "
            "subscribed) VALUES (1, 1, 'INBOX', 1, 5, 7, true), (2, 1, 'Trash', 1, 1, 1, true)",
            "INSERT INTO messages (account_id, folder_id, uid, modseq, flags, internal_date, "
            "size, blob_id, meta, sender, subject) VALUES (1, 1, 4, 7, '', :at, 1, 'b1', '{}', "
            "'', '')",
        ):
            await conn.execute(text(sql), {"key": b"k", "at": at})
    await _alembic(engine, command.upgrade, "head")
    async with engine.connect() as conn:
        folders = (
            await conn.execute(text("SELECT name, first_recent_uid FROM folders ORDER BY id"))
        ).all()
        blobs = (await conn.execute(text("SELECT id, orphaned_at FROM blobs"))).all()
    assert [tuple(r) for r in folders] == [("INBOX", 5), ("Trash", 1)]
    assert [tuple(r) for r in blobs] == [("b1", None)]
    async with engine.begin() as conn:  # a new folder gets the default: everything recent
        await conn.execute(
            text(
                "INSERT INTO folders (id, account_id, name, uidvalidity, uidnext, "
                "highest_modseq, subscribed) VALUES (3, 1, 'New', 2, 1, 1, true)"
            )
        )
        assert (
            await conn.execute(text("SELECT first_recent_uid FROM folders WHERE id = 3"))
        ).scalar_one() == 1
    await _alembic(engine, command.downgrade, "0008")
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM messages"))).scalar_one() == 1
        columns = (await conn.execute(text("SELECT * FROM folders"))).keys()
    assert "first_recent_uid" not in columns
