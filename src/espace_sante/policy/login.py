"""Login throttling rules: how many failures lock an account, for how long, and how much to slow
each answer. Pure; ``accounts.throttle`` stores the state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

#: Failures within :data:`WINDOW` that lock the account.
FAILURES_BEFORE_LOCK = 5
WINDOW = timedelta(minutes=15)
LOCK = timedelta(minutes=15)
#: Delay before answering a failed attempt: grows with the failures, capped.
BASE_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 5.0


@dataclass(frozen=True)
class ThrottleState:
    failures: int
    window_started_at: datetime
    locked_until: datetime | None = None


def is_locked(state: ThrottleState | None, now: datetime) -> bool:
    """Whether logins are refused now, even with the right password."""
    return state is not None and state.locked_until is not None and now < state.locked_until


def after_failure(state: ThrottleState | None, now: datetime) -> ThrottleState:
    """The state after one more failed attempt at ``now``."""
    if state is None or now - state.window_started_at > WINDOW or _lock_expired(state, now):
        state = ThrottleState(failures=0, window_started_at=now)
    failures = state.failures + 1
    locked_until = state.locked_until
    if failures >= FAILURES_BEFORE_LOCK and not is_locked(state, now):
        locked_until = now + LOCK
    return ThrottleState(failures, state.window_started_at, locked_until)


def failure_delay(failures: int) -> float:
    """Seconds to wait before answering the ``failures``-th failed attempt."""
    return min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * max(1, failures))


def _lock_expired(state: ThrottleState, now: datetime) -> bool:
    return state.locked_until is not None and now >= state.locked_until
