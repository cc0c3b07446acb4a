"""Per-message work of one IMAP command, cut into short slices on the event loop.

MX, submission, IMAP and the web share one event loop: a command that computes over every message
without awaiting anything delays every other client of every protocol for as long. Loops whose
work grows with the mailbox or the command (SEARCH, SORT, FETCH) pause at the end of each slice of
:data:`SLICE_SECONDS`, so that whatever else is ready runs in between; CPU-heavy steps (parsing a
long command, a message's content) go to :data:`POOL`, threads of their own, so that they queue
neither the blob reads nor the password checks of the default executor behind them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

SLICE_SECONDS = 0.002  # the longest run between two pauses
POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="imap-cpu")

T = TypeVar("T")
R = TypeVar("R")


class Slicer:
    """``await slicer.pause()`` in a loop: yields to the event loop once a slice is used up."""

    __slots__ = ("deadline", "seconds")

    def __init__(self, seconds: float = SLICE_SECONDS) -> None:
        self.seconds = seconds
        self.deadline = time.perf_counter() + seconds

    async def pause(self) -> None:
        if time.perf_counter() > self.deadline:
            await asyncio.sleep(0)
            self.deadline = time.perf_counter() + self.seconds


async def in_slices(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``function`` of each item, in order, pausing between slices."""
    slicer = Slicer()
    out: list[R] = []
    for item in items:
        out.append(function(item))
        await slicer.pause()
    return out


async def in_pool(function: Callable[..., R], *args: object) -> R:
    """``function(*args)`` in :data:`POOL` (it must not touch the session's state)."""
    return await asyncio.get_running_loop().run_in_executor(POOL, function, *args)
