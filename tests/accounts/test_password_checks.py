"""The bounded pool of password checks (``accounts.password_checks``)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from espace_sante.accounts import password_checks
from espace_sante.accounts.password_checks import Busy, CheckPool


async def test_a_full_pool_refuses_at_once_and_frees_its_places() -> None:
    pool = CheckPool(workers=1, queue=1)
    gate = threading.Event()
    running = asyncio.ensure_future(pool.run(lambda: gate.wait(30)))
    waiting = asyncio.ensure_future(pool.run(lambda: 42))
    await asyncio.sleep(0)
    assert pool.accepted == 2
    with pytest.raises(Busy):
        await pool.run(lambda: 0)
    gate.set()
    assert (await running, await waiting) == (True, 42)
    assert pool.accepted == 0
    assert await pool.run(lambda: "again") == "again"
    pool.shutdown()


async def test_an_exception_in_a_check_frees_its_place() -> None:
    pool = CheckPool(workers=1, queue=0)

    def fails() -> None:
        raise ValueError("bad hash")

    with pytest.raises(ValueError):
        await pool.run(fails)
    assert pool.accepted == 0 and await pool.run(lambda: 1) == 1
    pool.shutdown()


def test_configure_keeps_the_pool_of_the_same_size_and_replaces_another() -> None:
    first = password_checks.configure(3, 4)
    assert password_checks.configure(3, 4) is first is password_checks.pool()
    second = password_checks.configure(2, 8)
    assert second is not first and (second.workers, second.queue) == (2, 8)
    with pytest.raises(ValueError):
        CheckPool(workers=0)
