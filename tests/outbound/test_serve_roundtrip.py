"""``espace-sante serve`` end to end: a patient's reply submitted on the submission port is
delivered by the same process's outbound worker to a TLS peer; SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import sys
import time
from pathlib import Path

import aiosmtplib
from sqlalchemy import select

from espace_sante.accounts.app_passwords import add_app_password
from espace_sante.accounts.conversations import record_professional_message
from espace_sante.config import Settings
from espace_sante.mta.tls import DevPki
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import OutboundMessage
from fixtures.seed import DOCTOR, Seeded
from outbound.conftest import Peer

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_for_port(proc: asyncio.subprocess.Process, port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.returncode is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            await asyncio.sleep(0.1)
    proc.kill()
    out = (await proc.stdout.read()).decode() if proc.stdout else ""
    raise AssertionError(f"serve did not start: {out}")


async def test_reply_goes_from_submission_to_the_peer_in_one_serve_process(
    settings: Settings, storage: Storage, seeded: Seeded, pki: DevPki, peer: Peer
) -> None:
    me = seeded.active.address
    async with transaction(storage.sessions) as s:
        await record_professional_message(
            s,
            account_id=seeded.active.account_id,
            professional_address=DOCTOR,
            closing=False,
            reply_to=None,
        )
        _, password = await add_app_password(s, me, "tests")
    submission_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESPACE_")}
    env.update(
        ESPACE_DATA_DIR=str(settings.data_dir),
        ESPACE_DATABASE_URL=settings.database_url,
        ESPACE_SMTP_INBOUND_PORT=str(free_port()),
        ESPACE_SMTP_CERT_FILE=str(pki.server_cert),
        ESPACE_SMTP_KEY_FILE=str(pki.server_key),
        ESPACE_IMAP_PORT=str(free_port()),
        ESPACE_IMAP_TLS_PORT=str(free_port()),
        ESPACE_SUBMISSION_PORT=str(submission_port),
        ESPACE_SUBMISSION_TLS_PORT=str(free_port()),
        ESPACE_OUTBOUND_ROUTES=f"medecin.mssante.fr=127.0.0.1:{peer.port}",
        ESPACE_OUTBOUND_TRUST_CA_FILE=str(pki.ca_cert),
        ESPACE_OUTBOUND_POLL_INTERVAL="30",  # the submission wakes the worker up itself
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "espace_sante",
        "serve",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await wait_for_port(proc, submission_port)
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1",
            port=submission_port,
            start_tls=True,
            tls_context=ssl.create_default_context(cafile=str(pki.ca_cert)),
        )
        await client.connect()
        await client.login(me, password)
        message = (
            f"From: {me}\r\nTo: {DOCTOR}\r\nSubject: Re: ordonnance\r\n"
            "In-Reply-To: <cr-9@medecin.mssante.fr>\r\n\r\nBien reçu, merci.\r\n"
        ).encode()
        await client.sendmail(me, [DOCTOR], message)
        await client.quit()
        deadline = time.monotonic() + 30
        while not peer.handler.received and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()
    (got,) = peer.handler.received
    assert got.mail_from == me and got.rcpt_tos == [DOCTOR]
    assert b"In-Reply-To: <cr-9@medecin.mssante.fr>" in got.data
    assert "Bien reçu".encode() in got.data and got.client_cert is not None
    async with storage.sessions() as s:
        (row,) = (await s.execute(select(OutboundMessage))).scalars().all()
    assert row.status == "delivered" and row.claimed_by is None
    assert "outbound delivery worker started" in out.decode()
