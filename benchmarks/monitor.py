"""How long the Transferpunt monitor takes, and how much memory, over 10,000 and 100,000 synthetic cases.

    .venv/bin/python benchmarks/monitor.py                 # 10,000 and 100,000 cases, SQLite (and PostgreSQL if there)
    .venv/bin/python benchmarks/monitor.py --cases 20000 --no-postgres

Each size is generated into a fresh SQLite file (and a fresh schema in the PostgreSQL of the tests, at
WEERTHUIS_TEST_POSTGRES_URL or postgres@127.0.0.1:5432/test, when it answers), as if the regions were N/1,000 times
their size (contingents scaled, neighbourhood caps raised to carry them), registered over the three years before
today. The monitor is then timed in a fresh process, so that its peak RSS is its own: for one region and all
regions over the year so far, and for all regions over last week (what the weekly flow computes). Times are the
best of three runs (wall clock, and CPU of this process: the database's work on PostgreSQL is the difference);
peak memory is Python's own (tracemalloc, in a separate run) and the process's peak RSS after the timed runs (and
before the first: the interpreter with SQLAlchemy and the domain imported, the engine made). PostgreSQL is asked
not to use parallel workers: the goal is 100,000 cases in under 2 s on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get("WEERTHUIS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
GOAL_SECONDS = 2.0


def measure(url: str, today: date) -> list[dict[str, Any]]:
    """Time the monitor on one database (run in a fresh process by `main`)."""
    from weerthuis.monitor.figures import Periode, compute_regions, period_before

    engine = create_engine(url)
    with engine.connect() as connection:
        regions = sorted(connection.execute(text("SELECT DISTINCT region FROM cases")).scalars())
        sizes: dict[str, int] = dict(
            connection.execute(text("SELECT region, count(*) FROM cases GROUP BY region")).all()
        )
    year, week = period_before(Periode.JAAR, today), period_before(Periode.WEEK, today)
    largest = max(regions, key=lambda r: sizes[r])
    scopes = [
        (f"one region ({largest}, {sizes[largest]} cases), year so far", [largest], year),
        (f"all regions ({sum(sizes.values())} cases), year so far", regions, year),
        ("all regions, last week", regions, week),
    ]
    results: list[dict[str, Any]] = []
    before_mb = peak_rss_mb()
    compute_regions(engine, regions, *year, today)  # warm the caches once
    for label, chosen, (start, end) in scopes:
        walls, cpus = [], []
        for _ in range(3):
            wall, cpu = time.perf_counter(), time.process_time()
            compute_regions(engine, chosen, start, end, today)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        # The peak RSS so far (tracemalloc, below, costs memory of its own).
        results.append({"scope": label, "wall": min(walls), "cpu": min(cpus), "rss_max_mb": peak_rss_mb()})
    for result, (_, chosen, (start, end)) in zip(results, scopes, strict=True):
        tracemalloc.start()
        compute_regions(engine, chosen, start, end, today)
        result["python_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        result["rss_before_mb"] = before_mb
        tracemalloc.stop()
    engine.dispose()
    return results


def peak_rss_mb() -> float:
    """This process's peak resident memory. On Linux from /proc (ru_maxrss would count the parent's memory at fork)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux, bytes on macOS


def generate(url: str, cases: int, today: date) -> tuple[float, int]:
    from config.regions import load_regions
    from config.settings import REGIONS_DIR
    from weerthuis.casedb.engine import make_engine
    from weerthuis.casedb.migrate import upgrade
    from weerthuis.synthetic import generate, scaled

    engine = make_engine(url)
    try:
        upgrade(engine)
        regions = scaled(load_regions(REGIONS_DIR), max(1.0, cases / 1000))
        started = time.perf_counter()
        made = generate(engine, cases, seed=7, regions=regions, today=today)
        seconds = time.perf_counter() - started
        if url.startswith("postgresql"):
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    return seconds, made.transitions


def postgres_schema() -> str | None:
    """A fresh schema in the tests' PostgreSQL, or None when it does not answer."""
    admin = create_engine(POSTGRES_URL)
    try:
        schema = f"wt_bench_{uuid.uuid4().hex[:8]}"
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        return schema
    except Exception:  # not reachable, no rights: benchmark SQLite only
        return None
    finally:
        admin.dispose()


def drop_schema(schema: str) -> None:
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def report(database: str, cases: int, seconds: float, transitions: int, results: list[dict[str, Any]]) -> None:
    print(f"\n{database}, {cases:,} cases ({transitions:,} transitions), generated in {seconds:.1f} s")
    print(f"  {'':58} {'wall':>7} {'cpu':>7} {'py peak':>9} {'max RSS (before)':>17}")
    for r in results:
        mark = "  > goal" if cases >= 100_000 and r["wall"] > GOAL_SECONDS else ""
        print(
            f"  {r['scope']:58} {r['wall']:6.2f}s {r['cpu']:6.2f}s {r['python_peak_mb']:7.1f}MB "
            f"{r['rss_max_mb']:7.0f}MB ({r['rss_before_mb']:.0f}MB){mark}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--today", type=date.fromisoformat, default=date.today(), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.today)))
        return 0

    def measured(url: str) -> list[dict[str, Any]]:
        child = [sys.executable, __file__, "--measure", url, "--today", args.today.isoformat()]
        out = subprocess.run(child, check=True, capture_output=True, text=True).stdout
        return list(json.loads(out.splitlines()[-1]))

    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPU(s); the monitor runs on one.")
    with tempfile.TemporaryDirectory(prefix="weerthuis-bench-") as folder:
        for cases in args.cases:
            url = f"sqlite:///{Path(folder) / f'cases-{cases}.sqlite'}"
            seconds, transitions = generate(url, cases, args.today)
            report("SQLite", cases, seconds, transitions, measured(url))
            schema = None if args.no_postgres else postgres_schema()
            if schema is None:
                continue
            sep = "&" if "?" in POSTGRES_URL else "?"
            # One core: no parallel workers for the monitor's queries.
            pg_url = f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}%20-cmax_parallel_workers_per_gather%3D0"
            try:
                seconds, transitions = generate(pg_url, cases, args.today)
                report("PostgreSQL", cases, seconds, transitions, measured(pg_url))
            finally:
                drop_schema(schema)
    return 0


if __name__ == "__main__":
    sys.exit(main())
