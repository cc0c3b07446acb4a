"""Serving the web front with uvicorn inside an existing asyncio loop (``espace-sante serve``).

uvicorn normally owns the process (its own signal handlers); here it runs as one listener among
the SMTP and IMAP ones, so signals stay with the caller, which stops us with :meth:`stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import uvicorn
from starlette.types import ASGIApp

from espace_sante.accounts import weblogin, websessions
from espace_sante.config import Settings
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.web.app import wall_clock

log = logging.getLogger("espace_sante.web")

#: Seconds between two sweeps of the sessions that expired without a request.
SWEEP_EVERY = 60.0


async def sweep_expired_sessions(settings: Settings, storage: Storage, now: datetime) -> int:
    """End and audit the web sessions that ran out while nobody used them; returns how many."""
    limits = websessions.SessionLimits(
        idle=timedelta(minutes=settings.web.session_idle_minutes),
        lifetime=timedelta(hours=settings.web.session_max_hours),
    )
    async with transaction(storage.sessions) as db:
        ended = await websessions.end_expired(db, limits, now=now)
        for account_id, address, reason in ended:
            await weblogin.audit_logout(db, account_id, address, now=now, reason=reason, remote="")
    return len(ended)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the caller owns the signals
        yield


class WebListener:
    """The HTTP listener of one process, serving ``app`` (built by the caller, e.g. with
    ``cli.webapp.create_app``) and sweeping the expired sessions of ``storage`` by ``clock``
    (the app's clock)."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        app: ASGIApp,
        *,
        clock: Callable[[], datetime] = wall_clock,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.clock = clock
        self.app = app
        self._server: _Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    async def start(self, reuse_port: bool = False) -> None:
        web = self.settings.web
        family = socket.AF_INET6 if ":" in web.listen_host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:  # several worker processes share the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((web.listen_host, web.port))
        sock.listen(256)
        sock.setblocking(False)
        self._socket = sock
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            server_header=False,
            date_header=True,
            access_log=False,
            log_config=None,
            proxy_headers=False,
            timeout_graceful_shutdown=10,
            h11_max_incomplete_event_size=64 * 1024,
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the start-up error
                raise RuntimeError("web listener stopped during start-up")
            await asyncio.sleep(0.01)
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            try:
                await sweep_expired_sessions(self.settings, self.storage, self.clock())
            except Exception:  # a database hiccup must not stop the sweeps
                log.exception("web: sweeping expired sessions failed")

    @property
    def port(self) -> int:
        assert self._socket is not None
        return int(self._socket.getsockname()[1])

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        if self._socket is not None:
            self._socket.close()
