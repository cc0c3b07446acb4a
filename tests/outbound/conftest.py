"""A peer MTA for the outbound tests: aiosmtpd on loopback with STARTTLS (the development
server certificate), asking for a client certificate from the development CA, recording what it
receives, and answering what the test tells it to."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from espace_sante.config import Settings
from espace_sante.mta.outbound.worker import OutboundWorker
from espace_sante.mta.tls import DevPki
from espace_sante.storage.runtime import Storage


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls_version: str | None
    client_cert: dict[str, Any] | None


@dataclass
class PeerHandler:
    received: list[Received] = field(default_factory=list)
    rcpt_reply: str = "250 2.1.5 OK"
    data_reply: str = "250 2.0.0 Ok: queued"
    sessions_now: int = 0
    sessions_max: int = 0
    hold: asyncio.Event | None = None  # DATA waits for it when set

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return self.rcpt_reply

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.sessions_now += 1
        self.sessions_max = max(self.sessions_max, self.sessions_now)
        try:
            if self.hold is not None:
                await self.hold.wait()
            if not self.data_reply.startswith("250"):
                return self.data_reply
            ssl_info = session.ssl or {}
            ssl_object = ssl_info.get("ssl_object")
            self.received.append(
                Received(
                    mail_from="" if envelope.mail_from == "<>" else envelope.mail_from or "",
                    rcpt_tos=list(envelope.rcpt_tos),
                    data=envelope.original_content or b"",
                    tls_version=ssl_object.version() if ssl_object else None,
                    client_cert=ssl_info.get("peercert") or None,
                )
            )
            return self.data_reply
        finally:
            self.sessions_now -= 1


class _NullSenderSMTP(SMTP):
    """aiosmtpd refuses ``MAIL FROM:<>``, which any MTA must accept (RFC 5321 §4.5.5)."""

    async def smtp_MAIL(self, arg: str | None) -> None:
        if arg is not None and arg.replace(" ", "").upper().startswith("FROM:<>"):
            assert self.envelope is not None
            self.envelope.mail_from = "<>"  # aiosmtpd takes an empty one for "no MAIL yet"
            await self.push("250 2.1.0 OK")
            return
        await super().smtp_MAIL(arg)


@dataclass
class Peer:
    handler: PeerHandler
    server: asyncio.base_events.Server

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1])


async def start_peer(
    pki: DevPki, *, starttls: bool = True, cert: tuple[str, str] | None = None
) -> Peer:
    handler = PeerHandler()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert_file, key_file = cert or (str(pki.server_cert), str(pki.server_key))
    ctx.load_cert_chain(cert_file, key_file)
    ctx.load_verify_locations(cafile=str(pki.ca_cert))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _NullSenderSMTP(
            handler,
            hostname="peer.medecin.mssante.fr",
            tls_context=ctx if starttls else None,
            require_starttls=starttls,
            loop=loop,
        ),
        host="127.0.0.1",
        port=0,
    )
    return Peer(handler, server)


@pytest.fixture
async def peer(pki: DevPki) -> AsyncIterator[Peer]:
    p = await start_peer(pki)
    try:
        yield p
    finally:
        p.server.close()
        await p.server.wait_closed()


def routed(settings: Settings, port: int, **outbound: Any) -> Settings:
    """Settings whose outbound route for every domain is the local peer."""
    # the test settings use the shared development PKI's server certificate; its CA is beside it
    ca = Path(settings.smtp.cert_file).with_name("ca.crt")
    values: dict[str, Any] = {
        "routes": f"*=127.0.0.1:{port}",
        "trust_ca_file": str(ca),
        "retry_base": 60.0,
        "retry_max": 3600.0,
        "timeout": 10.0,
    }
    out = replace(settings.outbound, **{**values, **outbound})
    return replace(settings, outbound=out)


@pytest.fixture
def make_worker(storage: Storage) -> Any:
    def make(settings: Settings) -> OutboundWorker:
        return OutboundWorker(settings, storage)

    return make
