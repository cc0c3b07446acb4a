"""The blob store: encrypted files under the data directory, one directory per account.

A blob is written to a temporary file, fsync'd, renamed into place and its directory fsync'd
before ``put`` returns, so a row that references it may be committed safely afterwards. A crash
between the two leaves at most an orphan file, never a row without its bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from espace_sante.storage.crypto import NONCE_SIZE

_MAGIC = b"ESB1"


class BlobError(Exception):
    """A blob is missing or does not decrypt (tampered with, or under the wrong key)."""


@dataclass(frozen=True)
class StoredBlob:
    id: str
    size: int
    sha256: str


class BlobStore:
    """Encrypted, fsync'd files keyed by (account id, blob id)."""

    def __init__(self, root: Path, fsync: bool = True) -> None:
        self.root = root
        self._fsync = fsync

    def path_for(self, account_id: int, blob_id: str) -> Path:
        return self.root / str(account_id) / blob_id[:2] / blob_id

    def put_sync(self, account_id: int, cipher: AESGCM, data: bytes) -> StoredBlob:
        """Seal and durably write ``data``; returns its id, plaintext size and SHA-256."""
        blob_id = secrets.token_hex(16)
        path = self.path_for(account_id, blob_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        nonce = secrets.token_bytes(NONCE_SIZE)
        sealed = _MAGIC + nonce + cipher.encrypt(nonce, data, blob_id.encode())
        tmp = path.with_name(f".{blob_id}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(sealed)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        if self._fsync:
            _fsync_dir(path.parent)
        return StoredBlob(blob_id, len(data), hashlib.sha256(data).hexdigest())

    def get_sync(self, account_id: int, cipher: AESGCM, blob_id: str) -> bytes:
        path = self.path_for(account_id, blob_id)
        try:
            sealed = path.read_bytes()
        except FileNotFoundError as exc:
            raise BlobError(f"blob {blob_id} of account {account_id} is missing") from exc
        if not sealed.startswith(_MAGIC):
            raise BlobError(f"blob {blob_id}: unknown format")
        nonce = sealed[len(_MAGIC) : len(_MAGIC) + NONCE_SIZE]
        try:
            return cipher.decrypt(nonce, sealed[len(_MAGIC) + NONCE_SIZE :], blob_id.encode())
        except Exception as exc:
            raise BlobError(f"blob {blob_id} of account {account_id} does not decrypt") from exc

    def delete_sync(self, account_id: int, blob_id: str) -> None:
        self.path_for(account_id, blob_id).unlink(missing_ok=True)

    async def put(self, account_id: int, cipher: AESGCM, data: bytes) -> StoredBlob:
        return await asyncio.to_thread(self.put_sync, account_id, cipher, data)

    async def get(self, account_id: int, cipher: AESGCM, blob_id: str) -> bytes:
        return await asyncio.to_thread(self.get_sync, account_id, cipher, blob_id)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
