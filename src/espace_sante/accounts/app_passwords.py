"""App passwords: one secret per mail client (IMAP, SMTP submission), hashed with argon2id,
shown once at creation, revocable one by one.

A secret is 16 letters from an alphabet without look-alikes, grouped by four
(``abcd-efgh-jkmn-pqrs``): 80 bits, easy to type on a phone. Clients may send it with or without
the dashes and in any case. An account has at most :data:`MAX_PER_ACCOUNT` live passwords, so
checking a login costs at most that many argon2 verifications, done in one job of the bounded
pool of ``accounts.password_checks`` (which may refuse it with ``Busy``).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante import audit
from espace_sante.accounts import password_checks
from espace_sante.storage.schema import Account, AppPassword

ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no i, l, o, 0, 1
SECRET_LETTERS = 16
MAX_PER_ACCOUNT = 20
MAX_LABEL = 100

_hasher = PasswordHasher()


class AppPasswordError(ValueError):
    """The request cannot be honoured (unknown account, too many passwords, bad label)."""


@dataclass(frozen=True)
class AppPasswordInfo:
    id: int
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def new_secret() -> str:
    """A fresh secret, grouped by four letters."""
    letters = "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LETTERS))
    return "-".join(letters[i : i + 4] for i in range(0, SECRET_LETTERS, 4))


def normalise_secret(text: str) -> str:
    """What the user typed, as it was hashed: dashes and spaces dropped, lower case."""
    return "".join(ch for ch in text.lower() if ch not in "- ")


async def account_by_address(session: AsyncSession, address: str) -> Account | None:
    query = select(Account).where(Account.address == address.strip().lower())
    return (await session.execute(query)).scalar_one_or_none()


async def add_app_password(
    session: AsyncSession, address: str, label: str, *, actor: str = "operator"
) -> tuple[AppPasswordInfo, str]:
    """Create an app password for ``address``; returns it and its secret (shown only now)."""
    label = " ".join(label.split())
    if not label or len(label) > MAX_LABEL or not label.isprintable():
        raise AppPasswordError(f"label: 1 to {MAX_LABEL} printable characters")
    account = await account_by_address(session, address)
    if account is None:
        raise AppPasswordError(f"no account with the address {address}")
    live = await _live(session, account.id)
    if len(live) >= MAX_PER_ACCOUNT:
        raise AppPasswordError(
            f"{address} already has {MAX_PER_ACCOUNT} app passwords: revoke one first"
        )
    secret = new_secret()
    digest = await asyncio.to_thread(_hasher.hash, normalise_secret(secret))
    now = datetime.now(UTC)
    row = AppPassword(account_id=account.id, label=label, password_hash=digest, created_at=now)
    session.add(row)
    await session.flush()
    await audit.append(
        session,
        account_id=account.id,
        actor=actor,
        action="app_password.created",
        detail={"id": row.id, "label": label},
        at=now,
    )
    return _info(row), secret


async def list_app_passwords(session: AsyncSession, address: str) -> list[AppPasswordInfo]:
    """Every app password of ``address``, revoked ones included, oldest first."""
    account = await account_by_address(session, address)
    if account is None:
        raise AppPasswordError(f"no account with the address {address}")
    query = select(AppPassword).where(AppPassword.account_id == account.id).order_by(AppPassword.id)
    return [_info(row) for row in (await session.execute(query)).scalars()]


async def revoke_app_password(
    session: AsyncSession, address: str, password_id: int, *, actor: str = "operator"
) -> bool:
    """Revoke one app password; False if it was already revoked."""
    account = await account_by_address(session, address)
    if account is None:
        raise AppPasswordError(f"no account with the address {address}")
    row = await session.get(AppPassword, password_id, with_for_update=True)
    if row is None or row.account_id != account.id:  # another account's id is "not found" too
        raise AppPasswordError(f"{address} has no app password {password_id}")
    if row.revoked_at is not None:
        return False
    row.revoked_at = datetime.now(UTC)
    await audit.append(
        session,
        account_id=account.id,
        actor=actor,
        action="app_password.revoked",
        detail={"id": row.id, "label": row.label},
        at=row.revoked_at,
    )
    return True


async def check_app_password(session: AsyncSession, account_id: int, secret: str) -> int | None:
    """The id of the live app password of ``account_id`` that ``secret`` matches, or None.

    Marks it used. Throttling is the caller's business (``accounts.throttle``).
    """
    matched = await verify_app_password(session, account_id, secret)
    if matched is not None:
        await mark_used(session, matched)
    return matched


async def verify_app_password(session: AsyncSession, account_id: int, secret: str) -> int | None:
    """Like :func:`check_app_password` but writes nothing: servers verify in a read session, so
    the slow argon2 check never holds the database's write lock, then record the outcome in a
    short write transaction (:func:`mark_used`, ``accounts.throttle``)."""
    candidate = normalise_secret(secret)
    if len(candidate) != SECRET_LETTERS:
        return None
    live = [(row.id, row.password_hash) for row in await _live(session, account_id)]
    if not live:
        return None
    # one job of the bounded pool per attempt, however many passwords it tries
    return await password_checks.run(lambda: _first_match(live, candidate))


async def mark_used(session: AsyncSession, password_id: int, at: datetime | None = None) -> None:
    """Record that an app password was just used (shown by ``app-password list``)."""
    row = await session.get(AppPassword, password_id)
    if row is not None:
        row.last_used_at = at or datetime.now(UTC)


def _first_match(live: list[tuple[int, str]], candidate: str) -> int | None:
    for password_id, digest in live:
        if _verify(digest, candidate):
            return password_id
    return None


def _verify(digest: str, candidate: str) -> bool:
    try:
        return _hasher.verify(digest, candidate)
    except (VerificationError, InvalidHashError):
        return False


async def _live(session: AsyncSession, account_id: int) -> list[AppPassword]:
    query = select(AppPassword).where(
        AppPassword.account_id == account_id, AppPassword.revoked_at.is_(None)
    )
    return list((await session.execute(query)).scalars())


def _info(row: AppPassword) -> AppPasswordInfo:
    return AppPasswordInfo(row.id, row.label, row.created_at, row.last_used_at, row.revoked_at)
