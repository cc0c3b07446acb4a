"""The national directory's import at its real volume: 300,000 rows shaped like the ANS's
``Extraction_Correspondance_MSSante`` file (about 170 bytes a row), imported into an empty table,
then the next day's file with 1 % of the rows changed.

The reference, in the same run on the same database: a plain bulk load of the same file, i.e. it
read and split into rows, and the same number of rows written with one bulk ``INSERT`` per
batch of ``accounts.directory.BATCH_SIZE`` into a scratch table of as many text columns, no
checks, no upsert. Prints both times and their ratio; writes
``bench/results/directory_import-<db>.json``. The import's behaviour across batches is tested
in ``tests/accounts/test_directory.py``; this only measures.

    python bench/directory_import.py [--rows N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from sqlalchemy import Column, MetaData, Table, Text, insert  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from espace_sante.accounts.directory import BATCH_SIZE, import_directory  # noqa: E402
from espace_sante.storage.engine import create_engine, session_factory  # noqa: E402
from espace_sante.storage.migrate import upgrade  # noqa: E402
from fixtures.directory_extraction import HEADER, write_large_extraction  # noqa: E402


async def plain_bulk_load(engine: AsyncEngine, path: Path) -> float:
    """Read and split the file, write its rows in plain bulk batches into a scratch table."""
    metadata = MetaData()
    scratch = Table(
        "bench_directory_reference", metadata, *(Column(f"c{i}", Text) for i in range(len(HEADER)))
    )
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    started = time.perf_counter()
    with path.open(encoding="utf-8") as f:
        next(f)
        batch: list[dict[str, str]] = []
        for line in f:
            batch.append({f"c{i}": v for i, v in enumerate(line.rstrip("\n").split("|"))})
            if len(batch) >= BATCH_SIZE:
                async with engine.begin() as conn:
                    await conn.execute(insert(scratch), batch)
                batch = []
        if batch:
            async with engine.begin() as conn:
                await conn.execute(insert(scratch), batch)
    elapsed = time.perf_counter() - started
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    return elapsed


def next_day(path: Path, out: Path) -> int:
    """The same file with 1 % of the rows changed; returns how many professionals changed."""
    changed = 0
    with path.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        for n, line in enumerate(src):
            if n and n % 100 == 0 and "|Prénom|" in line:
                line = line.replace("|Prénom|", "|Prénoms|")
                changed += 1
            dst.write(line)
    return changed


async def run(rows: int, url: str, work: Path) -> dict[str, float | int | str]:
    engine = create_engine(url)  # the service's own engine settings (SQLite pragmas, pool)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        path = work / "Extraction_Correspondance_MSSante.txt"
        write_large_extraction(path, rows)
        second = work / "Extraction_Correspondance_MSSante-next.txt"
        changed = next_day(path, second)

        reference = await plain_bulk_load(engine, path)
        started = time.perf_counter()
        report = await import_directory(sessions, path)
        first = time.perf_counter() - started
        assert report.imported == rows and not report.rejected, report
        started = time.perf_counter()
        report = await import_directory(sessions, second)
        again = time.perf_counter() - started
        assert report.updated == changed, (report.updated, changed)
    finally:
        await engine.dispose()
    return {
        "rows": rows,
        "changed_next_day": changed,
        "reference_s": round(reference, 2),
        "import_s": round(first, 2),
        "reimport_s": round(again, 2),
        "import_over_reference": round(first / reference, 2),
        "reimport_over_reference": round(again / reference, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database (asyncpg)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-directory-") as tmp:
        work = Path(tmp)
        url = args.postgres or f"sqlite+aiosqlite:///{work / 'bench.db'}"
        db = "postgresql" if args.postgres else "sqlite"
        figures = asyncio.run(run(args.rows, url, work))
    figures["database"] = db
    figures["machine"] = platform.node()
    print(
        f"[{db}] {figures['rows']} rows: reference (read, split, plain bulk insert) "
        f"{figures['reference_s']} s; "
        f"import {figures['import_s']} s ({figures['import_over_reference']}× the reference); "
        f"next day, {figures['changed_next_day']} changed: {figures['reimport_s']} s "
        f"({figures['reimport_over_reference']}× the reference)"
    )
    out = HERE / "results" / f"directory_import-{db}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
