"""Web latency of the record pages: N concurrent logged-in patients on the real site, against a
bare Starlette page of the same size served by the same uvicorn, in the same run.

Setup, in a temporary data directory (SQLite, or a fresh database on ``--postgres URL``): 50
patients with an active space, each with 20 documents, one of them with 10,000 (deposited in
batches through ``records.deposit.deposit_documents_sync``; the rows of a record share two real
encrypted blobs, a small PDF and a small CDA R2 XML, written by ``storage.blob_rows``), and a
web session per patient opened directly with ``accounts.websessions.create`` (the login flow's
cost — argon2, one-time code — is not what is measured).

Servers, each in its own process (the load generator keeps its own core's event loop): the
whole site (``cli.webapp.create_app`` served by ``web.serve.WebListener``: uvicorn, the security
middleware, sessions, templates), and the floor: a Starlette app with one route returning an
HTML page as large as our list page, no middleware, under uvicorn with the same options.

Load: one httpx client per patient (keep-alive, session cookie), all concurrent; each iteration
is GET /documents, GET /documents?page=2 and GET /documents/{id} (a PDF or a CDA document of the
patient, alternately). Every response must be a 200 with the expected title (errors are
counted and printed). The floor gets as many requests at the same concurrency. Prints the
percentiles and the ratios to the floor; writes ``bench/results/web_load-<db>.json``.
``make bench`` runs it after the IMAP benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

#: The aim of the issue: p99 of every record page under this, on this machine.
AIM_P99_MS = 100.0
LIST_TITLE = "Mes documents de santé"
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
TYPES = (  # (class code, LOINC type code, title)
    ("10", "11488-4", "Compte rendu de consultation"),
    ("11", "18748-4", "Compte rendu d'imagerie"),
    ("12", "11502-2", "Compte rendu de biologie"),
    ("13", "34133-9", "Synthèse médicale"),
    ("10", "57833-6", "Prescription de médicaments"),
)
AUTHORS = ("Jean DUPONT", "Marie MARTIN", "Paul DURAND", "Claire PETIT", "Luc BERNARD")


# -- the servers (entry points of the child processes) ------------------------------------------


class Tracer:
    """``--trace``: in the server process, per kind of page, the time from the request to the
    end of its response, the SQL statements' time (each including aiosqlite's thread hop) and
    the SQLite write gate's wait and hold (``storage.engine``'s single writer)."""

    def __init__(self) -> None:
        import weakref

        self.of_task: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        self.times: dict[str, dict[str, list[float]]] = {}

    def kind(self) -> str:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        return self.of_task.get(task, "other") if task is not None else "thread"

    def add(self, kind: str, what: str, seconds: float) -> None:
        self.times.setdefault(kind, {}).setdefault(what, []).append(seconds * 1000)

    def wrap(self, app: Any) -> Any:
        async def traced(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            path = scope["path"]
            kind = "other"
            if path == "/documents":
                kind = "list2" if b"page=" in scope["query_string"] else "list"
            elif path.startswith("/documents/"):
                kind = "document"
            task = asyncio.current_task()
            self.of_task[task] = kind
            started = time.perf_counter()
            try:
                await app(scope, receive, send)
            finally:
                self.add(kind, "request", time.perf_counter() - started)

        return traced

    def install(self, engine: Any) -> None:
        from contextlib import asynccontextmanager

        from sqlalchemy import event

        from espace_sante.storage import engine as engine_module

        tracer = self
        original = engine_module._WriteGate.held

        @asynccontextmanager
        async def held(gate: Any) -> Any:
            kind, asked = tracer.kind(), time.perf_counter()
            async with original(gate):
                got = time.perf_counter()
                tracer.add(kind, "gate_wait", got - asked)
                try:
                    yield
                finally:
                    tracer.add(kind, "gate_hold", time.perf_counter() - got)

        engine_module._WriteGate.held = held  # type: ignore[method-assign]

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            conn.info.setdefault("bench_started", []).append(time.perf_counter())

        @event.listens_for(engine.sync_engine, "after_cursor_execute")
        def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            started = conn.info["bench_started"].pop()
            tracer.add(tracer.kind(), "sql", time.perf_counter() - started)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        requests_of = {k: len(v.get("request", [])) for k, v in self.times.items()}
        for kind, measures in sorted(self.times.items()):
            n = max(1, requests_of.get(kind, 0))
            row: dict[str, Any] = {"requests": requests_of.get(kind, 0)}
            for what, values in sorted(measures.items()):
                ordered = sorted(values)
                row[what] = {
                    "count_per_request": round(len(values) / n, 2),
                    "ms_per_request": round(sum(values) / n, 2),
                    "p50_ms": round(ordered[len(ordered) // 2], 2),
                    "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
                }
            out[kind] = row
        return out


def serve_site(env: dict[str, str], profile: Path | None, trace: Path | None) -> None:
    """``--serve``: the whole site on ``ESPACE_WEB_PORT`` until SIGTERM (optionally profiled or
    traced)."""
    from espace_sante.cli.webapp import create_app
    from espace_sante.config import load_settings
    from espace_sante.storage.runtime import Storage
    from espace_sante.web.serve import WebListener

    tracer = Tracer() if trace is not None else None

    async def run() -> None:
        settings = load_settings(None, env)
        storage = Storage.open(settings)
        app: Any = create_app(settings, storage)
        if tracer is not None:
            tracer.install(storage.engine)
            app = tracer.wrap(app)
        listener = WebListener(settings, storage, app)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await listener.start()
        await stop.wait()
        await listener.stop()
        await storage.close()

    try:
        if profile is None:
            asyncio.run(run())
            return
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        try:
            asyncio.run(run())
        finally:
            profiler.disable()
            profiler.dump_stats(profile)
    finally:
        if tracer is not None and trace is not None:
            trace.write_text(json.dumps(tracer.summary(), indent=2))


def serve_floor(port: int, size: int) -> None:
    """``--floor``: one route, an HTML page of ``size`` bytes, no middleware, until SIGTERM."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    head = f"<!doctype html><html lang=fr><head><title>{LIST_TITLE}</title></head><body><main>"
    tail = "</main></body></html>"
    body = (head + "x" * max(0, size - len((head + tail).encode())) + tail).encode()

    async def page(request: object) -> HTMLResponse:
        return HTMLResponse(body)

    app = Starlette(routes=[Route("/page", page)])
    uvicorn.run(
        app, host="127.0.0.1", port=port, lifespan="off", server_header=False,
        date_header=True, access_log=False, log_level="warning", proxy_headers=False,
    )  # fmt: skip


# -- setup --------------------------------------------------------------------------------------


@dataclass
class Patient:
    account_id: int
    address: str
    token: str
    visible: int  # how many documents the list announces
    #: (id, title, kind) of documents the patient may see, kind "pdf" or "cda"
    documents: list[tuple[int, str, str]] = field(default_factory=list)
    big: bool = False


def _new_documents(
    pdf: Any, cda: Any, count: int, rng: random.Random, now: datetime
) -> list[tuple[Any, str, bool]]:
    """``count`` NewDocuments alternating between the two blobs: (document, kind, visible)."""
    from espace_sante.policy.record_access import INVISIBLE_PATIENT, MASQUE_PS
    from espace_sante.records.deposit import NewDocument

    out = []
    for j in range(count):
        blob, kind = (pdf, "pdf") if j % 2 == 0 else (cda, "cda")
        class_code, type_code, title = TYPES[j % len(TYPES)]
        visibility: frozenset[str] = frozenset()
        if j % 7 == 3:
            visibility = frozenset({MASQUE_PS})
        hidden = j % 50 == 49  # a few are invisible to the patient (they must not be listed)
        if hidden:
            visibility = frozenset({INVISIBLE_PATIENT})
        document = NewDocument(
            blob_id=blob.id,
            source="xdm",
            title=f"{title} n° {j + 1}",
            mime_type="application/pdf" if kind == "pdf" else "text/xml",
            size=blob.size,
            sha1=blob.sha1,
            filename=f"doc{j + 1}.{'pdf' if kind == 'pdf' else 'xml'}",
            unique_id=f"1.2.250.1.999.1.{rng.getrandbits(48)}",
            class_code=class_code,
            type_code=type_code,
            format_code="urn:ihe:iti:xds-sd:pdf:2008" if kind == "pdf" else "urn:asip:ci-sis:2010",
            author_person=AUTHORS[j % len(AUTHORS)],
            author_institution="Centre hospitalier de test",
            creation_time=now - timedelta(days=count - j, hours=rng.randrange(24)),
            visibility=visibility,
            author_professional_id="810000000001",
        )
        out.append((document, kind, not hidden))
    return out


@dataclass(frozen=True)
class SharedBlob:
    id: str
    size: int
    sha1: str


async def seed(env: dict[str, str], clients: int, per_patient: int, big: int) -> list[Patient]:
    import hashlib

    from espace_sante import audit
    from espace_sante.accounts import websessions
    from espace_sante.accounts.patients import NewPatient, create_patient
    from espace_sante.config import load_settings
    from espace_sante.policy.ins import DEMO_NIR_OID
    from espace_sante.records.deposit import deposit_documents_sync
    from espace_sante.storage.blob_rows import store_blob
    from espace_sante.storage.engine import transaction, write_sync
    from espace_sante.storage.runtime import Storage
    from fixtures.mssante import build_cda, valid_nir

    settings = load_settings(None, env)
    storage = Storage.open(settings)
    rng = random.Random(7)
    now = datetime.now(UTC)
    patients: list[Patient] = []
    try:
        for i in range(clients):
            ins = valid_nir(f"2800175{i:06d}")
            async with transaction(storage.sessions) as db:
                record = await create_patient(
                    db, storage.keyring,
                    NewPatient(ins, DEMO_NIR_OID, f"BANC{i}", "Test", date(1980, 1, 15), "F",
                               "75112"),
                    patient_domain=settings.mssante.patient_domain, accept_test_ins=True,
                )  # fmt: skip
                blobs = []
                for data in (PDF, build_cda(ins)):
                    stored = await store_blob(db, storage, record.account_id, data)
                    blobs.append(SharedBlob(stored.id, len(data), hashlib.sha1(data).hexdigest()))
                _, token = await websessions.create(
                    db, record.account_id, "authenticated", now=now, remote="127.0.0.1"
                )
            count = big if i == 0 else per_patient
            made = _new_documents(blobs[0], blobs[1], count, rng, now)
            patient = Patient(record.account_id, record.address, token, 0, big=i == 0)
            batch = 500
            for start in range(0, count, batch):
                part = made[start : start + batch]
                # the oldest batch first, one deposit time per batch (a day apart)
                at = now - timedelta(days=(count - start) // batch + 1)

                def work(
                    db: Any,
                    part: list[Any] = part,
                    at: datetime = at,
                    owner: int = record.account_id,
                ) -> list[int]:
                    events: list[audit.AuditEvent] = []
                    rows = deposit_documents_sync(
                        db, account_id=owner, documents=[d for d, _, _ in part],
                        deposited_by="ps:810000000001", audit_events=events, at=at,
                    )  # fmt: skip
                    audit.append_many_sync(db, owner, events)
                    return [r.id for r in rows]

                ids = await write_sync(storage.sessions, work)
                for row_id, (document, kind, visible) in zip(ids, part, strict=True):
                    if visible:
                        patient.visible += 1
                        patient.documents.append((row_id, document.title, kind))
            patients.append(patient)
    finally:
        await storage.close()
    return patients


async def explain_list(env: dict[str, str], patient: Patient) -> dict[str, Any]:
    """The list's statements for ``patient`` (page 1 and 2), each with SQLite's query plan and
    its time in process, and the whole ``list_documents`` call's time (no concurrency)."""
    from sqlalchemy import event

    from espace_sante.config import load_settings
    from espace_sante.records.access import Caller
    from espace_sante.records.documents import DocumentQuery, list_documents
    from espace_sante.storage.runtime import Storage

    settings = load_settings(None, env)
    storage = Storage.open(settings)
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        seen.append((statement, params))

    caller = Caller.patient(patient.account_id, patient.address)
    out: dict[str, Any] = {"calls_ms": [], "statements": []}
    try:
        for page in (1, 2, 1, 2, 1):
            seen.clear()
            event.listen(storage.engine.sync_engine, "before_cursor_execute", capture)
            async with storage.sessions() as db:
                started = time.perf_counter()
                await list_documents(
                    db, caller, patient.account_id, DocumentQuery(limit=20, offset=(page - 1) * 20)
                )
                out["calls_ms"].append(round((time.perf_counter() - started) * 1000, 1))
            event.remove(storage.engine.sync_engine, "before_cursor_execute", capture)
        sqlite = storage.engine.dialect.name == "sqlite"
        async with storage.sessions() as db:
            for statement, params in seen:
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                entry: dict[str, Any] = {"sql": " ".join(statement.split())}
                conn = await db.connection()
                raw = await conn.get_raw_connection()
                driver = raw.driver_connection
                if sqlite:
                    cur = await driver.execute("EXPLAIN QUERY PLAN " + statement, params)
                    entry["plan"] = [str(r[-1]) for r in await cur.fetchall()]
                    started = time.perf_counter()
                    for _ in range(5):
                        cur = await driver.execute(statement, params)
                        await cur.fetchall()
                    entry["ms"] = round((time.perf_counter() - started) * 200, 2)
                else:
                    rows = await driver.fetch("EXPLAIN ANALYZE " + statement, *(params or ()))
                    entry["plan"] = [r[0] for r in rows]
                out["statements"].append(entry)
    finally:
        await storage.close()
    return out


async def profile_pages(env: dict[str, str], patient: Patient, rounds: int) -> dict[str, str]:
    """``--pyinstrument``: the site in this process (httpx over ASGI, no socket, no
    concurrency), ``rounds`` sequential requests of each page for ``patient`` under pyinstrument
    (async mode: the awaits of each request are charged to it). Returns the text reports."""
    import httpx
    from markupsafe import escape
    from pyinstrument import Profiler

    from espace_sante.cli.webapp import create_app
    from espace_sante.config import load_settings
    from espace_sante.storage.runtime import Storage
    from espace_sante.web import cookies

    settings = load_settings(None, env)
    storage = Storage.open(settings)
    app = create_app(settings, storage)
    jar = {cookies.SESSION: patient.token, cookies.PRE_SESSION: "bench" + "p" * 27}
    pdf = next(d for d in patient.documents if d[2] == "pdf")
    cda = next(d for d in patient.documents if d[2] == "cda")
    pages = {
        "list": ("/documents", LIST_TITLE),
        "document_pdf": (f"/documents/{pdf[0]}", str(escape(pdf[1]))),
        "document_cda": (f"/documents/{cda[0]}", str(escape(cda[1]))),
    }
    out: dict[str, str] = {}
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", cookies=jar
        ) as client:
            for name, (path, expect) in pages.items():
                for _ in range(3):  # warm-up
                    await client.get(path)
                profiler = Profiler(async_mode="enabled", interval=0.0005)
                started = time.perf_counter()
                with profiler:
                    for _ in range(rounds):
                        response = await client.get(path)
                        assert response.status_code == 200 and expect in response.text, path
                each = (time.perf_counter() - started) * 1000 / rounds
                text = profiler.output_text(unicode=True, color=False, show_all=False)
                out[name] = f"{name}: {each:.1f} ms per request (profiled)\n{text}"
                print(out[name])
    finally:
        await storage.close()
    return out


# -- the load -----------------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str  # "list" | "list2" | "pdf" | "cda" | "floor"
    big: bool
    ms: float
    ok: bool


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0


def _client(port: int, cookies: dict[str, str]) -> Any:
    import httpx

    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        cookies=cookies,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        timeout=60,
        trust_env=False,  # never a proxy: the traffic stays on the loopback
        follow_redirects=False,
    )


async def _get(
    client: Any, run: Run | None, path: str, kind: str, big: bool, expect: list[str]
) -> None:
    started = time.perf_counter()
    try:
        response = await client.get(path)
        body = response.text
        problem = "" if response.status_code == 200 else f"status {response.status_code}"
        if not problem:
            missing = [e for e in expect if e not in body]
            problem = f"missing {missing[0]!r}" if missing else ""
    except Exception as exc:  # a refused or reset connection is an error, not a crash
        problem = repr(exc)
    ms = (time.perf_counter() - started) * 1000
    if run is not None:
        run.samples.append(Sample(kind, big, ms, not problem))
        if problem:
            run.errors.append(f"{kind} {path}: {problem}")


async def think(rng: random.Random, mean: float) -> None:
    """A patient's pause between two pages (uniform around ``mean`` seconds; 0: none)."""
    if mean > 0:
        await asyncio.sleep(rng.uniform(0.5, 1.5) * mean)


async def ours_client(
    port: int,
    patient: Patient,
    iterations: int,
    warmup: int,
    run: Run,
    start: Gate,
    pause: float = 0.0,
) -> None:
    from markupsafe import escape

    from espace_sante.web import cookies

    rng = random.Random(patient.account_id)
    jar = {cookies.SESSION: patient.token, cookies.PRE_SESSION: "bench" + "p" * 27}
    total = f"{patient.visible} documents"
    by_kind = {k: [d for d in patient.documents if d[2] == k] for k in ("pdf", "cda")}
    async with _client(port, jar) as client:
        for i in range(warmup + iterations):
            if i == warmup:
                await start.wait()
            measured = run if i >= warmup else None
            big = patient.big
            await _get(client, measured, "/documents", "list", big, [LIST_TITLE, total])
            await think(rng, pause)
            await _get(client, measured, "/documents?page=2", "list2", big, [LIST_TITLE, total])
            await think(rng, pause)
            doc_id, title, kind = rng.choice(by_kind["pdf" if i % 2 == 0 else "cda"])
            await _get(client, measured, f"/documents/{doc_id}", kind, big, [str(escape(title))])
            await think(rng, pause)


async def floor_client(
    port: int, requests: int, warmup: int, run: Run, start: Gate, pause: float = 0.0
) -> None:
    rng = random.Random(id(run) + requests)
    async with _client(port, {}) as client:
        for i in range(warmup + requests):
            if i == warmup:
                await start.wait()
            await _get(client, run if i >= warmup else None, "/page", "floor", False, [LIST_TITLE])
            await think(rng, pause)


class Gate:
    """Where every client waits after its warm-up, so that the measured part starts together."""

    def __init__(self, clients: int) -> None:
        self.clients, self.waiting = clients, 0
        self.ready, self.go = asyncio.Event(), asyncio.Event()

    async def wait(self) -> None:
        self.waiting += 1
        if self.waiting == self.clients:
            self.ready.set()
        await self.go.wait()


async def measure(clients: list[Any], gate: Gate, run: Run) -> Run:
    tasks = [asyncio.ensure_future(c) for c in clients]
    await gate.ready.wait()
    started = time.perf_counter()
    gate.go.set()
    await asyncio.gather(*tasks)
    run.elapsed = time.perf_counter() - started
    return run


async def run_ours(
    port: int, patients: list[Patient], iterations: int, warmup: int, pause: float = 0.0
) -> Run:
    run, gate = Run(), Gate(len(patients))
    return await measure(
        [ours_client(port, p, iterations, warmup, run, gate, pause) for p in patients], gate, run
    )


async def run_floor(port: int, clients: int, requests: int, warmup: int, pause: float = 0.0) -> Run:
    run, gate = Run(), Gate(clients)
    return await measure(
        [floor_client(port, requests, warmup, run, gate, pause) for _ in range(clients)], gate, run
    )


def figures(samples: list[Sample], elapsed: float) -> dict[str, Any]:
    ms = sorted(s.ms for s in samples) or [0.0]

    def pct(p: float) -> float:
        return round(ms[min(len(ms) - 1, int(len(ms) * p))], 1)

    return {
        "requests": len(samples),
        "errors": sum(1 for s in samples if not s.ok),
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": round(ms[-1], 1),
        "req_per_s": round(len(samples) / elapsed, 1) if elapsed else 0.0,
    }


# -- orchestration ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited during start-up ({process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def init_data_dir(env: dict[str, str]) -> None:
    from espace_sante.config import load_settings
    from espace_sante.storage.crypto import create_master_key
    from espace_sante.storage.engine import create_engine
    from espace_sante.storage.migrate import upgrade

    settings = load_settings(None, env)
    create_master_key(settings.master_key_file)

    async def migrate() -> None:
        engine = create_engine(settings)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def git_commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def print_trace(trace: dict[str, Any]) -> dict[str, Any]:
    print("\nserver side, per request (ms): total; SQL statements (count, time); write gate (count,"
          " wait, hold)")  # fmt: skip
    for kind, row in trace.items():
        parts = [f"{kind:9} {row['requests']:>5} requests"]
        for what in ("request", "sql", "gate_wait", "gate_hold"):
            m = row.get(what)
            if m:
                parts.append(
                    f"{what} x{m['count_per_request']} {m['ms_per_request']} ms "
                    f"(p50 {m['p50_ms']}, p99 {m['p99_ms']})"
                )
        print("  " + "; ".join(parts))
    return trace


def print_profile(path: Path, limit: int = 30) -> list[str]:
    import io
    import pstats

    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("cumulative").print_stats(limit)
    stats.sort_stats("tottime").print_stats(limit)
    text = out.getvalue()
    print(text)
    return text.splitlines()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent patients")
    parser.add_argument("--iterations", type=int, default=20, help="rounds per client")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured rounds per client")
    parser.add_argument(
        "--think", type=float, default=0.0, metavar="MS",
        help="mean pause of a client between two requests (default 0: back to back)",
    )  # fmt: skip
    parser.add_argument("--documents", type=int, default=20, help="documents per patient")
    parser.add_argument("--big", type=int, default=10_000, help="documents of the big record")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server (asyncpg URL)")
    parser.add_argument("--profile", action="store_true", help="cProfile our server process")
    parser.add_argument("--explain", action="store_true", help="the list's query plans")
    parser.add_argument(
        "--trace", action="store_true", help="server-side time per page: SQL, write gate"
    )
    parser.add_argument(
        "--solo", type=int, default=20, help="rounds of one client alone, per record size"
    )
    parser.add_argument(
        "--pyinstrument", type=int, default=0, metavar="N",
        help="profile N sequential requests of each page in process, for the big record",
    )  # fmt: skip
    parser.add_argument("--json", type=Path)
    parser.add_argument("--serve", nargs=2, metavar=("DIR", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--serve-profile", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--serve-trace", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--floor", nargs=2, type=int, metavar=("PORT", "SIZE"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args(argv)

    if args.serve:
        serve_site(dict(os.environ), args.serve_profile, args.serve_trace)
        return 0
    if args.floor:
        serve_floor(*args.floor)
        return 0

    db = "postgresql" if args.postgres else "sqlite"
    root = Path(tempfile.mkdtemp(prefix="espace-webbench-"))
    port, floor_port = free_port(), free_port()
    env = {
        **os.environ,
        "ESPACE_DATA_DIR": str(root / "var"),
        "ESPACE_LOG_LEVEL": "WARNING",
        "ESPACE_WEB_COOKIE_SECURE": "false",
        "ESPACE_WEB_LISTEN_HOST": "127.0.0.1",
        "ESPACE_WEB_PORT": str(port),
        "ESPACE_WEB_BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")]),
    }
    pg_name = ""
    if args.postgres:
        pg_name = f"espace_webbench_{os.getpid()}"
        asyncio.run(_pg_admin(args.postgres, f'CREATE DATABASE "{pg_name}"'))
        env["ESPACE_DATABASE_URL"] = args.postgres.rsplit("/", 1)[0] + "/" + pg_name
    (root / "var").mkdir()
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": {
            "platform": platform.platform(),
            "node": platform.node(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "database": db,
        "clients": args.clients,
        "iterations": args.iterations,
        "warmup": args.warmup,
        "think_ms": args.think,
        "documents_per_patient": args.documents,
        "big_record_documents": args.big,
        "aim_p99_ms": AIM_P99_MS,
    }
    ours = floor = None
    code = 0
    try:
        started = time.perf_counter()
        init_data_dir(env)
        patients = asyncio.run(seed(env, args.clients, args.documents, args.big))
        if args.postgres:  # the planner's statistics, as autovacuum keeps them in steady state
            asyncio.run(_pg_admin(env["ESPACE_DATABASE_URL"], "ANALYZE"))
        report["setup_s"] = round(time.perf_counter() - started, 1)
        print(
            f"setup: {len(patients)} patients, {sum(p.visible for p in patients)} visible "
            f"documents ({patients[0].visible} in the big record) in {report['setup_s']} s",
            flush=True,
        )
        if args.explain:
            report["explain_big_list"] = asyncio.run(explain_list(env, patients[0]))
            for entry in report["explain_big_list"]["statements"]:
                print(f"  {entry.get('ms', '')} ms  {entry['sql'][:160]}")
                for line in entry["plan"]:
                    print(f"      {line}")
            print(f"  list_documents in process (ms): {report['explain_big_list']['calls_ms']}")

        if args.pyinstrument:
            report["pyinstrument"] = asyncio.run(profile_pages(env, patients[0], args.pyinstrument))
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(root), str(port)]
        profile = root / "server.prof"
        if args.profile:  # cProfile slows the server down: its figures are not comparable
            command += ["--serve-profile", str(profile)]
            report["profiled"] = True
        trace = root / "trace.json"
        if args.trace:
            command += ["--serve-trace", str(trace)]
        ours = subprocess.Popen(command, env=env, cwd=ROOT)
        wait_port(port, ours, "the site")
        # the floor's page is as large as our list page; it is measured just before and just
        # after ours (the machine is shared: its load moves), and the two runs pooled
        size = asyncio.run(_page_size(port, patients[1]))
        floor = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--floor", str(floor_port), str(size)],
            env=env, cwd=ROOT,
        )  # fmt: skip
        wait_port(floor_port, floor, "the floor")
        per_client, floor_warmup = args.iterations * 3 // 2, args.warmup * 3
        pause = args.think / 1000
        report["load_before"] = os.getloadavg()
        before = asyncio.run(run_floor(floor_port, args.clients, per_client, floor_warmup, pause))
        run = asyncio.run(run_ours(port, patients, args.iterations, args.warmup, pause))
        after = asyncio.run(run_floor(floor_port, args.clients, per_client, floor_warmup, pause))
        report["load_after"] = os.getloadavg()
        # one client alone (no concurrency): the service time of each page
        solo: dict[str, Any] = {}
        if args.solo:
            for who, patient in (("10,000-doc", patients[0]), ("20-doc", patients[1])):
                alone = asyncio.run(run_ours(port, [patient], args.solo, 1))
                for name, kinds in (("list", ("list", "list2")), ("document", ("pdf", "cda"))):
                    chosen = [x for x in alone.samples if x.kind in kinds]
                    solo[f"{name}/{who}"] = figures(chosen, alone.elapsed)
            alone = asyncio.run(run_floor(floor_port, 1, args.solo * 3, 3))
            solo["floor"] = figures(alone.samples, alone.elapsed)
        report["one_client"] = solo
        stop(ours)
        ours = None
        stop(floor)
        floor = None
        floor_run = Run(
            before.samples + after.samples, before.errors + after.errors,
            before.elapsed + after.elapsed,
        )  # fmt: skip
        report["floor_page_bytes"] = size
        report["floor_before"] = figures(before.samples, before.elapsed)
        report["floor_after"] = figures(after.samples, after.elapsed)
        code = report_figures(report, run, floor_run)
        if solo:
            print("\none client alone (no concurrency), ms:")
            for key, f in solo.items():
                print(f"  {key:22} {f['requests']:>4} requests, {f['errors']} errors: "
                      f"p50 {f['p50_ms']}, p90 {f['p90_ms']}, p99 {f['p99_ms']}")  # fmt: skip
            if any(f["errors"] for f in solo.values()):
                code = 1
        if args.profile:
            report["profile_top"] = print_profile(profile)
        if args.trace:
            report["server_trace"] = print_trace(json.loads(trace.read_text()))
    finally:
        stop(ours)
        stop(floor)
        if pg_name:
            asyncio.run(
                _pg_admin(args.postgres, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            )
        shutil.rmtree(root, ignore_errors=True)
    out = args.json or HERE / "results" / f"web_load-{db}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"figures written to {out}")
    return code


async def _page_size(port: int, patient: Patient) -> int:
    from espace_sante.web import cookies

    async with _client(port, {cookies.SESSION: patient.token}) as client:
        return len((await client.get("/documents")).content)


def report_figures(report: dict[str, Any], run: Run, floor_run: Run) -> int:
    floor = figures(floor_run.samples, floor_run.elapsed)
    groups = {
        "list": ("list", "list2"),
        "list_page1": ("list",),
        "list_page2": ("list2",),
        "document": ("pdf", "cda"),
        "document_pdf": ("pdf",),
        "document_cda": ("cda",),
    }
    results: dict[str, Any] = {}
    for name, kinds in groups.items():
        for who, keep in (("all", lambda s: True), ("big", lambda s: s.big)):
            chosen = [s for s in run.samples if s.kind in kinds and keep(s)]
            results[f"{name}/{who}"] = figures(chosen, run.elapsed)
    results["all_pages/all"] = figures(run.samples, run.elapsed)
    report["results"] = results
    report["floor"] = floor
    report["elapsed_s"] = {"ours": round(run.elapsed, 2), "floor": round(floor_run.elapsed, 2)}
    print(
        f"\n{'page':22} {'patients':9} {'requests':>8} {'errors':>6} {'p50':>7} {'p90':>7} "
        f"{'p99':>7} {'req/s':>7}   p50/floor p99/floor"
    )
    ratios: dict[str, Any] = {}
    for key, f in results.items():
        name, who = key.split("/")
        r50 = round(f["p50_ms"] / floor["p50_ms"], 1) if floor["p50_ms"] else None
        r99 = round(f["p99_ms"] / floor["p99_ms"], 1) if floor["p99_ms"] else None
        ratios[key] = {"p50": r50, "p99": r99}
        label = "10,000-doc" if who == "big" else "all"
        print(
            f"{name:22} {label:9} {f['requests']:>8} {f['errors']:>6} {f['p50_ms']:>7} "
            f"{f['p90_ms']:>7} {f['p99_ms']:>7} {f['req_per_s']:>7}   {r50!s:>9} {r99!s:>9}"
        )
    print(
        f"{'floor (bare Starlette)':22} {'':9} {floor['requests']:>8} {floor['errors']:>6} "
        f"{floor['p50_ms']:>7} {floor['p90_ms']:>7} {floor['p99_ms']:>7} {floor['req_per_s']:>7}"
    )
    for name in ("floor_before", "floor_after"):
        f = report.get(name)
        if f:
            print(f"  {name.replace('_', ' ')}: p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms, "
                  f"{f['req_per_s']} req/s")  # fmt: skip
    report["ratios_to_floor"] = ratios
    worst = max(results[k]["p99_ms"] for k in ("list/all", "list/big", "document/all"))
    met = worst < AIM_P99_MS
    report["aim_met"] = met
    print(
        f"\naim: p99 under {AIM_P99_MS:.0f} ms for the list and the document page: "
        f"{'MET' if met else 'NOT MET'} (worst p99 {worst} ms)"
    )
    errors = run.errors + floor_run.errors
    report["errors"] = errors[:20]
    report["error_count"] = len(errors)
    if errors:
        print(f"{len(errors)} errors; the first ones:")
        for e in errors[:10]:
            print(f"    {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
