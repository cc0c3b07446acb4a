"""Encryption at rest: wrapped per-account keys and sealed, fsync'd blobs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from espace_sante.storage.blobs import BlobError, BlobStore
from espace_sante.storage.crypto import KeyError_, Keyring, create_master_key, load_master_key


def test_master_key_is_created_once_with_private_permissions(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    assert create_master_key(path) is True
    first = path.read_bytes()
    assert create_master_key(path) is False
    assert path.read_bytes() == first and len(first) == 32
    assert (os.stat(path).st_mode & 0o777) == 0o600
    assert load_master_key(path) == first


def test_missing_or_short_master_key_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError_, match="espace-sante init"):
        load_master_key(tmp_path / "none")
    short = tmp_path / "short"
    short.write_bytes(b"123")
    with pytest.raises(KeyError_, match="3 bytes"):
        load_master_key(short)


def test_wrapped_key_only_unwraps_for_its_account_and_master(tmp_path: Path) -> None:
    master = os.urandom(32)
    wrapped = Keyring(master).new_wrapped_key(7)
    sealed = Keyring(master).cipher(7, wrapped).encrypt(b"\0" * 12, b"x", None)
    assert Keyring(master).cipher(7, wrapped).decrypt(b"\0" * 12, sealed, None) == b"x"
    with pytest.raises(KeyError_):
        Keyring(master).cipher(8, wrapped)  # a wrapped key moved to another account
    with pytest.raises(KeyError_):
        Keyring(os.urandom(32)).cipher(7, wrapped)
    with pytest.raises(KeyError_):
        Keyring(os.urandom(32)).cipher(7, b"garbage")


def test_blob_roundtrip_and_tamper_detection(tmp_path: Path) -> None:
    ring = Keyring(os.urandom(32))
    cipher = ring.cipher(1, ring.new_wrapped_key(1))
    store = BlobStore(tmp_path)
    data = b"Compte rendu confidentiel " * 1000
    blob = store.put_sync(1, cipher, data)
    assert blob.size == len(data)
    on_disk = store.path_for(1, blob.id).read_bytes()
    assert b"confidentiel" not in on_disk
    assert store.get_sync(1, cipher, blob.id) == data
    # no temporary file is left behind
    assert [p.name for p in store.path_for(1, blob.id).parent.iterdir()] == [blob.id]
    tampered = bytearray(on_disk)
    tampered[-1] ^= 1
    store.path_for(1, blob.id).write_bytes(bytes(tampered))
    with pytest.raises(BlobError, match="does not decrypt"):
        store.get_sync(1, cipher, blob.id)
    other = ring.cipher(2, ring.new_wrapped_key(2))
    blob2 = store.put_sync(1, cipher, b"x")
    with pytest.raises(BlobError):
        store.get_sync(1, other, blob2.id)
    with pytest.raises(BlobError, match="missing"):
        store.get_sync(1, cipher, "0" * 32)
