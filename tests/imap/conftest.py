"""An IMAP server on loopback over a mailbox the gateway's delivery code filled, and clients for
it: ``raw_imap`` (the raw client of ``raw.py``) and ``imaplib_client`` (Python's imaplib)."""

from __future__ import annotations

import email
import email.policy
import imaplib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from espace_sante.accounts.app_passwords import add_app_password
from espace_sante.config import Settings
from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.mta.delivery import Delivering
from espace_sante.mta.tls import DevPki
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from fixtures.mssante import clinician_message
from fixtures.seed import DOCTOR, Seeded

from .raw import RawImap, RawOpener, connect


@dataclass(frozen=True)
class Mailbox:
    address: str
    password: str
    messages: list[bytes]
    other_address: str
    other_password: str


async def deliver(storage: Storage, seeded: Seeded, raw: bytes, patient: str = "active") -> None:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    await Delivering(storage).deliver(
        raw=raw,
        parsed=parsed,
        envelope_sender=DOCTOR,
        recipients=[getattr(seeded, patient)],
        received_at=datetime.now(UTC),
    )


@pytest.fixture
async def mailbox(storage: Storage, seeded: Seeded) -> Mailbox:
    messages = [
        clinician_message(sender=DOCTOR, patient_ins=seeded.active.ins, subject="Compte rendu"),
        clinician_message(
            sender=DOCTOR, patient_ins=seeded.active.ins, subject="Ordonnance", with_xdm=False
        ),
    ]
    for raw in messages:
        await deliver(storage, seeded, raw)
    await deliver(
        storage,
        seeded,
        clinician_message(sender=DOCTOR, patient_ins=seeded.other.ins, subject="Secret"),
        patient="other",
    )
    async with transaction(storage.sessions) as s:
        _, password = await add_app_password(s, seeded.active.address, "tests")
        _, other_password = await add_app_password(s, seeded.other.address, "tests")
    return Mailbox(seeded.active.address, password, messages, seeded.other.address, other_password)


@pytest.fixture
async def imap(
    settings: Settings, storage: Storage, mailbox: Mailbox, pki: DevPki
) -> AsyncIterator[ImapListener]:
    settings = replace(settings, imap=replace(settings.imap, port=0, tls_port=0))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    listener = ImapListener(settings, storage, tls)
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stop()


@pytest.fixture
def client_tls(pki: DevPki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca_cert))


@pytest.fixture
async def raw_imap(imap: ImapListener, client_tls: ssl.SSLContext) -> AsyncIterator[RawOpener]:
    """Opens raw connections to ``imap`` (implicit TLS, or ``starttls=True``); all are closed
    at teardown."""
    opened: list[RawImap] = []

    async def open_connection(*, starttls: bool = False) -> RawImap:
        port = imap.port if starttls else imap.tls_port
        client = await connect(port, client_tls, starttls=starttls)
        opened.append(client)
        return client

    yield open_connection
    for client in opened:
        client.close()


def imaplib_client(
    imap: ImapListener, tls: ssl.SSLContext, user: str | None = None, password: str | None = None
) -> imaplib.IMAP4_SSL:
    """Python's imaplib over implicit TLS (blocking: call it in a thread), logged in if given a
    user and a password."""
    client = imaplib.IMAP4_SSL("127.0.0.1", imap.tls_port, ssl_context=tls, timeout=10)
    if user is not None and password is not None:
        client.login(user, password)
    return client
