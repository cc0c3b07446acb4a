"""An SMTP load generator: concurrent STARTTLS sessions with a client certificate, each sending
its share of the messages over one connection, as a clinician operator's relay would.

Used by ``smtp_inbound.py`` against every server of a run, so the client's own cost is the same
for all of them. The sessions are spread over several processes so that the client is not
limited to one core.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LoadResult:
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds from MAIL to the final 250

    def merge(self, other: LoadResult) -> None:
        self.sent += other.sent
        self.errors.extend(other.errors)
        self.latencies.extend(other.latencies)


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    ca_file: Path
    client_cert: Path
    client_key: Path


class _Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def reply(self) -> tuple[int, str]:
        lines = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("connection closed by the server")
            lines.append(line.decode("ascii", "replace").rstrip())
            if line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    async def command(self, text: str, expect: int) -> str:
        self.writer.write(text.encode("ascii") + b"\r\n")
        code, reply = await self.reply()
        if code != expect:
            raise RuntimeError(f"{text.split()[0]}: {reply}")
        return reply


def _dot_stuff(message: bytes) -> bytes:
    body = message.replace(b"\r\n.", b"\r\n..")
    if body.startswith(b"."):
        body = b"." + body
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


async def _one_session(
    target: Target, tls: ssl.SSLContext, jobs: list[tuple[str, str, bytes]], result: LoadResult
) -> None:
    reader, writer = await asyncio.open_connection(target.host, target.port)
    session = _Session(reader, writer)
    try:
        code, greeting = await session.reply()
        if code != 220:
            raise RuntimeError(greeting)
        await session.command("EHLO bench.client.test", 250)
        await session.command("STARTTLS", 220)
        await writer.start_tls(tls, server_hostname="localhost")
        await session.command("EHLO bench.client.test", 250)
        for sender, recipient, message in jobs:
            started = time.perf_counter()
            try:
                await session.command(f"MAIL FROM:<{sender}> SIZE={len(message)}", 250)
                await session.command(f"RCPT TO:<{recipient}>", 250)
                await session.command("DATA", 354)
                writer.write(_dot_stuff(message))
                code, reply = await session.reply()
                if code != 250:
                    raise RuntimeError(f"end of DATA: {reply}")
            except RuntimeError as exc:
                result.errors.append(str(exc))
                await session.command("RSET", 250)
                continue
            result.latencies.append(time.perf_counter() - started)
            result.sent += 1
        await session.command("QUIT", 221)
    except (OSError, ConnectionError, RuntimeError) as exc:
        result.errors.append(f"session: {exc!r}")
    finally:
        writer.close()


def _client_context(target: Target) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(target.ca_file))
    ctx.check_hostname = False
    ctx.load_cert_chain(str(target.client_cert), str(target.client_key))
    return ctx


async def _run_sessions(target: Target, sessions: list[list[tuple[str, str, bytes]]]) -> LoadResult:
    tls = _client_context(target)
    result = LoadResult()
    await asyncio.gather(*(_one_session(target, tls, jobs, result) for jobs in sessions))
    return result


def _process_main(target: Target, sessions: list[list[tuple[str, str, bytes]]]) -> LoadResult:
    return asyncio.run(_run_sessions(target, sessions))


def run_load(
    target: Target,
    jobs: list[tuple[str, str, bytes]],
    *,
    sessions: int,
    processes: int = 2,
) -> tuple[LoadResult, float]:
    """Send ``jobs`` (sender, recipient, message) over ``sessions`` connections; return the result
    and the wall-clock seconds from the first connection to the last QUIT."""
    per_session: list[list[tuple[str, str, bytes]]] = [[] for _ in range(sessions)]
    for index, job in enumerate(jobs):
        per_session[index % sessions].append(job)
    groups: list[list[list[tuple[str, str, bytes]]]] = [[] for _ in range(processes)]
    for index, share in enumerate(per_session):
        groups[index % processes].append(share)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(processes) as pool:
        started = time.perf_counter()
        parts = pool.starmap(_process_main, [(target, group) for group in groups])
        elapsed = time.perf_counter() - started
    total = LoadResult()
    for part in parts:
        total.merge(part)
    return total, elapsed
