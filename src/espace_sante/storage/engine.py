"""The async database engine and transactions.

SQLite runs in WAL mode with ``synchronous=FULL`` (a commit is fsync'd before it returns). Reads
begin DEFERRED and never wait. Write transactions (:func:`transaction`) begin IMMEDIATE, so they
cannot fail later on a stale snapshot, and first pass a *write gate*: an asyncio lock within the
process and an ``flock`` on a file beside the database across worker processes. Without the gate,
concurrent writers wait in SQLite's busy handler, which polls with sleeps of up to 100 ms and
left the lock idle most of the time (measured: 24 deliveries/s with 16 sessions; see bench/).
PostgreSQL commits are durable by default (``synchronous_commit = on``) and need no gate.

:func:`write_sync` runs a whole write transaction as one synchronous function. On SQLite it runs
in one worker thread on a synchronous connection to the same file, so the write gate is held for
the SQL alone: with the async driver each statement is a thread hop whose result waits for the
event loop to come round, and under load the gate was held mostly waiting for the loop.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from espace_sante.config import Settings


def create_engine(settings: Settings | str, **kwargs: Any) -> AsyncEngine:
    """Create the engine for the configured database URL (or the URL given)."""
    url = settings if isinstance(settings, str) else settings.effective_database_url
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 60}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: AsyncEngine | Engine) -> None:
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


_WRITE_OPTION = "espace_write"


class _WriteGate:
    """One writer at a time on a SQLite database, woken as soon as the previous one commits."""

    def __init__(self, database: Path) -> None:
        self.lock_path = database.with_name(database.name + "-writer.lock")
        self._fd: int | None = None
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        lock = self._locks.setdefault(loop, asyncio.Lock())
        async with lock:
            if self._fd is None:
                self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            fd = self._fd
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another worker process writes: wait in a thread
                await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


_gates: dict[str, _WriteGate] = {}


def _write_gate(engine: AsyncEngine) -> _WriteGate | None:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    path = str(Path(database).resolve())
    gate = _gates.get(path)
    if gate is None:
        gate = _gates[path] = _WriteGate(Path(path))
    return gate


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of *writing* work: commits on success (durably), rolls back on any exception.

    Sessions opened directly from the factory are for reading (on SQLite they begin DEFERRED).
    """
    bind = factory.kw.get("bind")
    gate = _write_gate(bind) if isinstance(bind, AsyncEngine) else None
    async with factory() as session:
        if gate is None:
            async with session.begin():
                yield session
            return
        async with gate.held():
            await session.connection(execution_options={_WRITE_OPTION: True})
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()


T = TypeVar("T")

_sync_engines: dict[str, Engine] = {}


def _sync_writer(engine: AsyncEngine) -> Engine:
    """A synchronous engine on the same SQLite file (one per file and process)."""
    path = str(Path(engine.url.database or "").resolve())
    sync = _sync_engines.get(path)
    if sync is None:
        url = engine.url.set(drivername="sqlite+pysqlite")
        sync = create_sync_engine(
            url, connect_args={"timeout": 60, "check_same_thread": False}, pool_size=2
        )
        _configure_sqlite(sync)
        sync = _sync_engines[path] = sync
    return sync


async def write_sync(factory: async_sessionmaker[AsyncSession], work: Callable[[Session], T]) -> T:
    """Run ``work`` in one write transaction (as :func:`transaction`): committed durably when it
    returns, rolled back if it raises. ``work`` gets a synchronous session and must not block on
    anything but the database."""
    bind = factory.kw.get("bind")
    gate = _write_gate(bind) if isinstance(bind, AsyncEngine) else None
    if gate is None or not isinstance(bind, AsyncEngine):
        async with transaction(factory) as session:
            return await session.run_sync(work)
    sync_engine = _sync_writer(bind)

    def run() -> T:
        with Session(sync_engine, expire_on_commit=False) as session:
            session.connection(execution_options={_WRITE_OPTION: True})
            try:
                result = work(session)
            except BaseException:
                session.rollback()
                raise
            session.commit()
            return result

    async with gate.held():
        done = asyncio.ensure_future(asyncio.to_thread(run))
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            # The thread still writes: keep the gate until it has finished.
            await asyncio.wait([done])
            raise


def dispose_sync_writer(engine: AsyncEngine) -> None:
    """Close the synchronous writer's connections to ``engine``'s SQLite file, if any."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return
    sync = _sync_engines.pop(str(Path(engine.url.database).resolve()), None)
    if sync is not None:
        sync.dispose()


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"
