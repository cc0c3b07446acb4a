"""The IMAP listeners: the STARTTLS port and the implicit-TLS port, one session per connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from datetime import UTC, datetime

from espace_sante.accounts.tokens import TokenSigner
from espace_sante.config import Settings
from espace_sante.mailbox.imap.errors import log_failure
from espace_sante.mailbox.imap.mailstore import EXPUNGED_BLOB_GRACE, sweep_orphaned_blobs
from espace_sante.mailbox.imap.session import ImapSession
from espace_sante.storage.runtime import Storage

log = logging.getLogger(__name__)

#: How often the blobs of messages expunged more than EXPUNGED_BLOB_GRACE ago are deleted.
SWEEP_SECONDS = 600.0


class ImapListener:
    """Both IMAP ports of one process; ``start`` binds them, ``stop`` says BYE and closes."""

    def __init__(self, settings: Settings, storage: Storage, tls: ssl.SSLContext) -> None:
        """``tls``: the server context (certificate and key); mail clients present none."""
        self.settings = settings
        self.storage = storage
        self.tls = tls
        self.signer = TokenSigner.from_settings(settings)
        self._servers: list[asyncio.Server] = []
        self._sessions: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, reuse_port: bool = False) -> None:
        """Bind both ports (``reuse_port`` when several worker processes share them)."""
        imap = self.settings.imap
        plain = await asyncio.start_server(
            lambda r, w: self._serve(r, w, already_tls=False),
            imap.listen_host,
            imap.port,
            reuse_port=reuse_port or None,
        )
        implicit = await asyncio.start_server(
            lambda r, w: self._serve(r, w, already_tls=True),
            imap.listen_host,
            imap.tls_port,
            ssl=self.tls,
            reuse_port=reuse_port or None,
        )
        self._servers = [plain, implicit]
        self._sweeper = asyncio.create_task(self._sweep())

    async def _sweep(self) -> None:
        """Delete the content of expunged messages once no session can still show them."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await sweep_orphaned_blobs(self.storage, datetime.now(UTC) - EXPUNGED_BLOB_GRACE)
            except Exception as exc:
                log_failure(log, "imap: sweeping the blobs of expunged messages failed", exc)

    @property
    def port(self) -> int:
        return int(self._servers[0].sockets[0].getsockname()[1])

    @property
    def tls_port(self) -> int:
        return int(self._servers[1].sockets[0].getsockname()[1])

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, already_tls: bool
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        session = ImapSession(
            self.storage,
            reader,
            writer,
            tls=self.tls,
            hostname=self.settings.mssante.hostname,
            idle_timeout=self.settings.imap.idle_timeout,
            already_tls=already_tls,
            signer=self.signer,
        )
        try:
            await session.run()
        except Exception as exc:
            log_failure(log, "imap: session ended by an error", exc)
        finally:
            self._sessions.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for server in self._servers:
            server.close()
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.gather(*self._sessions, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
