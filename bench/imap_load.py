"""IMAP load benchmark: N concurrent clients, each in its own patient mailbox, doing a realistic
mix over implicit TLS, against espace-santé's IMAP server and, in the same run, a private Dovecot
(Debian's dovecot-imapd) holding the same messages in maildirs.

One client iteration: LOGIN, SELECT INBOX, FETCH 1:* (UID FLAGS ENVELOPE) (the message list),
UID FETCH of one message's BODY.PEEK[] (reading it), UID SEARCH UNSEEN, UID STORE +FLAGS (\\Seen),
APPEND to Drafts, IDLE then DONE, NOOP, LOGOUT. Prints commands per second, latency percentiles
and protocol errors for both servers, and the ratio; writes JSON into ``bench/results/``.
``make bench`` runs it after the SMTP benchmark.

A second scenario, the write-heavy mix (``--mix write``; both run by default), has 10 clients
(``--write-clients``) in mailboxes of their own, each iteration: LIST "" "*", STATUS INBOX, SELECT
INBOX, FETCH 1:* (UID FLAGS), UID STORE of two keywords on one message (added, or removed if
there), APPEND to INBOX, UID STORE +FLAGS (\\Deleted) on the appended message, EXPUNGE. Two
variants: (a) LOGIN and LOGOUT around each iteration, (b) one session per client kept open (the
login before the clock starts). Each run lasts ``--duration`` seconds; it prints iterations per
second, p50/p99 per command for both servers and the ratio ours / Dovecot of iterations per
second. Every error line (a tagged NO or BAD, an untagged NO, BAD or BYE other than LOGOUT's, an
exception) is counted and the first ones printed.
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
from typing import Any

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
    #: command label -> latencies (s), for the write mix's per-command figures
    per_command: dict[str, list[float]] = field(default_factory=dict)
    iterations: int = 0


_UNTAGGED_ERROR = re.compile(rb"\* (NO|BAD|BYE)\b", re.I)


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.n = 0
        self.appended = 0

    async def command(
        self,
        stats: Stats,
        text: str,
        literal: bytes | None = None,
        *,
        label: str | None = None,
    ) -> list[bytes]:
        """Send one command, wait for its tagged answer; count a tagged NO/BAD and an untagged
        NO, BAD or BYE (but LOGOUT's BYE) as errors. ``label`` files its latency by command."""
        self.n += 1
        tag = f"c{self.n}"
        started = time.perf_counter()
        if literal is None:
            self.writer.write(f"{tag} {text}\r\n".encode())
        else:
            self.writer.write(f"{tag} {text} {{{len(literal)}+}}\r\n".encode() + literal + b"\r\n")
        lines = await self.until(tag.encode() + b" ")
        elapsed = time.perf_counter() - started
        stats.latencies.append(elapsed)
        if label is not None:
            stats.per_command.setdefault(label, []).append(elapsed)
        stats.commands += 1
        name = label or text.split()[0]
        if not lines[-1].startswith(tag.encode() + b" OK"):
            stats.errors.append(f"{name}: {lines[-1][:120]!r}")
        for line in lines[:-1]:
            if _UNTAGGED_ERROR.match(line) and not (name == "LOGOUT" and line.startswith(b"* BYE")):
                stats.errors.append(f"{name}: untagged {line[:120]!r}")
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


# -- the write-heavy mix -------------------------------------------------------------------------

KEYWORDS = "($Suivi $Important)"


def _draft(user: str, n: int) -> bytes:
    """A small message as a client saves it (about 2 KB)."""
    return (
        f"From: {user}\r\nTo: {SENDER}\r\nSubject: Question {n}\r\n"
        f"Date: {datetime.now(UTC):%a, %d %b %Y %H:%M:%S +0000}\r\n"
        f"Message-ID: <write-{n}-{random.getrandbits(48):x}@patient.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + "Bonjour docteur, une question sur mon traitement.\r\n"
        * 40
    ).encode()


async def _write_iteration(c: Client, user: str, rng: random.Random, stats: Stats) -> None:
    """LIST, STATUS, SELECT, FETCH flags, STORE keywords, APPEND, STORE \\Deleted, EXPUNGE:
    the mailbox keeps its size from one iteration to the next."""
    await c.command(stats, 'LIST "" "*"', label="LIST")
    await c.command(stats, "STATUS INBOX (MESSAGES UNSEEN UIDNEXT)", label="STATUS")
    await c.command(stats, "SELECT INBOX", label="SELECT")
    listing = await c.command(stats, "FETCH 1:* (UID FLAGS)", label="FETCH")
    flags: dict[int, bytes] = {}
    for line in listing[:-1]:
        m = re.search(rb"UID (\d+)", line)
        f = re.search(rb"FLAGS \(([^)]*)\)", line)
        if m and f:
            flags[int(m.group(1))] = f.group(1)
    if flags:
        uid = rng.choice(sorted(flags))
        sign = "-" if b"$Suivi" in flags[uid] else "+"
        await c.command(stats, f"UID STORE {uid} {sign}FLAGS {KEYWORDS}", label="STORE keywords")
    c.appended += 1
    answer = await c.command(
        stats, "APPEND INBOX (\\Seen $Brouillon)", _draft(user, c.appended), label="APPEND"
    )
    m = re.search(rb"\[APPENDUID \d+ (\d+)\]", answer[-1])
    if m is None:
        stats.errors.append(f"APPEND: no APPENDUID in {answer[-1][:120]!r}")
        return
    await c.command(
        stats, f"UID STORE {int(m.group(1))} +FLAGS.SILENT (\\Deleted)", label="STORE \\Deleted"
    )
    await c.command(stats, "EXPUNGE", label="EXPUNGE")


async def _connect_login(port: int, tls: ssl.SSLContext, user: str, password: str,
                         stats: Stats) -> Client:  # fmt: skip
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls)
    c = Client(reader, writer)
    greeting = await c.until(b"* ")
    stats.per_command.setdefault("connect (TCP, TLS, greeting)", []).append(
        time.perf_counter() - started
    )
    if not greeting[-1].startswith(b"* OK"):
        stats.errors.append(f"greeting: {greeting[-1][:120]!r}")
    await c.command(stats, f'LOGIN "{user}" "{password}"', label="LOGIN")
    return c


async def _write_client(
    port: int,
    tls: ssl.SSLContext,
    user: str,
    password: str,
    stats: Stats,
    *,
    per_iteration_login: bool,
    warmup: int,
    warm: asyncio.Barrier,
    go: asyncio.Event,
    clock: dict[str, float],
) -> None:
    """Warm-up iterations (not counted), then iterations until ``clock["deadline"]``."""
    rng = random.Random(user)
    scratch = Stats()  # the warm-up's figures are dropped
    c: Client | None = None
    try:
        for _ in range(warmup):
            c = c or await _connect_login(port, tls, user, password, scratch)
            await _write_iteration(c, user, rng, scratch)
            if per_iteration_login:
                await c.command(scratch, "LOGOUT", label="LOGOUT")
                c.writer.close()
                c = None
        if not per_iteration_login and c is None:
            c = await _connect_login(port, tls, user, password, scratch)
    except (OSError, ConnectionError, TimeoutError, AttributeError) as exc:
        stats.errors.append(f"warm-up: {exc!r}")
        c = None
    stats.errors.extend(f"warm-up {e}" for e in scratch.errors)
    await warm.wait()
    await go.wait()
    while time.perf_counter() < clock["deadline"]:
        try:
            if c is None:
                c = await _connect_login(port, tls, user, password, stats)
            await _write_iteration(c, user, rng, stats)
            if per_iteration_login:
                await c.command(stats, "LOGOUT", label="LOGOUT")
                c.writer.close()
                c = None
            stats.iterations += 1
        except (OSError, ConnectionError, TimeoutError, AttributeError) as exc:
            stats.errors.append(f"session: {exc!r}")
            c = None
    clock["ended"] = max(clock.get("ended", 0.0), time.perf_counter())
    if c is not None:
        try:
            await c.command(Stats(), "LOGOUT", label="LOGOUT")
        except (OSError, ConnectionError, TimeoutError) as exc:
            stats.errors.append(f"final LOGOUT: {exc!r}")
        c.writer.close()


async def run_write_load(
    port: int,
    tls: ssl.SSLContext,
    users: list[tuple[str, str]],
    duration: float,
    per_iteration_login: bool,
    warmup: int,
) -> tuple[Stats, float]:
    stats = Stats()
    clock: dict[str, float] = {}
    warm, go = asyncio.Barrier(len(users) + 1), asyncio.Event()
    tasks = [
        asyncio.ensure_future(
            _write_client(
                port,
                tls,
                u,
                p,
                stats,
                per_iteration_login=per_iteration_login,
                warmup=warmup,
                warm=warm,
                go=go,
                clock=clock,
            )
        )
        for u, p in users
    ]
    await warm.wait()  # every client has done its warm-up (and, in one session, logged in)
    clock["started"] = time.perf_counter()
    clock["deadline"] = clock["started"] + duration
    go.set()
    await asyncio.gather(*tasks)
    return stats, clock.get("ended", time.perf_counter()) - clock["started"]


def write_figures(stats: Stats, elapsed: float) -> dict[str, object]:
    def ms(values: list[float], p: float) -> float:
        lat = sorted(values)
        return round(lat[min(len(lat) - 1, int(len(lat) * p))] * 1000, 1)

    return {
        "iterations": stats.iterations,
        "seconds": round(elapsed, 1),
        "iterations_per_s": round(stats.iterations / elapsed, 2),
        "commands": stats.commands,
        "commands_per_s": round(stats.commands / elapsed, 1),
        "per_command_ms": {
            name: {"n": len(v), "p50": ms(v, 0.5), "p99": ms(v, 0.99)}
            for name, v in stats.per_command.items()
        },
        "errors": len(stats.errors),
        "first_errors": stats.errors[:8],
    }


WRITE_COMMANDS = (
    "connect (TCP, TLS, greeting)", "LOGIN", "LIST", "STATUS", "SELECT", "FETCH",
    "STORE keywords", "APPEND", "STORE \\Deleted", "EXPUNGE", "LOGOUT",
)  # fmt: skip


def print_write_pair(variant: str, dovecot: dict[str, Any], ours: dict[str, Any]) -> float:
    """The two servers' figures side by side; returns the ratio of iterations per second."""
    ratio = round(ours["iterations_per_s"] / dovecot["iterations_per_s"], 2)
    print(f"\nwrite mix, {variant}:")
    for name, f in (("Dovecot", dovecot), ("espace-santé", ours)):
        print(
            f"  {name:13} {f['iterations']:>5} iterations in {f['seconds']:>5} s  "
            f"{f['iterations_per_s']:>7}/s  {f['commands_per_s']:>7} commands/s  "
            f"errors {f['errors']}"
        )
        for error in f["first_errors"]:
            print(f"      {error}")
    print(f"  {'p50 / p99 ms':30} {'Dovecot':>17} {'espace-santé':>17}")
    for command in WRITE_COMMANDS:
        d, o = dovecot["per_command_ms"].get(command), ours["per_command_ms"].get(command)
        if d is None and o is None:
            continue
        cell = lambda x: f"{x['p50']:>7} / {x['p99']:>7}" if x else f"{'—':>17}"  # noqa: E731
        print(f"  {command:30} {cell(d)} {cell(o)}")
    print(f"  ours / Dovecot (iterations per second): {ratio}", flush=True)
    return ratio


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
    data_dir: Path, clients: int, per_box: int, first: int = 0
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
        for i in range(first, first + clients):
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
    parser.add_argument("--mix", choices=("read", "write", "both"), default="both")
    parser.add_argument("--clients", type=int, default=20, help="read mix: clients")
    parser.add_argument("--iterations", type=int, default=10, help="read mix: sessions per client")
    parser.add_argument("--messages", type=int, default=25, help="messages per mailbox")
    parser.add_argument("--write-clients", type=int, default=10, help="write mix: clients")
    parser.add_argument(
        "--duration", type=float, default=30.0, help="write mix: seconds per run (4 runs)"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="write mix: uncounted iterations per client"
    )
    parser.add_argument("--workers", type=int, default=2, help="our worker processes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    read_mix, write_mix = args.mix in ("read", "both"), args.mix in ("write", "both")

    root = Path(tempfile.mkdtemp(prefix="espace-imapbench-"))
    root.chmod(0o755)
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {os.cpu_count()} CPUs, {platform.python_version()}",
        "load_average_before": os.getloadavg(),
        "messages_per_mailbox": args.messages,
        "workers": args.workers,
    }
    serve = None
    dovecot = None
    try:
        data = root / "ours"
        env = {**os.environ, "ESPACE_DATA_DIR": str(data), "ESPACE_LOG_LEVEL": "warning"}
        subprocess.run([ESPACE, "init"], env=env, check=True, capture_output=True)
        read_boxes = asyncio.run(seed_ours(data, args.clients, args.messages)) if read_mix else []
        write_boxes = (
            asyncio.run(seed_ours(data, args.write_clients, args.messages, first=1000))
            if write_mix
            else []
        )
        pki = data / "pki"
        tls = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        tls.check_hostname = False

        # Dovecot checks the same argon2id hashes as we do (our app passwords' PasswordHasher:
        # m=64 MiB, t=3, p=4); its libsodium reads the parameters from each hash.
        hasher = PasswordHasher()
        dovecot = Dovecot(
            users={
                addr: "{ARGON2ID}" + hasher.hash(pw) for addr, pw, _ in read_boxes + write_boxes
            },
            cert=pki / "server.crt",
            key=pki / "server.key",
        )
        for addr, _, raws in read_boxes + write_boxes:
            dovecot.add_messages(raws, user=addr)
        dovecot.start()

        imap_port, tls_port = free_port(), free_port()
        env.update(
            ESPACE_SMTP_INBOUND_PORT=str(free_port()),
            ESPACE_IMAP_PORT=str(imap_port),
            ESPACE_IMAP_TLS_PORT=str(tls_port),
            ESPACE_SMTP_WORKERS=str(args.workers),
            # ports of our own for the other listeners too: a `make run` may hold the defaults
            ESPACE_SUBMISSION_PORT=str(free_port()),
            ESPACE_SUBMISSION_TLS_PORT=str(free_port()),
            ESPACE_WEB_PORT=str(free_port()),
        )
        serve_log = root / "serve.log"
        with serve_log.open("wb") as log:
            serve = subprocess.Popen([ESPACE, "serve"], env=env, stdout=log,
                                     stderr=subprocess.STDOUT)  # fmt: skip
        _wait(tls_port, serve, serve_log)
        if read_mix:
            report["read_mix"] = _read_mix(
                [(a, p) for a, p, _ in read_boxes], tls, dovecot.tls_port, tls_port, args
            )
            report.update(report["read_mix"])  # the keys of the previous reports, unchanged
        if write_mix:
            report["write_mix"] = _write_mix(
                [(a, p) for a, p, _ in write_boxes], tls, dovecot.tls_port, tls_port, args
            )
        report["load_average_after"] = os.getloadavg()
    finally:
        if serve is not None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
        if dovecot is not None:
            dovecot.stop()
        shutil.rmtree(root, ignore_errors=True)
    out = args.json or HERE / "results" / "imap_load.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"figures written to {out}")
    errors = sum(int(r["errors"]) for r in report.get("results", {}).values())
    errors += sum(int(r["errors"]) for r in report.get("write_mix", {}).get("results", {}).values())
    return 1 if errors else 0


def _read_mix(
    users: list[tuple[str, str]], tls: ssl.SSLContext, dovecot_port: int, our_port: int,
    args: argparse.Namespace,
) -> dict[str, Any]:  # fmt: skip
    print(f"read mix: {len(users)} clients, {args.iterations} rounds each", flush=True)
    results = {}
    runs = (
        ("Dovecot", dovecot_port, False),
        ("espace-santé", our_port, False),
        ("Dovecot, one session", dovecot_port, True),
        ("espace-santé, one session", our_port, True),
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
    return {
        "clients": len(users),
        "iterations": args.iterations,
        "results": results,
        "ratio_ours_to_dovecot": ratio,
        "ratio_ours_to_dovecot_one_session": reused,
    }


def _write_mix(
    users: list[tuple[str, str]], tls: ssl.SSLContext, dovecot_port: int, our_port: int,
    args: argparse.Namespace,
) -> dict[str, Any]:  # fmt: skip
    print(
        f"\nwrite mix: {len(users)} clients, {args.duration:g} s per run "
        f"after {args.warmup} warm-up iteration(s) per client",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    ratios: dict[str, float] = {}
    for variant, login in (("a login per iteration", True), ("one session per client", False)):
        for server, port in (("Dovecot", dovecot_port), ("espace-santé", our_port)):
            stats, elapsed = asyncio.run(
                run_write_load(port, tls, users, args.duration, login, args.warmup)
            )
            results[f"{server}, {variant}"] = write_figures(stats, elapsed)
        ratios[variant] = print_write_pair(
            variant, results[f"Dovecot, {variant}"], results[f"espace-santé, {variant}"]
        )
    print(
        "\nwrite mix, ours / Dovecot (iterations per second): "
        f"{ratios['a login per iteration']} with a login per iteration; "
        f"{ratios['one session per client']} with one session per client",
        flush=True,
    )
    return {
        "clients": len(users),
        "duration_s": args.duration,
        "warmup_iterations": args.warmup,
        "results": results,
        "ratio_ours_to_dovecot_login_per_iteration": ratios["a login per iteration"],
        "ratio_ours_to_dovecot_one_session": ratios["one session per client"],
    }


def _wait(port: int, serve: subprocess.Popen[bytes], log: Path) -> None:
    """Until ``serve`` listens on ``port`` (a loaded machine may take a while)."""
    import socket

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and serve.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    tail = log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"espace-sante serve did not start:\n{tail}")


if __name__ == "__main__":
    sys.exit(main())
