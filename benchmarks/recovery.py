"""How long a case waits when its run's process is killed: from SIGKILL to the run Running again, and to the case
waiting on its next form.

A fresh local stack (Prefect server, prefect.yaml deployed, a process worker, the fake counterparts) in a temporary
folder; --cases cases walk the outflow procedure at once, every form answered as the UI's Resume dialog does. After
an answer the run's process (found by PREFECT__FLOW_RUN_ID in /proc/<pid>/environ) is SIGKILLed at a random moment
within --window seconds of starting, --kills times in all (a kill that comes after the run already reached its form
is given back and tried after a later answer). The worker reports the run Crashed, the `recovery` deployment
(triggered by that event) schedules the same run again, the worker starts it, the flow goes on where the case stands.

Prints per kill, from the server's state history: seconds from the kill to Crashed (the worker noticed), to the
restart (the recovery's "Herstart"), to Running again and to the run suspended on its next form (and when this
script saw the form); then median and max. (A benchmark prints figures; no test asserts on time.)

    .venv/bin/python benchmarks/recovery.py [--cases 3] [--kills 10] [--window 6] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any
from uuid import UUID

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from prefect import get_client  # noqa: E402
from prefect.settings import temporary_settings  # noqa: E402

from config.settings import Settings  # noqa: E402
from flows.recovery import RESTART  # noqa: E402
from tests.e2e.test_outflow_case import Desk, register, zrm  # noqa: E402
from tests.e2e.test_recovery import run_processes  # noqa: E402
from weerthuis.bootstrap import App, build  # noqa: E402
from weerthuis.devstack import LocalStack, free_port  # noqa: E402
from weerthuis.runs import start_case  # noqa: E402


def steps() -> list[tuple[str, dict[str, Any]]]:
    """The outflow's forms up to the lease being signed, each followed by another form (never by the run's end)."""
    today = date.today()
    return [
        ("readiness-1-assessment", zrm()),
        ("readiness-1-decision", {"verdict": "klaar voor uitstroom", "decided_by": "EMM-TP-01"}),
        ("nomination-1-proposal", {"corporation": "domesta", "decided_by": "EMM-TP-01"}),
        ("nomination-1-response", {"answer": "geaccepteerd", "decided_by": "EMM-DOM-01"}),
        (
            "offer-1-offer",
            {
                "dwelling_reference": "VHE-20417",
                "neighbourhood": "angelslo",
                "rent": 612.5,
                "viewing_on": (today + timedelta(days=3)).isoformat(),
                "decided_by": "EMM-DOM-01",
            },
        ),
        ("offer-1-answer", {"answer": "geaccepteerd", "decided_by": "EMM-TB-01"}),
        (
            "tenancy-1-lease",
            {"contract_form": "driepartijenovereenkomst", "temporary": "ja", "decided_by": "EMM-DOM-01"},
        ),
        ("tenancy-1-signing", {"result": "ondertekend", "signed_on": today.isoformat(), "decided_by": "EMM-DOM-01"}),
        ("support-1-support", {}),  # only waited on, never answered (the run would end)
    ]


@dataclass
class Kill:
    reference: str
    after: str  # the form answered just before
    moment: float  # seconds after the run's process appeared
    at: datetime  # wall clock (UTC) of the SIGKILL
    seen: float | None = None  # seconds until this script saw the next form
    marks: dict[str, float] = field(default_factory=dict)  # crashed, restarted, running, waiting: seconds after


@dataclass
class Chaos:
    budget: int
    window: float
    rng: random.Random
    kills: list[Kill] = field(default_factory=list)
    claimed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def left(self) -> bool:
        with self.lock:
            return self.claimed < self.budget

    def strike(self, reference: str, after: str, flow_run_id: UUID, old: set[int]) -> Kill | None:
        """Kill the run's processes at a random moment of its step; None when it reached its form first. `old`: the
        processes of its previous step (one that suspended may take a while to exit), never counted or killed."""
        with self.lock:
            if self.claimed >= self.budget:
                return None
            self.claimed += 1
            moment = self.rng.uniform(0.0, self.window)
        deadline = time.monotonic() + self.window + 60
        started: float | None = None
        while time.monotonic() < deadline:
            pids = [pid for pid in run_processes(flow_run_id) if pid not in old]
            if pids:
                started = started or time.monotonic()
                if time.monotonic() - started >= moment:
                    for pid in pids:
                        with suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    kill = Kill(reference, after, moment, datetime.now(UTC))
                    with self.lock:
                        self.kills.append(kill)
                    return kill
            elif started is not None:
                break  # the step ended (its process exited) before the moment came
            time.sleep(0.02)
        with self.lock:
            self.claimed -= 1  # give it back
        return None


def marks(flow_run_id: UUID, at: datetime) -> dict[str, float]:
    """Seconds from `at` to the first Crashed, Herstart, Running and Paused state after it."""
    with get_client(sync_client=True) as client:
        states = sorted(client.read_flow_run_states(flow_run_id), key=lambda state: state.timestamp)
    found: dict[str, float] = {}
    for state in states:
        if state.timestamp < at:
            continue
        label = (
            "crashed"
            if state.is_crashed() or state.is_failed()
            else "restarted"
            if state.name == RESTART
            else "running"
            if state.is_running()
            else "waiting"
            if state.is_paused()
            else None
        )
        if label and label not in found and (label != "running" or "restarted" in found):
            found[label] = (state.timestamp - at).total_seconds()
    return found


def walk(app: App, settings: dict[Any, Any], reference: str, chaos: Chaos, errors: list[BaseException]) -> None:
    try:
        with temporary_settings(updates=settings):  # settings are per thread
            run = start_case(reference, "emmen", app.casework.database_id())
            app.casework.attach_run(reference, str(run.id))
            desk = Desk(run.id)
            forms = steps()
            desk.next_form(forms[0][0])
            for (key, answer), (next_key, _) in zip(forms, forms[1:], strict=False):
                if not chaos.left():
                    return
                old = set(run_processes(run.id))  # the process that suspended on `key` may still be exiting
                desk.submit(answer)
                kill = chaos.strike(reference, key, run.id, old)
                desk.next_form(next_key)
                if kill is not None:
                    kill.seen = (datetime.now(UTC) - kill.at).total_seconds()
                    kill.marks = marks(run.id, kill.at)
                    print(line(kill), flush=True)
    except BaseException as exc:  # reported by the main thread
        errors.append(exc)
        with suppress(Exception), temporary_settings(updates=settings):
            print(f"{reference}: {exc!r}\n{history(UUID(str(app.casework.view(reference).flow_run_id)))}", flush=True)


def history(flow_run_id: UUID) -> str:
    """The run's states, and whether the form of the one it waits on was stored (what a stranded run shows)."""
    with get_client(sync_client=True) as client:
        states = sorted(client.read_flow_run_states(flow_run_id), key=lambda state: state.timestamp)
        lines = [
            f"  {s.timestamp:%H:%M:%S.%f} {s.type.value:<10} {s.name:<12} {(s.message or '')[:80]}" for s in states
        ]
        state = client.read_flow_run(flow_run_id).state
        keyset = state.state_details.run_input_keyset if state is not None else None
        if keyset:
            try:
                client.read_flow_run_input(flow_run_id, keyset["schema"])
                lines.append(f"  form {state.state_details.pause_key}: schema stored")  # type: ignore[union-attr]
            except Exception as exc:
                lines.append(f"  form {state.state_details.pause_key}: no schema ({type(exc).__name__})")  # type: ignore[union-attr]
    return "\n".join(lines)


COLUMNS = ["crashed", "restarted", "running", "waiting"]


def line(kill: Kill) -> str:
    cells = [f"{kill.marks[c]:>10.1f}" if c in kill.marks else f"{'-':>10}" for c in COLUMNS]
    seen = f"{kill.seen:>7.1f}" if kill.seen is not None else f"{'-':>7}"
    return f"{kill.reference:<14} {kill.after:<24} {kill.moment:>6.1f} {''.join(cells)} {seen}"


def machine() -> str:
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    database = "PostgreSQL" if os.environ.get("WEERTHUIS_PREFECT_DATABASE_URL") else f"SQLite {sqlite3.sqlite_version}"
    return (
        f"{platform.platform()}, {cores} cores ({usable} usable), load {load}\n"
        f"Python {platform.python_version()}, Prefect {version('prefect')}, weerthuis {version('weerthuis')}, "
        f"Prefect server on {database}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=3)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--window", type=float, default=6.0, help="kill within this many seconds of a step's start")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(machine())
    tmp = Path(tempfile.mkdtemp(prefix="weerthuis-recovery-"))
    began = time.monotonic()
    chaos = Chaos(args.kills, args.window, random.Random(args.seed))
    errors: list[BaseException] = []
    stack = LocalStack(tmp, port=free_port())
    with stack, temporary_settings(updates=stack.prefect_settings()):
        print(f"stack up in {time.monotonic() - began:.0f} s; {args.cases} cases, {args.kills} kills\n")
        app = build(Settings(data_dir=stack.data_dir), migrate=True)
        cases = [register(app) for _ in range(args.cases)]  # one after the other: references are counted
        print(f"{'case':<14} {'killed after':<24} {'moment':>6}{''.join(f'{c:>10}' for c in COLUMNS)} {'seen':>7}")
        walkers = [threading.Thread(target=walk, args=(app, stack.prefect_settings(), r, chaos, errors)) for r in cases]
        for walker in walkers:
            walker.start()
        for walker in walkers:
            walker.join()
    if errors:
        raise SystemExit(f"a case did not go on: {errors[0]!r} (its stack's folder is kept: {tmp})")
    shutil.rmtree(tmp, ignore_errors=True)
    kills = chaos.kills
    print(f"\n{len(kills)} of {args.kills} kills landed in a running step; seconds after the SIGKILL:")
    for column in [*COLUMNS, "seen"]:
        values = [k.seen if column == "seen" else k.marks.get(column) for k in kills]
        present = [v for v in values if v is not None]
        if present:
            median, worst = statistics.median(present), max(present)
            print(f"  {column:<10} median {median:>6.1f}   max {worst:>6.1f}   ({len(present)} kills)")
    print(f"{time.monotonic() - began:.0f} s in all, the stack's start and stop included")


if __name__ == "__main__":
    main()
