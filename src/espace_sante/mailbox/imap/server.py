"""The IMAP listeners: the STARTTLS port and the implicit-TLS port, one session per connection.

Before a login, a connection costs us a password check per attempt (bounded by
``accounts.password_checks``), so each client address may hold only
``imap.max_unauthenticated_per_address`` connections not logged in (but those of
``imap.per_address_exempt``, the webmail's), and each must log in within
``imap.login_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from collections import Counter
from datetime import UTC, datetime

from espace_sante.accounts import mail_auth
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
        #: Connections not logged in yet, per client address.
        self._unauthenticated: Counter[str] = Counter()
        self._exempt = settings.imap.per_address_exempt_networks
        mail_auth.configure_password_checks(
            settings.mail_login.password_checks, settings.mail_login.password_check_queue
        )
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
        imap = self.settings.imap
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if peer else "?"
        if self._unauthenticated[
            address
        ] >= imap.max_unauthenticated_per_address and not self._is_exempt(address):
            log.info("imap: connection from %s refused: too many not logged in", address)
            writer.write(b"* BYE [UNAVAILABLE] Too many connections from your address\r\n")
            self._sessions.discard(task)
            with contextlib.suppress(Exception):
                writer.close()
            return
        self._unauthenticated[address] += 1
        counted = True

        def logged_in() -> None:
            nonlocal counted
            if counted:
                counted = False
                self._release(address)

        session = ImapSession(
            self.storage,
            reader,
            writer,
            tls=self.tls,
            hostname=self.settings.mssante.hostname,
            idle_timeout=imap.idle_timeout,
            already_tls=already_tls,
            signer=self.signer,
        )
        session.on_login = logged_in
        timer = asyncio.get_running_loop().call_later(
            imap.login_timeout, self._login_expired, session, task
        )
        try:
            await session.run()
        except asyncio.CancelledError:
            pass  # stop() or the login timeout; Python 3.11 would log a cancelled handler
        except Exception as exc:
            log_failure(log, "imap: session ended by an error", exc)
        finally:
            timer.cancel()
            logged_in()
            self._sessions.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    def _is_exempt(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self._exempt)

    def _release(self, address: str) -> None:
        self._unauthenticated[address] -= 1
        if self._unauthenticated[address] <= 0:
            del self._unauthenticated[address]

    def _login_expired(self, session: ImapSession, task: asyncio.Task[None]) -> None:
        """A connection that has not logged in within ``imap.login_timeout`` is dropped, well
        before the autologout (RFC 9051 §5.4 allows a server to end a connection pre-auth)."""
        if session.account_id is not None or task.done():
            return
        log.info("imap: %s did not log in in time", session.remote)
        with contextlib.suppress(Exception):
            session.writer.write(b"* BYE Autologout; not logged in in time\r\n")
        task.cancel()

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
