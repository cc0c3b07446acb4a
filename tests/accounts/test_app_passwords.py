"""App passwords: created, shown once, checked, revoked; and failed logins locking an account."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from espace_sante import audit
from espace_sante.accounts import throttle
from espace_sante.accounts.app_passwords import (
    MAX_PER_ACCOUNT,
    AppPasswordError,
    add_app_password,
    check_app_password,
    list_app_passwords,
    revoke_app_password,
)
from espace_sante.policy import login
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AppPassword, AuditEntry
from fixtures.seed import Seeded


async def _add(storage: Storage, address: str, label: str = "Thunderbird") -> tuple[int, str]:
    async with transaction(storage.sessions) as s:
        info, secret = await add_app_password(s, address, label)
    return info.id, secret


async def _check(storage: Storage, account_id: int, secret: str) -> int | None:
    async with transaction(storage.sessions) as s:
        return await check_app_password(s, account_id, secret)


async def test_a_new_password_is_shown_once_stored_hashed_and_accepted(
    storage: Storage, seeded: Seeded
) -> None:
    pid, secret = await _add(
        storage, seeded.active.address.upper()
    )  # addresses are matched as typed
    assert re.fullmatch(r"([a-z2-9]{4}-){3}[a-z2-9]{4}", secret)
    async with storage.sessions() as s:
        row = (await s.execute(select(AppPassword).where(AppPassword.id == pid))).scalar_one()
    assert row.password_hash.startswith("$argon2id$") and secret not in row.password_hash
    account = seeded.active.account_id
    assert await _check(storage, account, secret) == pid
    # typed without dashes, in capitals, with spaces: still the same secret
    assert await _check(storage, account, secret.replace("-", " ").upper()) == pid
    assert await _check(storage, account, secret[:-1] + ("a" if secret[-1] != "a" else "b")) is None
    assert await _check(storage, account, "") is None
    assert await _check(storage, account, "x" * 10_000) is None
    # someone else's account does not accept it
    assert await _check(storage, seeded.other.account_id, secret) is None
    async with storage.sessions() as s:
        (info,) = await list_app_passwords(s, seeded.active.address)
    assert info.label == "Thunderbird" and info.last_used_at is not None


async def test_revoking_one_password_keeps_the_others(storage: Storage, seeded: Seeded) -> None:
    first, secret1 = await _add(storage, seeded.active.address, "phone")
    second, secret2 = await _add(storage, seeded.active.address, "laptop")
    async with transaction(storage.sessions) as s:
        assert await revoke_app_password(s, seeded.active.address, first) is True
    async with transaction(storage.sessions) as s:
        assert await revoke_app_password(s, seeded.active.address, first) is False
    assert await _check(storage, seeded.active.account_id, secret1) is None
    assert await _check(storage, seeded.active.account_id, secret2) == second
    # an id of another account's password is not revocable through this account
    other, _ = await _add(storage, seeded.other.address)
    with pytest.raises(AppPasswordError):
        async with transaction(storage.sessions) as s:
            await revoke_app_password(s, seeded.active.address, other)
    async with storage.sessions() as s:
        actions = (
            await s.execute(
                select(AuditEntry.action).where(
                    AuditEntry.account_id == seeded.active.account_id,
                    AuditEntry.action.like("app_password.%"),
                )
            )
        ).scalars()
        assert sorted(actions) == [
            "app_password.created",
            "app_password.created",
            "app_password.revoked",
        ]


@pytest.mark.parametrize("label", ["", "   ", "x" * 101, "nul\x00byte", "\x1b[31mred"])
async def test_bad_labels_are_refused(storage: Storage, seeded: Seeded, label: str) -> None:
    with pytest.raises(AppPasswordError, match="label"):
        await _add(storage, seeded.active.address, label)


async def test_whitespace_in_labels_is_collapsed(storage: Storage, seeded: Seeded) -> None:
    await _add(storage, seeded.active.address, "  my\tnew\n phone ")
    async with storage.sessions() as s:
        (info,) = await list_app_passwords(s, seeded.active.address)
    assert info.label == "my new phone"


async def test_unknown_account_and_the_per_account_limit(storage: Storage, seeded: Seeded) -> None:
    with pytest.raises(AppPasswordError, match="no account"):
        await _add(storage, "nobody@patient.mssante.fr")
    for _ in range(MAX_PER_ACCOUNT):
        await _add(storage, seeded.other.address)
    with pytest.raises(AppPasswordError, match="revoke one first"):
        await _add(storage, seeded.other.address)


async def test_failures_lock_the_account_and_are_audited(storage: Storage, seeded: Seeded) -> None:
    account = seeded.active.account_id
    now = datetime.now(UTC)
    for i in range(login.FAILURES_BEFORE_LOCK):
        async with transaction(storage.sessions) as s:
            state = await throttle.record_failure(
                s, account, service="imap", remote="127.0.0.1", now=now + timedelta(seconds=i)
            )
    assert state.locked_until is not None
    async with storage.sessions() as s:
        assert await throttle.is_locked(s, account, now + timedelta(minutes=1))
        assert not await throttle.is_locked(s, account, now + login.LOCK + timedelta(minutes=1))
        actions = list(
            (
                await s.execute(
                    select(AuditEntry.action).where(
                        AuditEntry.account_id == account, AuditEntry.action.like("login.%")
                    )
                )
            ).scalars()
        )
        assert actions.count("login.failed") == login.FAILURES_BEFORE_LOCK
        assert actions.count("login.locked") == 1
        assert await audit.verify(s, account_id=account) == []
    async with transaction(storage.sessions) as s:
        await throttle.record_success(s, account)
    async with storage.sessions() as s:
        assert not await throttle.is_locked(s, account, now + timedelta(minutes=1))
