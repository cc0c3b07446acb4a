"""What the IMAP sessions read and change in the mailbox store, always within one account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from espace_sante.mailbox.imapmeta import MessageMeta, from_json
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Folder, Message


@dataclass(frozen=True)
class FolderInfo:
    id: int
    name: str
    special_use: str | None
    uidvalidity: int
    uidnext: int
    highest_modseq: int


@dataclass
class MessageRow:
    id: int
    uid: int
    flags: list[str]
    modseq: int
    internal_date: datetime
    size: int
    blob_id: str
    meta_json: str

    _meta: MessageMeta | None = None

    @property
    def meta(self) -> MessageMeta:
        if self._meta is None:
            self._meta = from_json(self.meta_json)
        return self._meta


class AccountMailStore:
    """One account's folders and messages; every query is filtered by its account id."""

    def __init__(self, storage: Storage, account_id: int) -> None:
        self.storage = storage
        self.account_id = account_id

    async def folders(self) -> list[FolderInfo]:
        async with self.storage.sessions() as s:
            rows = (
                await s.execute(
                    select(Folder).where(Folder.account_id == self.account_id).order_by(Folder.name)
                )
            ).scalars()
            return [_folder(f) for f in rows]

    async def folder(self, name: str) -> FolderInfo | None:
        if name.upper() == "INBOX":
            name = "INBOX"
        async with self.storage.sessions() as s:
            row = (
                await s.execute(
                    select(Folder).where(Folder.account_id == self.account_id, Folder.name == name)
                )
            ).scalar_one_or_none()
            return _folder(row) if row is not None else None

    async def messages(self, folder_id: int, after_uid: int = 0) -> list[MessageRow]:
        """The folder's messages with a UID above ``after_uid``, in UID order."""
        async with self.storage.sessions() as s:
            rows = (
                await s.execute(
                    select(Message)
                    .where(
                        Message.account_id == self.account_id,
                        Message.folder_id == folder_id,
                        Message.uid > after_uid,
                    )
                    .order_by(Message.uid)
                )
            ).scalars()
            return [
                MessageRow(
                    m.id,
                    m.uid,
                    m.flags.split(),
                    m.modseq,
                    m.internal_date,
                    m.size,
                    m.blob_id,
                    m.meta,
                )
                for m in rows
            ]

    async def raw(self, row: MessageRow) -> bytes:
        """The stored message, decrypted."""
        async with self.storage.sessions() as s:
            cipher = await self.storage.cipher_for(s, self.account_id)
        return await self.storage.blobs.get(self.account_id, cipher, row.blob_id)

    async def add_flags(self, folder_id: int, rows: list[MessageRow], flags: list[str]) -> None:
        """Add ``flags`` to the messages that lack them, each change with a new modseq."""
        async with transaction(self.storage.sessions) as s:
            folder = (
                await s.execute(
                    select(Folder)
                    .where(Folder.id == folder_id, Folder.account_id == self.account_id)
                    .with_for_update()
                )
            ).scalar_one()
            for row in rows:
                missing = [f for f in flags if f not in row.flags]
                if not missing:
                    continue
                folder.highest_modseq += 1
                row.flags = row.flags + missing
                row.modseq = folder.highest_modseq
                await s.execute(
                    update(Message)
                    .where(Message.id == row.id, Message.account_id == self.account_id)
                    .values(flags=" ".join(row.flags), modseq=row.modseq)
                )


def _folder(f: Folder) -> FolderInfo:
    return FolderInfo(f.id, f.name, f.special_use, f.uidvalidity, f.uidnext, f.highest_modseq)
