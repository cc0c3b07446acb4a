"""Failed-login bookkeeping per account (rules in ``policy.login``), with audit entries for each
failure and each lock."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante import audit
from espace_sante.policy import login
from espace_sante.storage.schema import LoginThrottle


async def current_state(session: AsyncSession, account_id: int) -> login.ThrottleState | None:
    row = await session.get(LoginThrottle, account_id)
    if row is None:
        return None
    started = row.window_started_at
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return login.ThrottleState(row.failures, started, _aware(row.locked_until))


async def is_locked(session: AsyncSession, account_id: int, now: datetime | None = None) -> bool:
    return login.is_locked(await current_state(session, account_id), now or datetime.now(UTC))


async def record_failure(
    session: AsyncSession,
    account_id: int,
    *,
    service: str,
    remote: str,
    now: datetime | None = None,
) -> login.ThrottleState:
    """Count one failed attempt (in the caller's write transaction) and audit it."""
    now = now or datetime.now(UTC)
    before = await current_state(session, account_id)
    after = login.after_failure(before, now)
    row = await session.get(LoginThrottle, account_id, with_for_update=True)
    if row is None:
        row = LoginThrottle(account_id=account_id, failures=0, window_started_at=now)
        session.add(row)
    row.failures = after.failures
    row.window_started_at = after.window_started_at
    row.locked_until = after.locked_until
    events = [
        audit.AuditEvent("anonymous", "login.failed", {"service": service, "remote": remote}, now)
    ]
    if after.locked_until is not None and not login.is_locked(before, now):
        events.append(
            audit.AuditEvent(
                "gateway",
                "login.locked",
                {"service": service, "until": after.locked_until.isoformat()},
                now,
            )
        )
    await audit.append_many(session, account_id, events)
    return after


async def record_success(session: AsyncSession, account_id: int) -> None:
    """A successful login clears the failures."""
    row = await session.get(LoginThrottle, account_id)
    if row is not None:
        await session.delete(row)


def _aware(at: datetime | None) -> datetime | None:
    if at is not None and at.tzinfo is None:  # SQLite returns naive UTC
        return at.replace(tzinfo=UTC)
    return at
