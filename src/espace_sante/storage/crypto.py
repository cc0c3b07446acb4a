"""Encryption at rest: a master key outside the database wraps one data key per account.

The master key is 32 random bytes in a file readable by the service only. Each account's 256-bit
data key is wrapped with AES-GCM under the master key (the account id is the associated data, so a
wrapped key cannot be moved to another account). Blobs are sealed with AES-GCM under the data key,
with the blob id as associated data.
"""

from __future__ import annotations

import os
import secrets
from collections import OrderedDict
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_SIZE = 32
NONCE_SIZE = 12
_WRAP_VERSION = b"\x01"


class KeyError_(Exception):
    """A key is missing, corrupt, or does not belong where it is used."""


def create_master_key(path: Path) -> bool:
    """Create the master key file if absent (mode 0600). Returns True when created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(KEY_SIZE))
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def load_master_key(path: Path) -> bytes:
    try:
        key = path.read_bytes()
    except FileNotFoundError as exc:
        raise KeyError_(f"master key not found at {path}: run `espace-sante init`") from exc
    if len(key) != KEY_SIZE:
        raise KeyError_(f"master key at {path} is {len(key)} bytes, expected {KEY_SIZE}")
    return key


class Keyring:
    """Wraps and unwraps account data keys; keeps a small cache of unwrapped keys."""

    def __init__(self, master_key: bytes, cache_size: int = 4096) -> None:
        self._master = AESGCM(master_key)
        self._cache: OrderedDict[int, AESGCM] = OrderedDict()
        self._cache_size = cache_size

    def new_wrapped_key(self, account_id: int) -> bytes:
        """A fresh data key for ``account_id``, wrapped for storage in the accounts table."""
        nonce = secrets.token_bytes(NONCE_SIZE)
        sealed = self._master.encrypt(nonce, secrets.token_bytes(KEY_SIZE), _aad(account_id))
        return _WRAP_VERSION + nonce + sealed

    def cached(self, account_id: int) -> AESGCM | None:
        """The account's cipher if it is already unwrapped, else None."""
        cipher = self._cache.get(account_id)
        if cipher is not None:
            self._cache.move_to_end(account_id)
        return cipher

    def cipher(self, account_id: int, wrapped: bytes) -> AESGCM:
        """The account's data-key cipher, unwrapping (and caching) it."""
        cached = self._cache.get(account_id)
        if cached is not None:
            self._cache.move_to_end(account_id)
            return cached
        if not wrapped.startswith(_WRAP_VERSION) or len(wrapped) < 1 + NONCE_SIZE + KEY_SIZE:
            raise KeyError_(f"account {account_id}: wrapped key has an unknown format")
        nonce, sealed = wrapped[1 : 1 + NONCE_SIZE], wrapped[1 + NONCE_SIZE :]
        try:
            key = self._master.decrypt(nonce, sealed, _aad(account_id))
        except Exception as exc:  # cryptography raises InvalidTag
            raise KeyError_(f"account {account_id}: data key does not unwrap") from exc
        cipher = AESGCM(key)
        self._cache[account_id] = cipher
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return cipher


def _aad(account_id: int) -> bytes:
    return f"espace-sante/account/{account_id}".encode()
