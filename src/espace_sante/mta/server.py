"""Running the SMTP listener: one or several worker processes, and a clean stop on SIGTERM.

With ``smtp.workers`` above 1, every worker binds the same address with SO_REUSEPORT and the kernel
spreads connections between them; they share nothing but the database and the blob directory.
On SIGTERM (or SIGINT) a worker stops accepting, lets the deliveries in progress commit, tells
idle clients ``421`` and exits: an acknowledged message is never lost, and a message whose DATA
was cut off was never acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
from typing import Any, cast

from espace_sante.config import Settings
from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.mta.background import PeriodicWork
from espace_sante.mta.inbound import InboundHandler
from espace_sante.mta.outbound.worker import OutboundWorker
from espace_sante.mta.smtpserver import GatewaySMTP
from espace_sante.mta.submission import SubmissionListener
from espace_sante.mta.tls import mail_client_context, server_context
from espace_sante.storage.migrate import check_schema
from espace_sante.storage.runtime import Storage

log = logging.getLogger("espace_sante.smtp")

SHUTDOWN_GRACE_SECONDS = 30.0


class InboundListener:
    """The inbound MX of one process."""

    def __init__(self, settings: Settings, storage: Storage) -> None:
        self.settings = settings
        self.storage = storage
        self.handler = InboundHandler(storage, settings)
        self._protocols: set[GatewaySMTP] = set()
        self._server: asyncio.base_events.Server | None = None

    def _make_protocol(self) -> GatewaySMTP:
        s = self.settings
        protocol = _TrackedSMTP(
            self._protocols,
            self.handler,
            hostname=s.mssante.hostname,
            ident="espace-sante ESMTP MSSanté",
            tls_context=server_context(s),
            require_starttls=True,
            data_size_limit=s.mssante.max_message_size,
            enable_SMTPUTF8=True,
            timeout=s.smtp.idle_timeout,
            loop=asyncio.get_running_loop(),
        )
        return protocol

    async def start(self, reuse_port: bool = False, sock: socket.socket | None = None) -> None:
        loop = asyncio.get_running_loop()
        server_context(self.settings)  # fail now, not at the first connection
        if sock is not None:
            self._server = await loop.create_server(self._make_protocol, sock=sock)
        else:
            self._server = await loop.create_server(
                self._make_protocol,
                host=self.settings.smtp.listen_host,
                port=self.settings.smtp.inbound_port,
                reuse_port=reuse_port,
                backlog=512,
            )

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop accepting, let deliveries in progress commit, then close every session."""
        if self._server is not None:
            self._server.close()
        finished = await self.handler.wait_idle(grace)
        if not finished:
            log.warning("shutdown: deliveries still running after %.0fs", grace)
        await asyncio.sleep(0.1)  # let the sessions whose delivery just ended send their 250
        for protocol in list(self._protocols):
            transport = cast(asyncio.Transport | None, protocol.transport)
            if transport is not None and not transport.is_closing():
                with contextlib.suppress(Exception):  # the peer may be gone
                    transport.write(
                        "421 4.3.2 Arrêt du service, réessayez plus tard / "
                        "Service shutting down, try again later\r\n".encode()
                    )
                transport.close()
        if self._server is not None:
            await self._server.wait_closed()


class _TrackedSMTP(GatewaySMTP):
    def __init__(self, registry: set[GatewaySMTP], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._registry = registry

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._registry.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._registry.discard(self)
        super().connection_lost(error)


async def serve_forever(settings: Settings, reuse_port: bool = False) -> None:
    """Run one worker until SIGTERM/SIGINT."""
    storage = Storage.open(settings)
    await check_schema(storage.engine)
    listener = InboundListener(settings, storage)
    await listener.start(reuse_port=reuse_port)
    log.info(
        "smtp inbound listening on %s:%d (pid %d)",
        settings.smtp.listen_host,
        listener.port,
        os.getpid(),
    )
    imap = ImapListener(settings, storage, mail_client_context(settings))
    await imap.start(reuse_port=reuse_port)
    log.info(
        "imap listening on %s:%d (STARTTLS) and %d (TLS)",
        settings.imap.listen_host,
        imap.port,
        imap.tls_port,
    )
    submission = SubmissionListener(settings, storage, mail_client_context(settings), imap.signer)
    await submission.start(reuse_port=reuse_port)
    log.info(
        "submission listening on %s:%d (STARTTLS) and %d (TLS)",
        settings.submission.listen_host,
        submission.port,
        submission.tls_port,
    )
    outbound: OutboundWorker | None = None
    if settings.outbound.enabled:
        outbound = OutboundWorker(settings, storage)
        submission.handler.on_queued = outbound.wake
        outbound.start()
        log.info("outbound delivery worker started (pid %d)", os.getpid())
    periodic = PeriodicWork(storage)
    periodic.start()
    from espace_sante.webmail.serve import WebListener

    web = WebListener(settings, storage)
    await web.start(reuse_port=reuse_port)
    log.info("web listening on http://%s:%d", settings.web.listen_host, web.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("smtp inbound stopping (pid %d)", os.getpid())
    await periodic.stop()
    await web.stop()
    await imap.stop()
    await submission.stop()
    await listener.stop()
    if outbound is not None:
        await outbound.stop()
    await storage.close()
    log.info("smtp inbound stopped (pid %d)", os.getpid())


def _worker_main(settings: Settings, log_level: str) -> None:
    logging.basicConfig(level=log_level, format=LOG_FORMAT)
    asyncio.run(serve_forever(settings, reuse_port=True))


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d] %(message)s"


def run(settings: Settings) -> None:
    """Run the configured number of workers in the foreground until SIGTERM/SIGINT."""
    workers = settings.smtp.workers
    if workers <= 1:
        asyncio.run(serve_forever(settings))
        return
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_worker_main, args=(settings, settings.log_level.upper()), daemon=False)
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()

    def forward(signum: int, _frame: Any) -> None:
        for proc in procs:
            if proc.is_alive() and proc.pid:
                os.kill(proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for proc in procs:
        proc.join()
