"""Serving the web front with uvicorn inside an existing asyncio loop (``espace-sante serve``).

uvicorn normally owns the process (its own signal handlers); here it runs as one listener among
the SMTP and IMAP ones, so signals stay with the caller, which stops us with :meth:`stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator
from datetime import datetime

import uvicorn

from espace_sante.accounts.sms import SmsGateway
from espace_sante.config import Settings
from espace_sante.storage.runtime import Storage
from espace_sante.webmail.app import create_app, wall_clock


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the caller owns the signals
        yield


class WebListener:
    """The HTTP listener of one process."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        *,
        clock: Callable[[], datetime] = wall_clock,
        sms: SmsGateway | None = None,
    ) -> None:
        self.settings = settings
        self.app = create_app(settings, storage, clock=clock, sms=sms)
        self._server: _Server | None = None
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

    @property
    def port(self) -> int:
        assert self._socket is not None
        return int(self._socket.getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        if self._socket is not None:
            self._socket.close()
