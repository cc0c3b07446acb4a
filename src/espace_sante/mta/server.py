"""The inbound MX listener of one process, and its clean stop.

On stop the listener stops accepting, lets the deliveries in progress commit, tells idle clients
``421`` and closes: an acknowledged message is never lost, and a message whose DATA was cut off
was never acknowledged. ``cli.serve`` runs it beside the other listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any, cast

from espace_sante.config import Settings
from espace_sante.mta.inbound import InboundHandler
from espace_sante.mta.smtpserver import GatewaySMTP
from espace_sante.mta.tls import server_context
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
