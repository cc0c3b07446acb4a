"""``espace-sante serve`` as a real process: one log line per transaction, a clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import socket
import ssl
import sys
import time
from pathlib import Path

import pytest

from espace_sante.config import Settings
from espace_sante.mta.tls import DevPki
from espace_sante.storage.runtime import Storage
from fixtures.mssante import clinician_message
from fixtures.smtp_client import send
from fixtures.store_queries import inbox

from .conftest import DOCTOR, Seeded

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


IMAP_PORTS = (_free_port(), _free_port())
WEB_PORT = _free_port()
SUBMISSION_PORTS = (_free_port(), _free_port())


async def _start(
    settings: Settings, pki: DevPki, workers: int = 1
) -> tuple[asyncio.subprocess.Process, int]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESPACE_")}
    env.update(
        ESPACE_DATA_DIR=str(settings.data_dir),
        ESPACE_DATABASE_URL=settings.database_url,
        ESPACE_SMTP_INBOUND_PORT=str(port),
        ESPACE_SMTP_CERT_FILE=str(pki.server_cert),
        ESPACE_SMTP_KEY_FILE=str(pki.server_key),
        ESPACE_SMTP_WORKERS=str(workers),
        ESPACE_IMAP_PORT=str(IMAP_PORTS[0]),
        ESPACE_IMAP_TLS_PORT=str(IMAP_PORTS[1]),
        ESPACE_WEB_PORT=str(WEB_PORT),
        ESPACE_SUBMISSION_PORT=str(SUBMISSION_PORTS[0]),
        ESPACE_SUBMISSION_TLS_PORT=str(SUBMISSION_PORTS[1]),
        ESPACE_OUTBOUND_TRUST_CA_FILE=str(pki.ca_cert),
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
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            if proc.returncode is not None:
                break
            await asyncio.sleep(0.1)
    if proc.returncode is None:
        proc.kill()
    out = (await proc.stdout.read()).decode() if proc.stdout else ""
    raise AssertionError(f"serve did not start: {out}")


async def _stop(proc: asyncio.subprocess.Process) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()
    return out.decode()


@pytest.mark.parametrize("workers", [1, 2])
async def test_serve_logs_each_transaction_and_stops_on_sigterm(
    settings: Settings,
    storage: Storage,
    seeded: Seeded,
    pki: DevPki,
    client_tls: ssl.SSLContext,
    workers: int,
) -> None:
    proc, port = await _start(settings, pki, workers)
    try:
        for _ in range(3):
            m = clinician_message(patient_ins=seeded.active.ins, with_xdm=False)
            assert (await send(port, client_tls, DOCTOR, [seeded.active.address], m)).accepted
        refused = await send(port, client_tls, "x@gmail.com", [seeded.active.address], b"x")
        assert refused.mail is not None and refused.mail[0] == 550
        # the IMAP listeners of the same process greet on both ports
        for imap_port, tls in ((IMAP_PORTS[0], None), (IMAP_PORTS[1], client_tls)):
            reader, writer = await asyncio.open_connection("127.0.0.1", imap_port, ssl=tls)
            assert (await reader.readline()).startswith(b"* OK [CAPABILITY IMAP4rev1")
            writer.close()
        # and so does the web front
        reader, writer = await asyncio.open_connection("127.0.0.1", WEB_PORT)
        writer.write(b"GET /connexion HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        page = await reader.read()
        writer.close()
        assert page.startswith(b"HTTP/1.1 200") and b"Connexion" in page
        # and so do the submission listeners
        for sub_port, tls in ((SUBMISSION_PORTS[0], None), (SUBMISSION_PORTS[1], client_tls)):
            reader, writer = await asyncio.open_connection("127.0.0.1", sub_port, ssl=tls)
            assert (await reader.readline()).startswith(b"220 ")
            writer.close()
    finally:
        out = await _stop(proc)
    assert out.count("reply='250 2.0.0") == 3, out
    assert "refused=" in out
    assert "stopped" in out
    assert b"Compte rendu" not in out.encode()  # never message content in the log
    assert len(await inbox(storage, seeded.active.account_id)) == 3


async def test_sigterm_during_data_loses_nothing_acknowledged(
    settings: Settings,
    storage: Storage,
    seeded: Seeded,
    pki: DevPki,
    client_tls: ssl.SSLContext,
) -> None:
    """SIGTERM right after the end of DATA: either the client got 250 and the message is
    stored, or it got no 250 and may retry; never an acknowledged message lost."""
    proc, port = await _start(settings, pki)
    message = clinician_message(patient_ins=seeded.active.ins, pad_to_size=3 * 1024 * 1024)

    def run() -> tuple[int, bytes] | None:
        c = smtplib.SMTP("127.0.0.1", port, timeout=60)
        c.ehlo("client.example")
        c.starttls(context=client_tls)
        c.ehlo("client.example")
        c.mail(DOCTOR)
        c.rcpt(seeded.active.address)
        c.putcmd("DATA")
        c.getreply()
        assert c.sock is not None
        c.sock.sendall(message.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
        os.kill(proc.pid, signal.SIGTERM)
        try:
            return c.getreply()
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            return None

    reply = await asyncio.to_thread(run)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()
    stored = await inbox(storage, seeded.active.account_id)
    if reply is not None and reply[0] == 250:
        assert len(stored) == 1
    else:
        assert reply is None or reply[0] in (421, 451), reply
