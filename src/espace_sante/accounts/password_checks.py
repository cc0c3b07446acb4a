"""A small, bounded pool for the argon2id checks of mail logins (IMAP, SMTP submission).

Each check holds 64 MiB for a fraction of a second, and anyone on the network can ask for one
before being authenticated. In asyncio's default thread pool, concurrent reconnects ran several
at once (and delayed everything else queued there). Here at most ``workers`` checks run at
once, at most ``queue`` more wait, and a login beyond that is told to come back later at once
(:class:`Busy`), without costing a hash.

One pool per process, shared by every listener of the process: :func:`configure` (called by the
listeners with ``[mail_login]``'s settings) sizes it, :func:`run` uses it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

DEFAULT_WORKERS = 2
DEFAULT_QUEUE = 32


class Busy(Exception):
    """Every worker is busy and the queue is full: the login should be retried later."""


class CheckPool:
    """``workers`` threads; at most ``workers + queue`` checks accepted at a time."""

    def __init__(self, workers: int = DEFAULT_WORKERS, queue: int = DEFAULT_QUEUE) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("a check pool needs at least one worker and a non-negative queue")
        self.workers = workers
        self.queue = queue
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="password-check")
        self._lock = threading.Lock()  # listeners of several event loops may share the pool
        self._accepted = 0

    @property
    def accepted(self) -> int:
        """Checks running or waiting now."""
        return self._accepted

    async def run(self, check: Callable[[], T]) -> T:
        """``check()`` in one of the pool's threads; :class:`Busy` when the pool is full."""
        with self._lock:
            if self._accepted >= self.workers + self.queue:
                raise Busy
            self._accepted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, check)
        finally:
            with self._lock:
                self._accepted -= 1

    def shutdown(self) -> None:
        """Let the threads go once the checks under way are done."""
        self._executor.shutdown(wait=False, cancel_futures=False)


_pool: CheckPool | None = None
_pool_lock = threading.Lock()


def configure(workers: int, queue: int) -> CheckPool:
    """Size the process's pool (a no-op when it already has these sizes)."""
    global _pool
    with _pool_lock:
        if _pool is not None and (_pool.workers, _pool.queue) == (workers, queue):
            return _pool
        previous, _pool = _pool, CheckPool(workers, queue)
    if previous is not None:
        previous.shutdown()
    return _pool


def pool() -> CheckPool:
    """The process's pool (default sizes until :func:`configure` is called)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = CheckPool()
        return _pool


async def run(check: Callable[[], T]) -> T:
    """``check()`` in the process's pool; raises :class:`Busy` when it is full."""
    return await pool().run(check)
