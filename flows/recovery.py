"""No case stranded: a case's run that ended Crashed or Failed is started again, by itself, within minutes.

A run of `outflow-case` or `follow-up` only ends Crashed or Failed for reasons outside the procedure: the
procedure itself refuses with a reason and asks again, it never fails a run. So when the process is killed (out
of memory, a reboot, a redeploy), its infrastructure fails or the server answers 5xx, the same run is scheduled
again ("Herstart"): it keeps its id (every link in mail and on the case page stays right) and its stored answers,
and as the flow is re-entrant it continues where the case database says the case stands.

This flow runs when a run crashes or fails (a trigger in prefect.yaml) and every few minutes besides. A run that
crashes again and again without the case moving is not restarted forever: after MAX_RESTARTS it is marked stuck,
with the reason, on the case page and the worklist, and the region's coordinators get one mail.

Nobody reports a run Crashed when its worker dies with it (SIGKILL of the worker and the run, a reboot, a container
stopped whole): the run stays Running (or Pending) for ever. A running flow sends a heartbeat event every
PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds (Prefect's default 180; the worker's environment sets it), so on each
sweep a case run that is Running or Pending without any event about it (heartbeat, state change, a task of it) for
HEARTBEAT_MISSES heartbeats is declared Crashed first (saying so), then restarted like any crashed run.
The rule is Prefect's own zombie detection (an automation in Prefect's docs), kept here with the other rules: the
docs' automation would also crash every run that waits on a form, as a suspended run sends no heartbeat.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_client, get_run_logger
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.responses import OrchestrationResult, SetStateStatus
from prefect.client.schemas.sorting import FlowRunSort
from prefect.events.filters import EventAnyResourceFilter, EventFilter, EventOccurredFilter
from prefect.settings import get_current_settings
from prefect.states import Crashed, Scheduled

from tasks.mail import ALL, deliver_mail
from tasks.pages import publish_case_page, refresh_worklist
from weerthuis.bootstrap import app
from weerthuis.runs import database_tag
from weerthuis.service.casework import Casework
from weerthuis.service.views import CaseView

CASE_DEPLOYMENTS = ["outflow-case", "follow-up"]
RESTART = "Herstart"
MAX_RESTARTS = 3  # in a row without the case moving; then the case is marked stuck
HEARTBEAT_MISSES = 3  # heartbeats a Running case run may miss before it counts as dead
MISSES_ENV = "WEERTHUIS_RECOVERY_HEARTBEAT_MISSES"  # fewer for a quick test stack; never below MIN_MISSES
MIN_MISSES = 1.5  # one late heartbeat (a busy machine, the server's 5 s write batches) is no death
PENDING_FOR = timedelta(minutes=10)  # a run Pending (its process starting) this long without any sign is dead


def stranded_runs(database_id: str, limit: int = 200) -> list[FlowRun]:
    """This case database's case runs that ended Crashed or Failed, oldest change first."""
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CRASHED, StateType.FAILED])),
                tags=FlowRunFilterTags(all_=[database_tag(database_id)]),
            ),
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=CASE_DEPLOYMENTS)),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=limit,
        )


def silent_after() -> timedelta | None:
    """How long a Running or Pending case run may go without any sign of life; None when no heartbeats are sent.

    HEARTBEAT_MISSES heartbeats of this process's PREFECT_FLOWS_HEARTBEAT_FREQUENCY: the recovery runs on the same
    workers, with the same environment, as the case runs."""
    frequency = get_current_settings().flows.heartbeat_frequency
    if frequency is None:
        return None
    misses = max(float(os.environ.get(MISSES_ENV) or HEARTBEAT_MISSES), MIN_MISSES)
    return timedelta(seconds=misses * max(frequency, 30))  # Prefect sends one at most every 30 s


def last_sign_of_life(run: FlowRun) -> datetime | None:
    """When the run last did something: its last state change, or the last event about it (a heartbeat, a task).

    None when the events cannot be read: without them nobody can tell that the run is dead."""
    if run.state is None:
        return None
    latest = run.state.timestamp
    about_the_run = EventFilter(
        any_resource=EventAnyResourceFilter(id=[f"prefect.flow-run.{run.id}"]),
        # `until` defaults to this machine's now; a server's clock a little ahead must not hide the last heartbeat.
        occurred=EventOccurredFilter.model_validate({"since": latest, "until": datetime.now(UTC) + timedelta(days=1)}),
    )
    try:
        with get_client(sync_client=True) as client:
            events = client.read_events(filter=about_the_run, limit=1).events  # newest first
    except Exception:
        return None
    return max([latest, *(event.occurred for event in events)])


def silent_runs(
    database_id: str, silent_for: timedelta, *, now: datetime | None = None, limit: int = 200
) -> list[FlowRun]:
    """This case database's case runs that are Running or Pending but did nothing for `silent_for`: their process
    died with its worker (nobody else would have reported them Crashed)."""
    now = now or datetime.now(UTC)
    with get_client(sync_client=True) as client:
        candidates = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])),
                tags=FlowRunFilterTags(all_=[database_tag(database_id)]),
            ),
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=CASE_DEPLOYMENTS)),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=limit,
        )
    silent = []
    for run in candidates:
        # A Pending run sends no heartbeat yet: its process is starting, which on a machine busy with a burst of
        # runs can take minutes. Only a run left Pending far longer than any start takes is dead.
        quiet = max(silent_for, PENDING_FOR) if run.state is not None and run.state.is_pending() else silent_for
        if run.state is None or now - run.state.timestamp < quiet:
            continue  # only just started or moved: no need to ask for its events
        last = last_sign_of_life(run)
        if last is not None and now - last >= quiet:
            silent.append(run)
    return silent


def declare_crashed(run: FlowRun, silent_for: timedelta) -> FlowRun | None:
    """Mark a silent run Crashed, saying why; None when it changed state since it was found silent (alive after
    all: a suspended run must never be marked Crashed)."""
    assert run.state is not None
    with get_client(sync_client=True) as client:
        current = client.read_flow_run(run.id)
        if current.state is None or current.state.id != run.state.id:
            return None
        seconds = round(silent_for.total_seconds())
        message = f"{seconds} s geen hartslag of ander levensteken ({run.state.name}): proces en worker gestopt"
        result: OrchestrationResult[Any] = client.set_flow_run_state(run.id, Crashed(message=message))
        if result.status != SetStateStatus.ACCEPT:
            return None
        return client.read_flow_run(run.id)


def is_current(run: FlowRun, case: CaseView) -> bool:
    """The run the case waits in: the one the case database remembers, or the run of its next review."""
    if case.stage.is_final:
        return False
    if case.flow_run_id == str(run.id):
        return True
    return run.parameters.get("nazorgmoment") == case.reviews_held + 1 and case.stage.value == "nazorg"


def restarts_in_a_row(run: FlowRun) -> int:
    """How often this run was restarted since it last got somewhere (waited on a form, or the case moved on)."""
    with get_client(sync_client=True) as client:
        states = sorted(client.read_flow_run_states(run.id), key=lambda state: state.timestamp)
    count = 0
    for state in states:
        if state.is_paused():
            count = 0
        elif state.name == RESTART:
            count += 1
    return count


def why(run: FlowRun) -> str:
    state = run.state
    if state is None:
        return "onbekende toestand"
    message = (state.message or "").strip().splitlines()
    name = state.name or state.type.value
    return f"{name}: {message[0][:300]}" if message else name


def recover(casework: Casework, run: FlowRun) -> str | None:
    """Restart the run, or mark its case stuck; "restarted", "stuck" or None (not a current case run)."""
    reference = run.parameters.get("zaakreferentie")
    if not isinstance(reference, str):
        return None
    case = casework.view(reference)
    if not is_current(run, case) or case.stuck is not None:
        return None
    if restarts_in_a_row(run) >= MAX_RESTARTS:
        casework.mark_stuck(reference, str(run.id), f"{MAX_RESTARTS}× herstart zonder voortgang; laatst {why(run)}")
        return "stuck"
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run.id, Scheduled(name=RESTART, message=f"Hersteld na {why(run)}"), force=True)
    return "restarted"


@flow(name="recovery", flow_run_name="herstel", persist_result=False)
def recovery() -> dict[str, list[str]]:
    """Start vastgelopen zaakruns opnieuw (gecrasht of mislukt buiten de procedure om); wat blijft vastlopen wordt
    op de zaakpagina en de werkvoorraad gemeld, met één mail aan de coördinatoren."""
    casework, logger = app().casework, get_run_logger()
    restarted: list[str] = []
    stuck: list[str] = []
    silent_for = silent_after()
    if silent_for is not None:  # Crashed now, so restarted below like any crashed run
        for run in silent_runs(casework.database_id(), silent_for):
            if declare_crashed(run, silent_for) is not None:
                seconds = silent_for.total_seconds()
                logger.warning(
                    "Run %s (%s) gaf %.0f s geen levensteken; als gecrasht gemeld.", run.name, run.id, seconds
                )
    for run in stranded_runs(casework.database_id()):
        outcome = recover(casework, run)
        if outcome == "restarted":
            restarted.append(run.name)
            logger.warning("Run %s (%s) opnieuw gestart: %s", run.name, run.id, why(run))
        elif outcome == "stuck":
            stuck.append(run.name)
            logger.error("Run %s (%s) blijft vastlopen; de zaak is als vastgelopen gemeld.", run.name, run.id)
            publish_case_page(str(run.parameters["zaakreferentie"]))
    if stuck:
        refresh_worklist()
        deliver_mail(ALL)  # the one mail to the coordinators per stuck case
    return {"herstart": restarted, "vastgelopen": stuck}
