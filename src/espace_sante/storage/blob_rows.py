"""Blobs and their rows together, for writers outside the delivery's hot path.

:func:`store_blob` writes the encrypted file (fsync'd) and its ``blobs`` row in the caller's
transaction; if that transaction rolls back, the file is removed. :func:`delete_blob` deletes the
row now and the file once the transaction has committed (a rollback keeps both).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from espace_sante.storage.blobs import StoredBlob
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Blob

_KEY = "storage.blob_rows"


async def store_blob(
    session: AsyncSession, storage: Storage, account_id: int, data: bytes
) -> StoredBlob:
    """Encrypt and write ``data`` for ``account_id`` and add its row (flushed)."""
    cipher = await storage.cipher_for(session, account_id)
    blob = await storage.blobs.put(account_id, cipher, data)
    _pending(session.sync_session, storage)["written"].append((account_id, blob.id))
    session.add(
        Blob(
            id=blob.id,
            account_id=account_id,
            size=blob.size,
            sha256=blob.sha256,
            created_at=datetime.now(UTC),
        )
    )
    await session.flush()
    return blob


async def delete_blob(
    session: AsyncSession, storage: Storage, account_id: int, blob_id: str
) -> None:
    """Delete the blob's row now and its file after the commit. Rows referencing it must be
    deleted (and flushed) first."""
    await session.execute(delete(Blob).where(Blob.id == blob_id, Blob.account_id == account_id))
    _pending(session.sync_session, storage)["deleted"].append((account_id, blob_id))


def _pending(session: Session, storage: Storage) -> dict[str, Any]:
    state = session.info.get(_KEY)
    if state is None:
        state = session.info[_KEY] = {"written": [], "deleted": [], "storage": storage}
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_rollback", _after_rollback)
    return state


def _after_commit(session: Session) -> None:
    state = session.info.get(_KEY)
    if state is None:
        return
    for account_id, blob_id in state["deleted"]:
        with contextlib.suppress(OSError):
            state["storage"].blobs.delete_sync(account_id, blob_id)
    state["written"].clear()
    state["deleted"].clear()


def _after_rollback(session: Session) -> None:
    state = session.info.get(_KEY)
    if state is None:
        return
    for account_id, blob_id in state["written"]:
        with contextlib.suppress(OSError):
            state["storage"].blobs.delete_sync(account_id, blob_id)
    state["written"].clear()
    state["deleted"].clear()
