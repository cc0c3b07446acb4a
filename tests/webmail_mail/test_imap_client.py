"""The IMAP client's connection handling: refused tokens, untrusted certificates, silent
servers — each ends in a French :class:`MailboxUnavailable`, never a hang or a leak."""

from __future__ import annotations

import asyncio
import shutil
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from espace_sante.config import Settings
from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.mta.tls import DevPki
from espace_sante.webmail.mail.imap_client import MailboxUnavailable, open_mailbox
from fixtures.seed import Seeded


@pytest.fixture
def client_settings(settings: Settings, imap: ImapListener, pki: DevPki) -> Settings:
    settings.pki_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(pki.ca_cert, settings.pki_dir / "ca.crt")
    return replace(settings, imap=replace(settings.imap, tls_port=imap.tls_port))


async def test_a_token_for_an_unavailable_account_is_refused_promptly(
    client_settings: Settings, seeded: Seeded
) -> None:
    closed = seeded.closed
    with pytest.raises(MailboxUnavailable, match="refusée"):
        async with open_mailbox(client_settings, closed.account_id, closed.address, timeout=30):
            pass


async def test_a_token_for_another_address_is_refused(
    client_settings: Settings, seeded: Seeded
) -> None:
    with pytest.raises(MailboxUnavailable, match="refusée"):
        # the account id of one patient with the address of another
        async with open_mailbox(client_settings, seeded.active.account_id, seeded.other.address):
            pass


def _self_signed(tmp: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (tmp / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "k.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(tmp / "c.pem"), str(tmp / "k.pem"))
    return ctx


async def _server(tls: ssl.SSLContext, greet: bool) -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if greet:
            writer.write(b"* OK ready\r\n")
        try:
            await reader.read(1000)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def test_an_untrusted_certificate_is_refused(
    client_settings: Settings, seeded: Seeded, tmp_path: Path
) -> None:
    async for port in _server(_self_signed(tmp_path), greet=True):
        s = replace(client_settings, imap=replace(client_settings.imap, tls_port=port))
        with pytest.raises(MailboxUnavailable, match="indisponible"):
            async with open_mailbox(s, seeded.active.account_id, seeded.active.address):
                pass


async def test_a_silent_server_times_out(
    client_settings: Settings, seeded: Seeded, pki: DevPki
) -> None:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    async for port in _server(tls, greet=False):
        s = replace(client_settings, imap=replace(client_settings.imap, tls_port=port))
        with pytest.raises(MailboxUnavailable, match="indisponible"):
            async with open_mailbox(s, seeded.active.account_id, seeded.active.address, timeout=1):
                pass
