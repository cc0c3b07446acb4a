"""One IMAP client cannot freeze the other protocols: MX, submission, IMAP and the web share one
event loop, so a command that computes for seconds without yielding delays every other client.
A hostile client loops the most expensive SEARCH, SORT and FETCH commands it can write over a
folder of a few hundred messages (from another process: hostile_imap.py) while we deliver mail
over SMTP and measure how late a task of the same loop wakes up. The bounds are generous (the
machine is shared and noisy); the figures are printed (``pytest -s``)."""

from __future__ import annotations

import asyncio
import gc
import json
import ssl
import sys
import time
from pathlib import Path

import pytest

from espace_sante.config import Settings
from espace_sante.mailbox.imap.mailstore import AccountMailStore
from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.mta.server import InboundListener
from espace_sante.mta.tls import DevPki
from espace_sante.storage.runtime import Storage
from fixtures.mssante import clinician_message
from fixtures.seed import DOCTOR, Seeded
from fixtures.smtp_client import send

from .conftest import Mailbox

MESSAGES = 300
MAX_LAG = 0.5  # seconds a task of the loop may wake up late (99th percentile)...
MAX_STALL = 2.0  # ... at worst (a shared two-core machine deschedules whole processes)...
MAX_DELIVERY = 5.0  # ... and an MX delivery may take under the hostile load; or, when the
NOISE = 3  # machine is so loaded that the quiet figures are already bad, NOISE times those

#: The hostile client's commands: the most each kind can cost within our limits.
HOSTILE = [
    b"SEARCH" + b" 1:*" * 999,  # a thousand keys over every message
    b"SEARCH" + b" 1:*" * 16_300,  # 65 KB of keys: refused by the key limit
    b"SEARCH TEXT nowhere-to-be-found",  # reads and parses every message
    b"SEARCH OR BODY zzz1 OR BODY zzz2 BODY zzz3",
    b"UID SEARCH UID " + b",".join(b"%d" % (2 * i + 1) for i in range(9_000)),
    b"SEARCH " + b"NOT " * 30 + b"ALL " + b"OR FROM a TO b " * 300 + b"ALL",
    b"SORT (SUBJECT REVERSE FROM DISPLAYTO DATE SIZE) UTF-8" + b" OR FROM x 1:*" * 300,
    b"SORT (SUBJECT) UTF-8 TEXT nowhere",
    b"FETCH 1:* (FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER])",
    b"UID FETCH " + b",".join(b"%d" % (2 * i + 1) for i in range(9_000)) + b" (FLAGS ENVELOPE)",
]


def _message(index: int) -> bytes:
    text = " ".join(f"mot{index}x{j}" for j in range(300))
    return (
        f"From: Dr Numero {index} <doc{index}@chu-exemple.fr>\r\n"
        f"To: patient@x.fr, Groupe: a{index}@x.fr, b@x.fr;\r\n"
        f"Subject: Re: [CR] Bilan {index % 17}\r\n"
        f"Date: Mon, 02 Nov 2026 10:{index % 60:02d}:00 +0100\r\n"
        f"Message-ID: <{index}@load.test>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{text}\r\n"
        "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{'QUJD' * 500}\r\n--b--\r\n"
    ).encode()


async def _lag_probe(stop: asyncio.Event, lags: list[float]) -> None:
    """How late a 10 ms sleep of the loop wakes up, every time."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - started - 0.01)


async def _deliver(gateway: InboundListener, pki: DevPki, seeded: Seeded, subject: str) -> float:
    tls = ssl.create_default_context(cafile=str(pki.ca_cert))
    message = clinician_message(
        sender=DOCTOR, patient_ins=seeded.active.ins, subject=subject, with_xdm=False
    )
    started = time.monotonic()
    transcript = await send(gateway.port, tls, DOCTOR, [seeded.active.address], message)
    assert transcript.accepted, transcript
    return time.monotonic() - started


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_hostile_searches_do_not_delay_mx_delivery(
    imap: ImapListener,
    mailbox: Mailbox,
    storage: Storage,
    seeded: Seeded,
    settings: Settings,
    pki: DevPki,
    tmp_path: Path,
) -> None:
    store = AccountMailStore(storage, seeded.active.account_id)
    await store.append("INBOX", [(_message(i), [], None) for i in range(MESSAGES)])
    gateway = InboundListener(settings, storage)
    await gateway.start()
    commands = tmp_path / "commands"
    commands.write_bytes(b"\n".join(HOSTILE))
    pauses: list[float] = []
    started_gc = [0.0]

    def gc_pause(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started_gc[0] = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - started_gc[0])

    stop_probe = asyncio.Event()
    lags: list[float] = []
    probe = asyncio.create_task(_lag_probe(stop_probe, lags))
    client = None
    try:
        quiet = [await _deliver(gateway, pki, seeded, f"calme {i}") for i in range(3)]
        quiet_lag = max(lags)
        lags.clear()
        client = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).with_name("hostile_imap.py")), str(imap.tls_port),
            str(pki.ca_cert), mailbox.address, mailbox.password, str(commands),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert client.stdout is not None and client.stdin is not None
        assert await asyncio.wait_for(client.stdout.readline(), 60) == b"ready\n"
        # The test process's heap (pytest, every fixture) makes a full collection take
        # hundreds of milliseconds, whoever allocates: frozen, collections see only what the
        # server allocates from now on, as they would in a server that froze its heap at start.
        gc.freeze()
        gc.callbacks.append(gc_pause)
        await asyncio.sleep(2)  # the hostile loop is under way
        loaded = [await _deliver(gateway, pki, seeded, f"sous charge {i}") for i in range(5)]
        await asyncio.sleep(5)
        client.stdin.close()
        out, _ = await asyncio.wait_for(client.communicate(), 120)
        hostile = json.loads(out)
    finally:
        if gc_pause in gc.callbacks:
            gc.callbacks.remove(gc_pause)
        gc.unfreeze()
        if client is not None and client.returncode is None:
            client.kill()
        stop_probe.set()
        await probe
        await gateway.stop(grace=10)
    lags.sort()
    p99 = lags[len(lags) * 99 // 100]
    figures = (
        f"MX delivery, quiet: {', '.join(f'{t * 1000:.0f}' for t in quiet)} ms; "
        f"under hostile IMAP: {', '.join(f'{t * 1000:.0f}' for t in loaded)} ms\n"
        f"event-loop lag, quiet: max {quiet_lag * 1000:.1f} ms; under hostile IMAP "
        f"({hostile['rounds']} rounds of {len(HOSTILE)} commands, "
        f"longest {hostile['longest']:.2f} s): median {lags[len(lags) // 2] * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, max {lags[-1] * 1000:.1f} ms "
        f"over {len(lags)} samples; longest garbage collection "
        f"{max(pauses, default=0) * 1000:.0f} ms"
    )
    print("\n" + figures)
    assert hostile["rounds"] >= 1, "the hostile client did not get through its commands"
    answers = hostile["answers"]
    assert answers.pop("1") == ["NO [LIMIT]"], hostile
    assert all(a == ["OK " + a[0][3:]] for a in answers.values()), hostile
    assert max(loaded) < max(MAX_DELIVERY, NOISE * max(quiet)), figures
    assert p99 < max(MAX_LAG, NOISE * quiet_lag), figures
    assert lags[-1] < max(MAX_STALL, NOISE * quiet_lag), figures
