"""IMAP load benchmark: N concurrent clients, each in its own patient mailbox, doing a realistic
mix over implicit TLS, against espace-santé's IMAP server and, in the same run, a private Dovecot
(Debian's dovecot-imapd) holding the same messages in maildirs.

One client iteration: LOGIN, SELECT INBOX, FETCH 1:* (UID FLAGS ENVELOPE) (the message list),
UID FETCH of one message's BODY.PEEK[] (reading it), UID SEARCH UNSEEN, UID STORE +FLAGS (\\Seen),
APPEND to Drafts, IDLE then DONE, NOOP, LOGOUT. Prints commands per second, latency percentiles
and protocol errors for both servers, and the ratio; writes JSON into ``bench/results/``.
``make bench`` runs it after the SMTP benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(HERE)]

from mailbox.dovecot_peer import Dovecot  # noqa: E402

from argon2 import PasswordHasher  # noqa: E402

from fixtures.mssante import clinician_message, valid_nir  # noqa: E402

ESPACE = shutil.which("espace-sante", path=str(Path(sys.executable).parent)) or "espace-sante"
SENDER = "jean.dupont@medecin.mssante.fr"


@dataclass
class Stats:
    commands: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.n = 0

    async def command(self, stats: Stats, text: str, literal: bytes | None = None) -> list[bytes]:
        self.n += 1
        tag = f"c{self.n}"
        started = time.perf_counter()
        if literal is None:
            self.writer.write(f"{tag} {text}\r\n".encode())
        else:
            self.writer.write(f"{tag} {text} {{{len(literal)}+}}\r\n".encode() + literal + b"\r\n")
        lines = await self.until(tag.encode() + b" ")
        stats.latencies.append(time.perf_counter() - started)
        stats.commands += 1
        if not lines[-1].startswith(tag.encode() + b" OK"):
            stats.errors.append(f"{text.split()[0]}: {lines[-1][:120]!r}")
        return lines

    async def until(self, prefix: bytes) -> list[bytes]:
        lines = []
        while True:
            line = await asyncio.wait_for(self.reader.readline(), 60)
            if not line:
                raise ConnectionError("closed")
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if m:
                line += await self.reader.readexactly(int(m.group(1)))
                line += await self.reader.readline()
            lines.append(line)
            if line.startswith(prefix):
                return lines


async def one_client(
    port: int,
    tls: ssl.SSLContext,
    user: str,
    password: str,
    iterations: int,
    stats: Stats,
    reuse: bool = False,
) -> None:
    """``iterations`` rounds of the mix; each in its own session (LOGIN to LOGOUT), or all in
    one session when ``reuse`` (to see the protocol cost without the password check's)."""
    rng = random.Random(user)
    c: Client | None = None
    for _ in range(iterations):
        try:
            if c is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls)
                c = Client(reader, writer)
                await c.until(b"* OK")
                await c.command(stats, f'LOGIN "{user}" "{password}"')
            await _mix(c, rng, stats)
            if not reuse:
                await _logout(c, stats)
                c = None
        except (OSError, ConnectionError, TimeoutError, AttributeError) as exc:
            stats.errors.append(f"session: {exc!r}")
            c = None
    if c is not None:
        await _logout(c, stats)


async def _mix(c: Client, rng: random.Random, stats: Stats) -> None:
    selected = b"".join(await c.command(stats, "SELECT INBOX"))
    exists = int(re.search(rb"\* (\d+) EXISTS", selected).group(1))  # type: ignore[union-attr]
    listing = b"".join(await c.command(stats, "FETCH 1:* (UID FLAGS ENVELOPE)"))
    uids = [int(u) for u in re.findall(rb"UID (\d+)", listing)]
    if exists and uids:
        await c.command(stats, f"UID FETCH {rng.choice(uids)} (BODY.PEEK[])")
        await c.command(stats, "UID SEARCH UNSEEN")
        await c.command(stats, f"UID STORE {rng.choice(uids)} +FLAGS (\\Seen)")
    draft = b"From: patient\r\nSubject: brouillon\r\n\r\n" + b"x" * 500 + b"\r\n"
    await c.command(stats, "APPEND Drafts (\\Draft)", draft)
    c.n += 1
    started = time.perf_counter()
    c.writer.write(f"c{c.n} IDLE\r\n".encode())
    await c.until(b"+")
    c.writer.write(b"DONE\r\n")
    done = await c.until(f"c{c.n} ".encode())
    stats.latencies.append(time.perf_counter() - started)
    stats.commands += 1
    if b" OK" not in done[-1]:
        stats.errors.append(f"IDLE: {done[-1]!r}")
    await c.command(stats, "NOOP")


async def _logout(c: Client, stats: Stats) -> None:
    c.n += 1
    c.writer.write(f"c{c.n} LOGOUT\r\n".encode())
    await c.until(f"c{c.n} ".encode())
    stats.commands += 1
    c.writer.close()


async def run_load(
    port: int, tls: ssl.SSLContext, users: list[tuple[str, str]], iterations: int, reuse: bool
) -> tuple[Stats, float]:
    stats = Stats()
    started = time.perf_counter()
    await asyncio.gather(*(one_client(port, tls, u, p, iterations, stats, reuse) for u, p in users))
    return stats, time.perf_counter() - started


def figures(stats: Stats, elapsed: float) -> dict[str, object]:
    lat = sorted(stats.latencies) or [0.0]

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(len(lat) * p))] * 1000, 1)

    return {
        "commands": stats.commands,
        "commands_per_s": round(stats.commands / elapsed, 1),
        "latency_ms_p50": round(statistics.median(lat) * 1000, 1),
        "latency_ms_p95": pct(0.95),
        "latency_ms_p99": pct(0.99),
        "errors": len(stats.errors),
        "first_errors": stats.errors[:5],
    }


# -- setting up both servers with the same mailboxes --------------------------------------------


def messages_for(ins: str, count: int) -> list[bytes]:
    return [
        clinician_message(
            sender=SENDER,
            patient_ins=ins,
            subject=f"Compte rendu {i}",
            with_xdm=i % 3 == 0,
            message_id=f"<bench-{ins}-{i}@medecin.mssante.fr>",
        )
        for i in range(count)
    ]


async def seed_ours(
    data_dir: Path, clients: int, per_box: int
) -> list[tuple[str, str, list[bytes]]]:
    """Patients with delivered messages and an app password each, through the real code."""
    import email
    import email.policy

    from espace_sante.accounts.app_passwords import add_app_password
    from espace_sante.accounts.patients import NewPatient, create_patient
    from espace_sante.config import load_settings
    from espace_sante.mailbox.store import ensure_default_folders
    from espace_sante.mta.delivery import Delivering
    from espace_sante.policy.ins import DEMO_NIR_OID
    from espace_sante.storage.engine import transaction
    from espace_sante.storage.runtime import Storage

    storage = Storage.open(load_settings(None, {"ESPACE_DATA_DIR": str(data_dir)}))
    delivering = Delivering(storage)
    out = []
    try:
        for i in range(clients):
            ins = valid_nir(f"2800175{i:06d}")
            async with transaction(storage.sessions) as s:
                record = await create_patient(
                    s, storage.keyring,
                    NewPatient(
                        ins, DEMO_NIR_OID, f"BENCH{i}", "Test", date(1980, 1, 15), "F", "75112"
                    ),
                    patient_domain=storage.settings.mssante.patient_domain,
                    accept_test_ins=True,
                )  # fmt: skip
                await ensure_default_folders(s, record.account_id)
            raws = messages_for(ins, per_box)

            async def deliver(raw: bytes, rec: object = record) -> None:
                parsed = email.message_from_bytes(raw, policy=email.policy.default)
                await delivering.deliver(
                    raw=raw, parsed=parsed, envelope_sender=SENDER,  # type: ignore[arg-type]
                    recipients=[rec], received_at=datetime.now(UTC),  # type: ignore[list-item]
                )  # fmt: skip

            await asyncio.gather(*(deliver(r) for r in raws))
            async with transaction(storage.sessions) as s:
                _, secret = await add_app_password(s, record.address, "bench")
            out.append((record.address, secret, raws))
    finally:
        await storage.close()
    return out


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=10, help="sessions per client")
    parser.add_argument("--messages", type=int, default=25, help="messages per mailbox")
    parser.add_argument("--workers", type=int, default=2, help="our worker processes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="espace-imapbench-"))
    root.chmod(0o755)
    report: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {os.cpu_count()} CPUs, {platform.python_version()}",
        "clients": args.clients,
        "iterations": args.iterations,
        "messages_per_mailbox": args.messages,
        "workers": args.workers,
    }
    serve = None
    dovecot = None
    try:
        data = root / "ours"
        env = {**os.environ, "ESPACE_DATA_DIR": str(data), "ESPACE_LOG_LEVEL": "warning"}
        subprocess.run([ESPACE, "init"], env=env, check=True, capture_output=True)
        boxes = asyncio.run(seed_ours(data, args.clients, args.messages))
        pki = data / "pki"
        tls = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        tls.check_hostname = False

        # Dovecot checks the same argon2id cost per login as we do (our app passwords)
        hasher = PasswordHasher()
        dovecot = Dovecot(
            users={addr: "{ARGON2ID}" + hasher.hash(pw) for addr, pw, _ in boxes},
            cert=pki / "server.crt",
            key=pki / "server.key",
        )
        for addr, _, raws in boxes:
            dovecot.add_messages(raws, user=addr)
        dovecot.start()

        imap_port, tls_port = free_port(), free_port()
        env.update(
            ESPACE_SMTP_INBOUND_PORT=str(free_port()),
            ESPACE_IMAP_PORT=str(imap_port),
            ESPACE_IMAP_TLS_PORT=str(tls_port),
            ESPACE_SMTP_WORKERS=str(args.workers),
        )
        serve = subprocess.Popen([ESPACE, "serve"], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.STDOUT)  # fmt: skip
        _wait(tls_port)
        users = [(addr, pw) for addr, pw, _ in boxes]
        results = {}
        runs = (
            ("Dovecot", dovecot.tls_port, False),
            ("espace-santé", tls_port, False),
            ("Dovecot, one session", dovecot.tls_port, True),
            ("espace-santé, one session", tls_port, True),
        )
        for name, port, reuse in runs:
            stats, elapsed = asyncio.run(run_load(port, tls, users, args.iterations, reuse))
            results[name] = figures(stats, elapsed)
            f = results[name]
            print(
                f"{name:26} {f['commands']:>6} commands  {f['commands_per_s']:>8}/s  "
                f"p50 {f['latency_ms_p50']:>6} ms  p95 {f['latency_ms_p95']:>6} ms  "
                f"p99 {f['latency_ms_p99']:>6} ms  errors {f['errors']}",
                flush=True,
            )
            for error in f["first_errors"]:  # type: ignore[attr-defined]
                print(f"    {error}")
        ratio = round(
            float(results["espace-santé"]["commands_per_s"])  # type: ignore[arg-type]
            / float(results["Dovecot"]["commands_per_s"]),  # type: ignore[arg-type]
            2,
        )
        reused = round(
            float(results["espace-santé, one session"]["commands_per_s"])  # type: ignore[arg-type]
            / float(results["Dovecot, one session"]["commands_per_s"]),  # type: ignore[arg-type]
            2,
        )
        print(f"ours / Dovecot (commands per second): {ratio}; one session per client: {reused}")
        report["results"] = results
        report["ratio_ours_to_dovecot"] = ratio
        report["ratio_ours_to_dovecot_one_session"] = reused
    finally:
        if serve is not None:
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=30)
        if dovecot is not None:
            dovecot.stop()
        shutil.rmtree(root, ignore_errors=True)
    out = args.json or HERE / "results" / "imap_load.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"figures written to {out}")
    errors = sum(int(r["errors"]) for r in report.get("results", {}).values())  # type: ignore[union-attr, call-overload]
    return 1 if errors else 0


def _wait(port: int) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("espace-sante serve did not start")


if __name__ == "__main__":
    sys.exit(main())
