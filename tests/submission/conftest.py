"""Fixtures of the submission tests: the seeded trust space, conversations in every state, app
passwords, and the submission listeners on loopback."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.policy import SMTP

import aiosmtplib
import pytest

from espace_sante.accounts.app_passwords import add_app_password
from espace_sante.accounts.conversations import record_professional_message
from espace_sante.accounts.tokens import TokenSigner
from espace_sante.config import Settings
from espace_sante.mta.submission import SubmissionListener
from espace_sante.mta.tls import DevPki, mail_client_context
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from fixtures.seed import CARDIO, DOCTOR, PHARMACY, Seeded

SECRETARIAT = "secretariat@medecin.mssante.fr"  # the doctor's Reply-To, not in the directory

__all__ = ["CARDIO", "DOCTOR", "PHARMACY", "SECRETARIAT"]


@dataclass(frozen=True)
class Patient:
    account_id: int
    address: str
    password: str


@dataclass(frozen=True)
class World:
    patient: Patient
    other: Patient
    seeded: Seeded


@pytest.fixture
async def world(storage: Storage, seeded: Seeded) -> World:
    """The active patient: an open conversation with DOCTOR (Reply-To SECRETARIAT), a closed one
    with CARDIO; app passwords for two patients."""
    async with transaction(storage.sessions) as s:
        await record_professional_message(
            s,
            account_id=seeded.active.account_id,
            professional_address=DOCTOR,
            closing=False,
            reply_to=SECRETARIAT,
        )
        await record_professional_message(
            s,
            account_id=seeded.active.account_id,
            professional_address=CARDIO,
            closing=True,
            reply_to=None,
        )
        _, password = await add_app_password(s, seeded.active.address, "tests")
        _, other_password = await add_app_password(s, seeded.other.address, "tests")
    return World(
        Patient(seeded.active.account_id, seeded.active.address, password),
        Patient(seeded.other.account_id, seeded.other.address, other_password),
        seeded,
    )


@pytest.fixture
def signer(settings: Settings) -> TokenSigner:
    return TokenSigner.from_settings(settings)


@pytest.fixture
async def submission(
    settings: Settings, storage: Storage, world: World, signer: TokenSigner
) -> AsyncIterator[SubmissionListener]:
    settings = replace(settings, submission=replace(settings.submission, port=0, tls_port=0))
    listener = SubmissionListener(settings, storage, mail_client_context(settings), signer)

    async def no_delay(_: float) -> None:
        return None

    listener.handler.sleep = no_delay
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stop(grace=10)


@pytest.fixture
def client_tls(pki: DevPki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca_cert))


async def connect(
    listener: SubmissionListener, tls: ssl.SSLContext, *, implicit: bool = False
) -> aiosmtplib.SMTP:
    """A client on the STARTTLS port after STARTTLS and EHLO (or on the implicit-TLS port)."""
    if implicit:
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=listener.tls_port, use_tls=True, tls_context=tls
        )
    else:
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=listener.port, start_tls=True, tls_context=tls
        )
    await client.connect()
    await client.ehlo()
    return client


def reply_message(
    sender: str,
    to: str,
    *,
    subject: str = "Re: Compte rendu",
    body: str = "Merci docteur, je prendrai le traitement.\n",
    in_reply_to: str | None = "<cr-1@medecin.mssante.fr>",
    extra: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"Patiente Test <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (extra or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


class RawSession:
    """A hand-driven SMTP session that sends bytes exactly as given (no line-end repair)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, listener: SubmissionListener, tls: ssl.SSLContext) -> RawSession:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", listener.tls_port, ssl=tls, server_hostname="127.0.0.1"
        )
        session = cls(reader, writer)
        await session.reply()
        return session

    async def reply(self) -> tuple[int, str]:
        lines = []
        while True:
            line = (await asyncio.wait_for(self.reader.readline(), 30)).decode()
            lines.append(line[4:].rstrip())
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), "\n".join(lines)

    async def command(self, text: str | bytes) -> tuple[int, str]:
        self.writer.write((text.encode() if isinstance(text, str) else text) + b"\r\n")
        await self.writer.drain()
        return await self.reply()

    async def login(self, user: str, password: str) -> None:
        await self.command("EHLO client.test")
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        code, _ = await self.command(f"AUTH PLAIN {token}")
        assert code == 235

    async def close(self) -> None:
        self.writer.close()
