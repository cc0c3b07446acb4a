"""``espace-sante serve``: every listener of the platform in one or several worker processes.

Each worker runs the inbound MX, IMAP, SMTP submission, the web front, the outbound delivery
worker and the periodic work (notices, read receipts) on one event loop. With ``smtp.workers``
above 1, the workers bind the same addresses with SO_REUSEPORT and the kernel spreads connections
between them; they share nothing but the database and the blob directory. SIGTERM (or SIGINT)
stops each listener cleanly: nothing acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
from typing import Any

from espace_sante.cli.webapp import create_app
from espace_sante.config import Settings
from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.mta.background import PeriodicWork
from espace_sante.mta.outbound.worker import OutboundWorker
from espace_sante.mta.server import InboundListener
from espace_sante.mta.submission import SubmissionListener
from espace_sante.mta.tls import mail_client_context
from espace_sante.storage.migrate import check_schema
from espace_sante.storage.runtime import Storage
from espace_sante.web.serve import WebListener

log = logging.getLogger("espace_sante.serve")


class PortUnavailable(ValueError):
    """A configured listening address cannot be bound (in use, not local, not permitted)."""


def check_ports(settings: Settings) -> None:
    """Fail before starting anything when a configured port cannot be bound, naming its key
    (rather than a traceback from the middle of the start-up)."""
    wanted = [
        ("smtp.inbound_port", settings.smtp.listen_host, settings.smtp.inbound_port),
        ("imap.port", settings.imap.listen_host, settings.imap.port),
        ("imap.tls_port", settings.imap.listen_host, settings.imap.tls_port),
        ("submission.port", settings.submission.listen_host, settings.submission.port),
        ("submission.tls_port", settings.submission.listen_host, settings.submission.tls_port),
        ("web.port", settings.web.listen_host, settings.web.port),
    ]
    for key, host, port in wanted:
        if port == 0:
            continue
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise PortUnavailable(
                    f"{key}: cannot listen on {host}:{port}: {exc.strerror or exc}"
                ) from exc


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
    web = WebListener(settings, storage, create_app(settings, storage))
    await web.start(reuse_port=reuse_port)
    log.info("web listening on http://%s:%d", settings.web.listen_host, web.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping every listener (pid %d)", os.getpid())
    await periodic.stop()
    await web.stop()
    await imap.stop()
    await submission.stop()
    await listener.stop()
    if outbound is not None:
        await outbound.stop()
    await storage.close()
    log.info("stopped (pid %d)", os.getpid())


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
