"""A per-address limit on login attempts, in the memory of one process.

The per-account lock (``accounts.throttle``) stops guessing one account's password; this stops one
address from trying many accounts or unknown identifiers. It is a sliding window kept in memory:
several web workers each keep their own, which only multiplies the allowance by their number.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

MAX_TRACKED = 10_000


class AttemptLimiter:
    def __init__(self, max_attempts: int, window: timedelta) -> None:
        self.max_attempts = max_attempts
        self.window = window
        self._attempts: dict[str, deque[datetime]] = {}

    def allow(self, key: str, now: datetime) -> bool:
        """Count one attempt from ``key``; False when it is over the limit (not counted then)."""
        times = self._attempts.setdefault(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) >= self.max_attempts:
            return False
        times.append(now)
        if len(self._attempts) > MAX_TRACKED:
            self._forget_idle(now)
        return True

    def _forget_idle(self, now: datetime) -> None:
        for key in [k for k, t in self._attempts.items() if not t or now - t[-1] >= self.window]:
            del self._attempts[key]
