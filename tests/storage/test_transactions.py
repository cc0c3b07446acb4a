"""Write transactions: concurrent writers all commit, readers never wait for them, a failure
leaves nothing, and two processes writing the same SQLite database both get through."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime

from sqlalchemy import func, select

from espace_sante import audit
from espace_sante.config import Settings
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AuditEntry


async def _count(storage: Storage, account_id: int) -> int:
    async with storage.sessions() as s:
        query = (
            select(func.count()).select_from(AuditEntry).where(AuditEntry.account_id == account_id)
        )
        return int((await s.execute(query)).scalar_one())


async def test_concurrent_writers_all_commit_and_the_chain_holds(storage: Storage) -> None:
    async def write(i: int) -> None:
        async with transaction(storage.sessions) as s:
            await audit.append_many(
                s,
                7,
                [
                    audit.AuditEvent("dr", "message.received", {"i": i, "n": n}, _now())
                    for n in (1, 2)
                ],
            )

    await asyncio.gather(*(write(i) for i in range(40)))
    assert await _count(storage, 7) == 80
    async with storage.sessions() as s:
        assert await audit.verify(s, account_id=7) == []


async def test_a_reader_does_not_wait_for_an_open_write(storage: Storage) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()

    async def slow_writer() -> None:
        async with transaction(storage.sessions) as s:
            await audit.append(s, account_id=3, actor="dr", action="x")
            inside.set()
            await release.wait()

    writer = asyncio.create_task(slow_writer())
    await inside.wait()
    # The uncommitted entry is invisible, and reading does not block on the writer's lock.
    assert await asyncio.wait_for(_count(storage, 3), timeout=5) == 0
    release.set()
    await writer
    assert await _count(storage, 3) == 1


async def test_a_failing_transaction_leaves_nothing_and_releases_the_gate(storage: Storage) -> None:
    class Boom(Exception):
        pass

    try:
        async with transaction(storage.sessions) as s:
            await audit.append(s, account_id=4, actor="dr", action="x")
            raise Boom
    except Boom:
        pass
    assert await _count(storage, 4) == 0
    async with transaction(storage.sessions) as s:  # would hang if the gate were still held
        await audit.append(s, account_id=4, actor="dr", action="y")
    assert await _count(storage, 4) == 1


_WRITER = """
import asyncio, os
from espace_sante import audit
from espace_sante.config import load_settings
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage

async def go():
    storage = Storage.open(load_settings(None, os.environ))
    try:
        for i in range(30):
            async with transaction(storage.sessions) as s:
                await audit.append(s, account_id=9, actor="p", action="w", detail={"i": i})
    finally:
        await storage.close()

asyncio.run(go())
"""


async def test_worker_processes_share_the_database(storage: Storage, settings: Settings) -> None:
    env = dict(os.environ)
    env.update(
        ESPACE_DATA_DIR=str(settings.data_dir),
        ESPACE_DATABASE_URL=settings.effective_database_url,
        PYTHONPATH=os.pathsep.join(sys.path),
    )
    procs = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", _WRITER, env=env)
        for _ in range(2)
    ]
    codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), timeout=120)
    assert codes == [0, 0]
    assert await _count(storage, 9) == 60
    async with storage.sessions() as s:
        assert await audit.verify(s, account_id=9) == []


def _now() -> datetime:
    return datetime.now(UTC)
