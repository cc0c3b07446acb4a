"""The storage handles a running process needs, opened together from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from espace_sante.config import Settings
from espace_sante.storage.blobs import BlobStore
from espace_sante.storage.crypto import Keyring, load_master_key
from espace_sante.storage.engine import create_engine, dispose_sync_writer, session_factory
from espace_sante.storage.schema import Account


@dataclass
class Storage:
    """Engine, sessions, keyring and blob store of one process."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    keyring: Keyring
    blobs: BlobStore

    @classmethod
    def open(cls, settings: Settings) -> Storage:
        engine = create_engine(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            keyring=Keyring(load_master_key(settings.master_key_file)),
            blobs=BlobStore(settings.blob_dir),
        )

    async def cipher_for(self, session: AsyncSession, account_id: int) -> AESGCM:
        """The account's data-key cipher (the wrapped key is read once, then cached)."""
        wrapped = (
            await session.execute(select(Account.wrapped_key).where(Account.id == account_id))
        ).scalar_one()
        return self.keyring.cipher(account_id, wrapped)

    async def close(self) -> None:
        dispose_sync_writer(self.engine)
        await self.engine.dispose()
