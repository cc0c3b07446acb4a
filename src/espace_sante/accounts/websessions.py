"""Server-side web sessions.

The browser holds a random 256-bit id in a cookie; the database keeps only its SHA-256, so a
leaked database row cannot be replayed as a cookie. A session has a stage — ``activation`` (the
provisional code was right, the password is not set yet), ``code`` (the password was right, the
one-time code is awaited) or ``authenticated`` — and ends on logout, after ``idle`` without a
request, or after its absolute lifetime. Times are passed in, so tests move a clock instead of
sleeping.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante.storage.schema import Account, WebSession

#: ``reset`` anchors the one-time code of a forgotten-password request; its token is never
#: handed to a browser (so an unknown identifier and a known one look the same).
STAGES = ("activation", "code", "authenticated", "reset")
#: Pending stages (activation, code) never live longer than this.
PENDING_LIFETIME = timedelta(minutes=15)
#: ``last_seen_at`` is rewritten at most this often (one write per minute, not per request).
TOUCH_EVERY = timedelta(seconds=60)
MAX_TOKEN_LENGTH = 100


@dataclass(frozen=True)
class SessionLimits:
    idle: timedelta
    lifetime: timedelta


@dataclass(frozen=True)
class ActiveSession:
    id: int
    account_id: int
    address: str
    display_name: str
    stage: str
    token: str
    #: The dependant whose space the guardian switched to (checked again on every request).
    acting_for: int | None = None


@dataclass(frozen=True)
class Lookup:
    """What a cookie leads to: a live session, or why there is none (``expired`` names the end)."""

    session: ActiveSession | None
    expired: str | None = None  # "idle" | "lifetime" when the cookie's session just ran out
    #: The lookup must be repeated with ``write=True`` (to touch or to end the session).
    needs_write: bool = False
    #: (account id, address) of the session that this lookup ended.
    ended: tuple[int, str] | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(
    db: AsyncSession, account_id: int, stage: str, *, now: datetime, remote: str
) -> tuple[int, str]:
    """Open a session at ``stage``; returns its id and the token for the cookie (shown only
    now)."""
    if stage not in STAGES:
        raise ValueError(f"unknown session stage {stage!r}")
    token = secrets.token_urlsafe(32)
    row = WebSession(
        account_id=account_id,
        token_hash=token_hash(token),
        stage=stage,
        created_at=now,
        last_seen_at=now,
        remote=remote[:64],
    )
    db.add(row)
    await db.flush()
    return row.id, token


async def lookup(
    db: AsyncSession, token: str, limits: SessionLimits, *, now: datetime, write: bool = True
) -> Lookup:
    """The live session of ``token``.

    With ``write``, ends the session when it ran out and touches ``last_seen_at`` (at most once
    per :data:`TOUCH_EVERY`), in the caller's write transaction. Without, changes nothing and says
    in ``needs_write`` whether a write is due — so most requests need only a read.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return Lookup(None)
    query = select(WebSession).where(WebSession.token_hash == token_hash(token))
    if write:
        query = query.with_for_update()
    row = (await db.execute(query)).scalar_one_or_none()
    if row is None or row.ended_at is not None:
        return Lookup(None)
    account = await db.get(Account, row.account_id)
    assert account is not None
    reason = _expiry(row, limits, now)
    if reason is not None:
        if not write:
            return Lookup(None, expired=reason, needs_write=True)
        row.ended_at = now
        row.end_reason = reason
        return Lookup(None, expired=reason, ended=(row.account_id, account.address))
    active = ActiveSession(
        row.id,
        row.account_id,
        account.address,
        account.display_name,
        row.stage,
        token,
        row.acting_for_account_id,
    )
    if now - _aware(row.last_seen_at) >= TOUCH_EVERY:
        if not write:
            return Lookup(active, needs_write=True)
        row.last_seen_at = now
    return Lookup(active)


async def end_expired(
    db: AsyncSession, limits: SessionLimits, *, now: datetime, batch: int = 500
) -> list[tuple[int, str, str]]:
    """End the sessions that ran out without a request telling us (in the caller's write
    transaction); returns (account id, address, reason) of each, for the audit log (the anchors
    of password resets end silently: the reset audits itself)."""
    oldest_idle = now - limits.idle
    query = (
        select(WebSession, Account.address)
        .join(Account, Account.id == WebSession.account_id)
        .where(
            WebSession.ended_at.is_(None),
            (WebSession.last_seen_at <= oldest_idle)
            | (WebSession.created_at <= now - min(limits.lifetime, PENDING_LIFETIME)),
        )
        .order_by(WebSession.id)
        .limit(batch)
        .with_for_update()
    )
    ended = []
    for row, address in (await db.execute(query)).all():
        reason = _expiry(row, limits, now)
        if reason is not None:
            row.ended_at = now
            row.end_reason = reason
            if row.stage != "reset":  # a reset's anchor was never anyone's login
                ended.append((row.account_id, address, reason))
    return ended


def _expiry(row: WebSession, limits: SessionLimits, now: datetime) -> str | None:
    if now - _aware(row.last_seen_at) >= limits.idle:
        return "idle"
    lifetime = limits.lifetime if row.stage == "authenticated" else PENDING_LIFETIME
    if now - _aware(row.created_at) >= lifetime:
        return "lifetime"
    return None


async def promote(db: AsyncSession, session_id: int, stage: str, *, now: datetime) -> str:
    """Move a session to ``stage`` under a fresh token (the old cookie stops working: no session
    fixation across a privilege change); returns the new token."""
    row = await db.get(WebSession, session_id, with_for_update=True)
    if row is None or row.ended_at is not None:
        raise ValueError("no such live session")
    token = secrets.token_urlsafe(32)
    row.token_hash = token_hash(token)
    row.stage = stage
    row.created_at = now
    row.last_seen_at = now
    return token


async def set_acting_for(db: AsyncSession, session_id: int, dependant_id: int | None) -> None:
    """Switch the session to a dependant's space (or back to its own with None). The caller has
    checked the guardianship (``accounts.guardians``); the web checks it again on each request."""
    row = await db.get(WebSession, session_id, with_for_update=True)
    if row is None or row.ended_at is not None:
        raise ValueError("no such live session")
    row.acting_for_account_id = dependant_id


async def end(db: AsyncSession, session_id: int, reason: str, *, now: datetime) -> None:
    """End a session (logout, failed code…); idempotent."""
    row = await db.get(WebSession, session_id, with_for_update=True)
    if row is not None and row.ended_at is None:
        row.ended_at = now
        row.end_reason = reason[:16]


async def end_all(
    db: AsyncSession,
    account_id: int,
    reason: str,
    *,
    now: datetime,
    keep: int | None = None,
    stage: str | None = None,
) -> int:
    """End every live session of ``account_id`` but ``keep`` (only those at ``stage`` when
    given): after a password change, the other browsers are logged out. Returns how many."""
    query = select(WebSession).where(
        WebSession.account_id == account_id, WebSession.ended_at.is_(None)
    )
    if stage is not None:
        query = query.where(WebSession.stage == stage)
    ended = 0
    for row in (await db.execute(query.with_for_update())).scalars():
        if row.id != keep:
            row.ended_at = now
            row.end_reason = reason[:16]
            ended += 1
    return ended


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at
