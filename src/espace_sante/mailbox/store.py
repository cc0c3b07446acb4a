"""The message store: folders with UIDVALIDITY, UIDs, flags and modseq.

Appending takes the folder row's lock, so UIDs and modseqs are handed out in order, never twice,
whatever the number of processes delivering at the same time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from espace_sante.storage.schema import Folder, Message

#: The folders every account has, with their RFC 6154 special-use attribute.
DEFAULT_FOLDERS: tuple[tuple[str, str | None], ...] = (
    ("INBOX", None),
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Archive", "\\Archive"),
)


@dataclass(frozen=True)
class StoredMessage:
    row_id: int
    folder_id: int
    uid: int
    modseq: int


async def ensure_default_folders(session: AsyncSession, account_id: int) -> dict[str, Folder]:
    """Create the missing default folders of an account; returns them by name."""
    return await session.run_sync(ensure_default_folders_sync, account_id)


def ensure_default_folders_sync(session: Session, account_id: int) -> dict[str, Folder]:
    """:func:`ensure_default_folders` for a synchronous session."""
    existing = {
        f.name: f
        for f in session.execute(select(Folder).where(Folder.account_id == account_id)).scalars()
    }
    uidvalidity = int(time.time())
    for name, special_use in DEFAULT_FOLDERS:
        if name not in existing:
            folder = Folder(
                account_id=account_id,
                name=name,
                special_use=special_use,
                uidvalidity=uidvalidity,
                uidnext=1,
                highest_modseq=1,
                subscribed=True,
            )
            session.add(folder)
            existing[name] = folder
    session.flush()
    return existing


async def append_message(session: AsyncSession, **fields: Any) -> StoredMessage:
    """Add a message to a folder inside the caller's transaction, taking the next UID and modseq
    (the arguments of :func:`append_message_sync`)."""
    return await session.run_sync(lambda sync: append_message_sync(sync, **fields))


def append_message_sync(
    session: Session,
    *,
    account_id: int,
    folder_name: str,
    blob_id: str,
    size: int,
    meta_json: str,
    internal_date: datetime,
    flags: str = "",
    message_id_header: str | None = None,
    sender: str = "",
    subject: str = "",
    sent_date: datetime | None = None,
    mss_ins: str | None = None,
    mss_codecda: str | None = None,
) -> StoredMessage:
    """Add a message to a folder inside the caller's transaction, taking the next UID and modseq."""
    folder = session.execute(
        select(Folder)
        .where(Folder.account_id == account_id, Folder.name == folder_name)
        .with_for_update()
    ).scalar()
    if folder is None:
        folders = ensure_default_folders_sync(session, account_id)
        if folder_name not in folders:
            raise LookupError(f"account {account_id} has no folder {folder_name!r}")
        folder = folders[folder_name]
    uid = folder.uidnext
    modseq = folder.highest_modseq + 1
    # SQLite keeps no time zone: store instants in UTC everywhere
    internal_date = _utc(internal_date)
    sent_date = _utc(sent_date) if sent_date is not None else None
    folder.uidnext = uid + 1
    folder.highest_modseq = modseq
    message = Message(
        account_id=account_id,
        folder_id=folder.id,
        uid=uid,
        modseq=modseq,
        flags=flags,
        internal_date=internal_date,
        size=size,
        blob_id=blob_id,
        meta=meta_json,
        message_id_header=message_id_header,
        sender=sender,
        subject=subject[:2000],
        sent_date=sent_date,
        mss_ins=mss_ins,
        mss_codecda=mss_codecda,
    )
    session.add(message)
    session.flush()
    return StoredMessage(message.id, folder.id, uid, modseq)


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC) if at.tzinfo is not None else at
