"""Login throttling rules, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from espace_sante.policy import login
from espace_sante.policy.login import ThrottleState

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def _fail(times: list[datetime]) -> ThrottleState | None:
    state = None
    for at in times:
        state = login.after_failure(state, at)
    return state


@pytest.mark.parametrize(
    ("failures_at", "now", "locked"),
    [
        ([], T0, False),
        ([T0] * 4, T0, False),
        ([T0 + i * MIN for i in range(5)], T0 + 5 * MIN, True),
        # spread beyond the window: the count restarts, no lock
        ([T0 + i * 4 * MIN for i in range(5)], T0 + 20 * MIN, False),
        # the lock lasts LOCK, then lifts by itself
        ([T0] * 5, T0 + login.LOCK - MIN, True),
        ([T0] * 5, T0 + login.LOCK, False),
        # failures during a lock do not extend it
        ([T0] * 5 + [T0 + 10 * MIN] * 3, T0 + login.LOCK + MIN, False),
    ],
)
def test_lock_rules(failures_at: list[datetime], now: datetime, locked: bool) -> None:
    assert login.is_locked(_fail(failures_at), now) is locked


def test_after_a_lock_expires_the_count_starts_again() -> None:
    state = _fail([T0] * 5)
    assert state is not None and state.locked_until == T0 + login.LOCK
    after = login.after_failure(state, T0 + login.LOCK + MIN)
    assert after.failures == 1 and after.locked_until is None


@pytest.mark.parametrize(("failures", "delay"), [(0, 1.0), (1, 1.0), (3, 3.0), (5, 5.0), (50, 5.0)])
def test_failure_delay_grows_and_is_capped(failures: int, delay: float) -> None:
    assert login.failure_delay(failures) == delay
