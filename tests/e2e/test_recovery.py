"""No case stranded: flow-run processes killed with SIGKILL at random moments recover by themselves.

What an out-of-memory kill, a reboot or a redeploy does to a run: its process dies mid-step, the worker marks the
run Crashed. The `recovery` deployment (triggered by the Crashed event, and on its schedule) starts the same run
again; the flow is re-entrant, so the case goes on where the case database says it stands. Nobody restarts
anything here: the test only kills processes and answers forms.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import get_client
from prefect.settings import temporary_settings

from integrations.fakes import CallLedger
from notifications.sink import read_maildir
from tests.e2e.test_outflow_case import Desk, register, zrm
from weerthuis.bootstrap import App
from weerthuis.devstack import LocalStack
from weerthuis.runs import start_case

pytestmark = pytest.mark.stack

KILLS = 20


def run_processes(flow_run_id: UUID) -> list[int]:
    """The processes executing this flow run (the worker starts one per run, with the run's id in its env)."""
    marker = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:  # gone, or not ours
            continue
    return found


@dataclass
class Chaos:
    """Kills a run's process at a random moment after an answer, at most `budget` times in all."""

    budget: int
    rng: random.Random
    kills: list[tuple[str, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def strike(self, reference: str, flow_run_id: UUID, window: float = 6.0) -> None:
        with self.lock:
            if len(self.kills) >= self.budget:
                return
            self.kills.append((reference, 0.0))  # claimed; the moment follows
            slot = len(self.kills) - 1
        moment = self.rng.uniform(0.0, window)
        deadline = time.monotonic() + window + 20
        started: float | None = None
        while time.monotonic() < deadline:
            pids = run_processes(flow_run_id)
            if pids:
                started = started or time.monotonic()
                if time.monotonic() - started >= moment:
                    for pid in pids:
                        with suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    self.kills[slot] = (reference, moment)
                    return
            time.sleep(0.05)
        with self.lock:  # the run finished its step before the moment came: give the kill back
            self.kills[slot] = ("", -1.0)


def walk(
    app: App,
    settings: dict[Any, Any],
    reference: str,
    chaos: Chaos,
    reached: dict[str, str],
    errors: list[BaseException],
) -> None:
    """One case from the ZRM to the corporation's acceptance, every answer followed by a kill at a random moment."""
    try:
        with temporary_settings(updates=settings):  # settings are per thread
            walk_case(app, reference, chaos, reached)
    except BaseException as exc:  # reported by the test's thread
        errors.append(exc)


def walk_case(app: App, reference: str, chaos: Chaos, reached: dict[str, str]) -> None:
    run = start_case(reference, "emmen", app.casework.database_id())
    app.casework.attach_run(reference, str(run.id))
    desk = Desk(run.id)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("readiness-1-assessment", zrm()),
        ("readiness-1-decision", {"verdict": "klaar voor uitstroom", "decided_by": "EMM-TP-01"}),
        ("nomination-1-proposal", {"corporation": "domesta", "decided_by": "EMM-TP-01"}),
        ("nomination-1-response", {"answer": "geaccepteerd", "decided_by": "EMM-DOM-01"}),
    ]
    for key, answer in steps:
        desk.answer(key, answer)
        chaos.strike(reference, run.id)
    reached[reference] = desk.next_form("offer-1-offer").key


def test_killed_runs_recover_by_themselves_and_nothing_happens_twice(
    app: App, stack: LocalStack, ledger: CallLedger
) -> None:
    chaos = Chaos(budget=KILLS, rng=random.Random(20261202))
    reached: dict[str, str] = {}
    errors: list[BaseException] = []
    cases = [register(app) for _ in range(5)]  # one after the other: references are counted
    walkers = [
        threading.Thread(target=walk, args=(app, stack.prefect_settings(), reference, chaos, reached, errors))
        for reference in cases
    ]
    for walker in walkers:
        walker.start()
    for walker in walkers:
        walker.join(timeout=1500)
    assert not errors, errors
    assert len(reached) == 5 and set(reached.values()) == {"offer-1-offer"}
    killed = [moment for reference, moment in chaos.kills if reference]
    assert len(killed) >= KILLS * 3 // 4, chaos.kills  # most kills landed in a running step

    # Every case went on: its history is the procedure's, once each.
    for reference in reached:
        events = [line.event for line in app.casework.view(reference).history]
        assert Counter(events)["NominationProposed"] == 1 and events[-1] == "NominationAccepted", events
    # Each effect on another system happened once, under its idempotency key.
    calls = Counter(
        (system, operation, key)
        for system, operation, key, _ in ledger.calls()
        if any(key.startswith(reference) for reference in reached)
    )
    assert calls and max(calls.values()) == 1, calls.most_common(3)
    # Each mail arrived once (the same outbox row always carries the same Message-ID).
    mails = [m for m in read_maildir(stack.maildir) if any(r in str(m["Subject"]) for r in reached)]
    ids = Counter(str(m["Message-ID"]) for m in mails)
    assert ids and max(ids.values()) == 1, ids.most_common(3)
    # The recovery restarted the runs: their state history shows the restarts, none ended Crashed.
    with get_client(sync_client=True) as client:
        for reference in reached:
            run_id = UUID(str(app.casework.view(reference).flow_run_id))
            assert client.read_flow_run(run_id).state.is_paused()  # type: ignore[union-attr]


def test_cases_waiting_while_the_server_restarts_go_on_afterwards(app: App, stack: LocalStack) -> None:
    reference = register(app)
    desk = Desk(start_case(reference, "emmen", app.casework.database_id()).id)
    desk.answer("readiness-1-assessment", zrm())
    desk.next_form("readiness-1-decision")
    stack.restart_server()
    desk.submit({"verdict": "klaar voor uitstroom", "decided_by": "EMM-TP-01"})
    desk.next_form("nomination-1-proposal")
    assert app.casework.view(reference).history[-1].event == "ReadinessApproved"
