"""Inbound SMTP benchmark: messages per second accepted *and durably stored*, with concurrent
STARTTLS sessions presenting a client certificate, against three servers in the same run:

- **Postfix** (Debian's package), a private instance configured here: TLS required, client
  certificate asked, virtual delivery into maildirs. Postfix answers 250 once its queue file is
  fsync'd and delivers afterwards, so its rate counts until the last message is in a maildir.
- a **bare aiosmtpd sink** (``sink.py``): STARTTLS, each message written and fsync'd, nothing else;
  the floor cost of an SMTP server written in Python here.
- **espace-santé**'s gateway (``espace-sante serve``): every MSSanté check, the message encrypted
  into the blob store, IMAP metadata, the conversation, the record deposit and the audit chain,
  committed before 250.

Two scenarios: small messages (20 KB, a letter and a PDF) and large ones (2 MB, an IHE_XDM.ZIP and
an image). Prints each rate and the ratio ours/Postfix and writes the figures as JSON into
``bench/results/``. Needs root (Postfix) and Debian's postfix package; ``make bench`` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(HERE)]

from espace_sante.cli.demo import DEMO_PATIENTS, DEMO_PROFESSIONALS  # noqa: E402
from espace_sante.policy.addresses import patient_address  # noqa: E402
from fixtures.mssante import clinician_message  # noqa: E402
from smtp_load import LoadResult, Target, run_load  # noqa: E402

PATIENT_DOMAIN = "patient.mssante.fr"
SENDER = DEMO_PROFESSIONALS[0][0]
ESPACE = shutil.which("espace-sante", path=str(Path(sys.executable).parent)) or "espace-sante"
POSTFIX = "/usr/sbin/postfix"
ID_PLACEHOLDER = "<bench-message-id-placeholder@medecin.mssante.fr>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port}")


# -- the servers --------------------------------------------------------------------------------


class Server:
    name = ""
    port = 0

    def delivered(self) -> int:
        """Messages durably stored so far (for servers that store after answering)."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class Ours(Server):
    name = "espace-santé"

    def __init__(self, root: Path, workers: int, database_url: str | None) -> None:
        self.root = root
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update(
            ESPACE_DATA_DIR=str(root),
            ESPACE_SMTP_INBOUND_PORT=str(self.port),
            ESPACE_SMTP_WORKERS=str(workers),
            ESPACE_LOG_LEVEL="warning",
        )
        if database_url:
            self.env["ESPACE_DATABASE_URL"] = database_url
        subprocess.run([ESPACE, "init"], env=self.env, check=True, capture_output=True)
        subprocess.run([ESPACE, "demo"], env=self.env, check=True, capture_output=True)
        self.pki = root / "pki"
        self.env["ESPACE_SMTP_TRUST_CA_FILE"] = str(self.pki / "ca.crt")
        self.log = open(root / "serve.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [ESPACE, "serve"], env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port, "espace-sante serve")

    def delivered(self) -> int:
        return -1  # 250 is only given once stored

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.log.close()


class Sink(Server):
    name = "aiosmtpd sink"

    def __init__(self, root: Path, pki: Path) -> None:
        root.mkdir(parents=True)
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "sink.py"),
                str(self.port),
                str(pki / "server.crt"),
                str(pki / "server.key"),
                str(root),
            ],
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        self.process.stdout.readline()
        wait_for_port(self.port, "the aiosmtpd sink")

    def delivered(self) -> int:
        return -1

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Postfix(Server):
    name = "Postfix"

    def __init__(self, root: Path, pki: Path, recipients: list[str]) -> None:
        self.root = root
        self.port = free_port()
        self.maildirs = root / "maildir"
        for sub in ("queue", "data", "maildir"):
            (root / sub).mkdir(parents=True)
        shutil.chown(self.maildirs, 5000, 5000)
        shutil.chown(root / "data", "postfix", "postfix")
        (root / "vmailbox").write_text(
            # Postfix looks keys up in lower case
            "".join(f"{r.lower()} {r.split('@')[0].lower()}/\n" for r in recipients)
        )
        (root / "main.cf").write_text(
            f"""
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = postfix.bench.test
mydestination =
mynetworks = 127.0.0.0/8
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
message_size_limit = 30000000
virtual_mailbox_limit = 0
virtual_mailbox_domains = {PATIENT_DOMAIN}
virtual_mailbox_base = {self.maildirs}
virtual_mailbox_maps = texthash:{root}/vmailbox
virtual_uid_maps = static:5000
virtual_gid_maps = static:5000
smtpd_tls_cert_file = {pki}/server.crt
smtpd_tls_key_file = {pki}/server.key
smtpd_tls_CAfile = {pki}/ca.crt
smtpd_tls_security_level = encrypt
smtpd_tls_ask_ccert = yes
smtpd_tls_req_ccert = yes
smtpd_tls_mandatory_protocols = >=TLSv1.2
default_process_limit = 100
# nothing leaves this instance (no DNS here): a bounce would wait in the queue
default_transport = error:benchmark instance delivers locally only
"""
        )
        master = []
        for line in Path("/etc/postfix/master.cf").read_text().splitlines():
            fields = line.split()
            if fields[:2] == ["smtp", "inet"]:
                line = f"127.0.0.1:{self.port} inet n - n - - smtpd"
            elif len(fields) >= 8 and not line[0].isspace() and fields[4] == "y":
                fields[4] = "n"  # no chroot: the private queue is not a prepared jail
                line = " ".join(fields)
            master.append(line)
        (root / "master.cf").write_text("\n".join(master) + "\n")
        self._postfix("check")
        self._postfix("start")
        wait_for_port(self.port, "Postfix")

    def _postfix(self, command: str) -> None:
        done = subprocess.run(
            [POSTFIX, "-c", str(self.root), command], capture_output=True, text=True
        )
        if done.returncode != 0:
            log = (self.root / "maillog").read_text() if (self.root / "maillog").exists() else ""
            raise RuntimeError(f"postfix {command}: {done.stderr}{log[-2000:]}")

    def delivered(self) -> int:
        return sum(len(os.listdir(new)) for new in self.maildirs.glob("*/new") if new.is_dir())

    def stop(self) -> None:
        subprocess.run([POSTFIX, "-c", str(self.root), "stop"], capture_output=True)


# -- the messages -------------------------------------------------------------------------------


def build_jobs(count: int, size: int, with_xdm: bool, tag: str) -> list[tuple[str, str, bytes]]:
    """``count`` messages of about ``size`` bytes, spread over the demo patients, each with its
    own Message-ID (the gateway drops repeated ones)."""
    templates = []
    for patient in DEMO_PATIENTS:
        raw = clinician_message(
            sender=SENDER,
            patient_ins=patient.ins,
            patient_domain=PATIENT_DOMAIN,
            with_xdm=with_xdm,
            message_id=ID_PLACEHOLDER,
            pad_to_size=size,
        )
        templates.append((patient_address(patient.ins, PATIENT_DOMAIN), raw))
    jobs = []
    for index in range(count):
        recipient, raw = templates[index % len(templates)]
        message_id = f"<bench-{tag}-{index}-{time.time_ns()}@medecin.mssante.fr>"
        jobs.append((SENDER, recipient, raw.replace(ID_PLACEHOLDER.encode(), message_id.encode())))
    return jobs


# -- measuring ----------------------------------------------------------------------------------


def measure(
    server: Server, target: Target, jobs: list[tuple[str, str, bytes]], sessions: int
) -> dict[str, object]:
    before = server.delivered()
    result, elapsed = run_load(target, jobs, sessions=sessions)
    stored_elapsed = elapsed
    if before >= 0:  # wait until what was accepted is in the maildirs
        started = time.perf_counter() - elapsed
        deadline = time.monotonic() + 600
        while server.delivered() - before < result.sent and time.monotonic() < deadline:
            time.sleep(0.05)
        stored_elapsed = time.perf_counter() - started
    return _figures(result, elapsed, stored_elapsed)


def _figures(result: LoadResult, accepted_s: float, stored_s: float) -> dict[str, object]:
    lat = sorted(result.latencies) or [0.0]
    return {
        "sent": result.sent,
        "errors": len(result.errors),
        "first_errors": result.errors[:5],
        "accepted_per_s": round(result.sent / accepted_s, 1),
        "stored_per_s": round(result.sent / stored_s, 1),
        "latency_ms_p50": round(statistics.median(lat) * 1000, 1),
        "latency_ms_p99": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1),
    }


@contextmanager
def scratch() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="espace-bench-"))
    root.chmod(0o755)  # Postfix's delivery agents run as other users
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def fresh_postgres_database(url: str) -> str:
    """A new empty database next to the one of ``url``; returns its URL."""
    base, _, _ = url.rpartition("/")
    name = "espace_bench"
    admin = base.replace("postgresql+asyncpg", "postgresql") + "/postgres"
    for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", admin, "-q", "-c", sql], check=True, capture_output=True)
    return f"{base}/{name}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--small", type=int, default=2000, help="number of 20 KB messages")
    parser.add_argument("--large", type=int, default=150, help="number of 2 MB messages")
    parser.add_argument("--workers", type=int, default=2, help="gateway worker processes")
    parser.add_argument(
        "--postgres", metavar="URL", help="run the gateway on this PostgreSQL instead of SQLite"
    )
    parser.add_argument("--no-postfix", action="store_true")
    parser.add_argument("--json", type=Path, help="where to write the figures")
    args = parser.parse_args(argv)

    scenarios = [
        ("20 KB", build_jobs(args.small, 20_000, False, "small")),
        ("2 MB + XDM", build_jobs(args.large, 2_000_000, True, "large")),
    ]
    report: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {os.cpu_count()} CPUs, {platform.python_version()}",
        "sessions": args.sessions,
        "workers": args.workers,
        "database": "postgresql" if args.postgres else "sqlite",
        "scenarios": {},
    }
    with scratch() as root:
        database_url = fresh_postgres_database(args.postgres) if args.postgres else None
        recipients = sorted({job[1] for _, jobs in scenarios for job in jobs})
        servers: list[Server] = []
        try:
            ours = Ours(root / "ours", args.workers, database_url)
            servers.append(ours)
            pki = ours.pki
            if not args.no_postfix:
                servers.insert(0, Postfix(root / "postfix", pki, recipients))
            servers.insert(-1, Sink(root / "sink", pki))
            for label, jobs in scenarios:
                figures: dict[str, object] = {}
                for server in servers:
                    target = Target(
                        "127.0.0.1",
                        server.port,
                        pki / "ca.crt",
                        pki / "client.crt",
                        pki / "client.key",
                    )
                    figures[server.name] = measure(server, target, jobs, args.sessions)
                    _print_row(label, server.name, figures[server.name])
                if "Postfix" in figures:
                    ratio = _ratio(figures, "espace-santé", "Postfix")
                    figures["ratio_ours_to_postfix"] = ratio
                    print(f"{label:12} ours / Postfix (stored per second): {ratio}")
                figures["ratio_ours_to_sink"] = _ratio(figures, "espace-santé", "aiosmtpd sink")
                print(f"{label:12} ours / aiosmtpd sink: {figures['ratio_ours_to_sink']}")
                report["scenarios"][label] = figures  # type: ignore[index]
        finally:
            for server in servers:
                server.stop()
    out = args.json or HERE / "results" / f"smtp_inbound-{report['database']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"figures written to {out}")
    errors = sum(
        int(f["errors"])
        for s in report["scenarios"].values()  # type: ignore[attr-defined]
        for f in s.values()
        if isinstance(f, dict)
    )
    return 1 if errors else 0


def _ratio(figures: dict[str, object], ours: str, reference: str) -> float:
    get: Callable[[str], float] = lambda name: float(figures[name]["stored_per_s"])  # type: ignore[index]  # noqa: E731
    return round(get(ours) / get(reference), 2) if get(reference) else 0.0


def _print_row(label: str, name: str, f: dict[str, object]) -> None:
    print(
        f"{label:12} {name:14} sent {f['sent']:>5}  errors {f['errors']:>3}  "
        f"accepted {f['accepted_per_s']:>7}/s  stored {f['stored_per_s']:>7}/s  "
        f"p50 {f['latency_ms_p50']:>7} ms  p99 {f['latency_ms_p99']:>7} ms",
        flush=True,
    )
    for error in f["first_errors"]:  # type: ignore[attr-defined]
        print(f"    {error}")


if __name__ == "__main__":
    sys.exit(main())
