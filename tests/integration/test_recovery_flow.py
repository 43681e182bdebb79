"""The recovery's rules on a real Prefect server: which runs it restarts, and when it gives up and says so."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.events import emit_event
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.states import Crashed, Failed, Pending, Running, State, Suspended
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import select

from flows.outflow import outflow_case
from flows.pages import case_page, worklist
from flows.recovery import (
    MAX_RESTARTS,
    MISSES_ENV,
    PENDING_FOR,
    RESTART,
    declare_crashed,
    last_sign_of_life,
    recover,
    silent_after,
    silent_runs,
    stranded_runs,
)
from tests.integration.helpers import to_nomination
from weerthuis.casedb.models import OutboxMail
from weerthuis.runs import database_tag
from weerthuis.service.casework import Casework

COORDINATORS = ["EMM-TP-01", "EMM-TP-02"]


@pytest.fixture(scope="module")
def deployment_id() -> Iterator[UUID]:
    with prefect_test_harness(server_startup_timeout=120), get_client(sync_client=True) as client:
        yield client.create_deployment(flow_id=client.create_flow(outflow_case), name="outflow-case")


def case_run(casework: Casework, deployment_id: UUID, reference: str) -> FlowRun:
    with get_client(sync_client=True) as client:
        run = client.create_flow_run_from_deployment(
            deployment_id,
            parameters={"zaakreferentie": reference, "regio": "emmen"},
            tags=[database_tag(casework.database_id())],
        )
    casework.attach_run(reference, str(run.id))
    return run


def crash(run: FlowRun, state: object = None) -> FlowRun:
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run.id, state or Crashed(message="exit code -9"), force=True)  # type: ignore[arg-type]
        return client.read_flow_run(run.id)


def stuck_mails(casework: Casework) -> list[str]:
    with casework._uow() as uow:
        return sorted(uow.session.execute(select(OutboxMail.recipient).filter_by(event="case_stuck")).scalars())


def test_a_crashed_case_run_is_scheduled_again_as_the_same_run(deployment_id: UUID, casework: Casework) -> None:
    reference = to_nomination(casework)
    run = crash(case_run(casework, deployment_id, reference))
    assert [r.id for r in stranded_runs(casework.database_id())] == [run.id]
    assert recover(casework, run) == "restarted"
    with get_client(sync_client=True) as client:
        again = client.read_flow_run(run.id)
    assert again.state is not None and again.state.is_scheduled() and again.state.name == RESTART
    assert "exit code -9" in (again.state.message or "")
    assert stranded_runs(casework.database_id()) == []


def test_a_run_that_keeps_crashing_is_marked_stuck_once_and_a_move_clears_it(
    deployment_id: UUID, casework: Casework
) -> None:
    reference = to_nomination(casework)
    run = case_run(casework, deployment_id, reference)
    for _ in range(MAX_RESTARTS):
        assert recover(casework, crash(run, Failed(message="PrefectHTTPStatusError: 503"))) == "restarted"
    assert recover(casework, crash(run)) == "stuck"
    case = casework.view(reference)
    assert case.stuck is not None and f"{MAX_RESTARTS}× herstart zonder voortgang" in case.stuck
    assert "exit code -9" in case.stuck
    assert stuck_mails(casework) == COORDINATORS  # one mail to each coordinator of the region
    assert recover(casework, crash(run)) is None  # stuck: no more restarts, no second mail
    assert stuck_mails(casework) == COORDINATORS
    region = casework.regions["emmen"]
    assert "**Vastgelopen**" in case_page(case, region, ui_url="http://ui", today=casework.today())
    row = worklist([case], casework.regions, ui_url="http://ui", today=casework.today())[0]
    assert row["probleem"].startswith("vastgelopen: ")

    # The case moves (someone fixed the cause and pressed Retry, the coordinator nominated): no longer stuck.
    casework.propose_nomination(reference, 1, "domesta", "EMM-TP-01")
    assert casework.view(reference).stuck is None


def test_a_run_that_got_somewhere_between_crashes_counts_from_there(deployment_id: UUID, casework: Casework) -> None:
    reference = to_nomination(casework)
    run = case_run(casework, deployment_id, reference)
    for _ in range(MAX_RESTARTS + 2):
        assert recover(casework, crash(run)) == "restarted"
        crash(run, Suspended(pause_key="nomination-1-response"))  # it reached its form again
    assert casework.view(reference).stuck is None


def test_runs_that_are_not_the_cases_own_are_left_alone(deployment_id: UUID, casework: Casework) -> None:
    reference = to_nomination(casework)
    old = crash(case_run(casework, deployment_id, reference))
    case_run(casework, deployment_id, reference)  # the case now has another run
    assert recover(casework, old) is None


# Runs whose worker died with them: nobody reports them Crashed, they only stop giving signs of life.
SILENT_FOR = timedelta(seconds=90)  # 3 heartbeats of 30 s


def moved(run: FlowRun, state: State) -> FlowRun:
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run.id, state, force=True)
        return client.read_flow_run(run.id)


def heartbeat(run: FlowRun, at: datetime) -> None:
    """What the run's process sends every PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds, once the server stored it (it
    writes events in batches, every few seconds)."""
    emit_event(
        "prefect.flow-run.heartbeat", resource={"prefect.resource.id": f"prefect.flow-run.{run.id}"}, occurred=at
    )
    deadline = time.monotonic() + 60
    while last_sign_of_life(run) != at:
        assert time.monotonic() < deadline, "heartbeat not stored"
        time.sleep(0.5)


def test_a_running_case_run_that_went_silent_is_declared_crashed_and_restarted(
    deployment_id: UUID, casework: Casework
) -> None:
    reference = to_nomination(casework)
    run = moved(case_run(casework, deployment_id, reference), Running())
    assert run.state is not None
    since = run.state.timestamp
    assert silent_runs(casework.database_id(), SILENT_FOR, now=since + SILENT_FOR - timedelta(seconds=1)) == []
    (silent,) = silent_runs(casework.database_id(), SILENT_FOR, now=since + SILENT_FOR + timedelta(seconds=1))
    assert silent.id == run.id

    crashed = declare_crashed(silent, SILENT_FOR)
    assert crashed is not None and crashed.state is not None and crashed.state.is_crashed()
    assert "90 s geen hartslag of ander levensteken (Running)" in (crashed.state.message or "")
    assert [r.id for r in stranded_runs(casework.database_id())] == [run.id]  # now the recovery's like any crash
    assert recover(casework, crashed) == "restarted"
    with get_client(sync_client=True) as client:
        again = client.read_flow_run(run.id).state
    assert again is not None and again.name == RESTART and "geen hartslag" in (again.message or "")


def test_heartbeats_keep_a_running_run_alive(deployment_id: UUID, casework: Casework) -> None:
    run = moved(case_run(casework, deployment_id, to_nomination(casework)), Running())
    assert run.state is not None
    beat = run.state.timestamp + timedelta(seconds=60)
    heartbeat(run, beat)
    assert silent_runs(casework.database_id(), SILENT_FOR, now=beat + SILENT_FOR - timedelta(seconds=1)) == []
    (silent,) = silent_runs(casework.database_id(), SILENT_FOR, now=beat + SILENT_FOR + timedelta(seconds=1))
    assert silent.id == run.id


def test_a_run_left_pending_by_its_worker_counts_as_silent_too(deployment_id: UUID, casework: Casework) -> None:
    run = moved(case_run(casework, deployment_id, to_nomination(casework)), Pending())
    assert run.state is not None
    # Not while its process may still be starting on a busy machine (no heartbeats before it runs).
    assert silent_runs(casework.database_id(), SILENT_FOR, now=run.state.timestamp + 2 * SILENT_FOR) == []
    (silent,) = silent_runs(casework.database_id(), SILENT_FOR, now=run.state.timestamp + PENDING_FOR)
    assert silent.id == run.id


def test_runs_waiting_on_a_form_or_to_be_started_are_never_silent(deployment_id: UUID, casework: Casework) -> None:
    case_run(casework, deployment_id, to_nomination(casework))  # Scheduled
    moved(case_run(casework, deployment_id, to_nomination(casework)), Suspended(pause_key="nomination-1-proposal"))
    a_week_on = datetime.now().astimezone() + timedelta(days=7)
    assert silent_runs(casework.database_id(), SILENT_FOR, now=a_week_on) == []


def test_a_run_that_moved_since_it_was_found_silent_is_left_alone(deployment_id: UUID, casework: Casework) -> None:
    run = moved(case_run(casework, deployment_id, to_nomination(casework)), Running())
    assert run.state is not None
    (silent,) = silent_runs(casework.database_id(), SILENT_FOR, now=run.state.timestamp + 2 * SILENT_FOR)
    moved(run, Suspended(pause_key="nomination-1-proposal"))  # it was alive after all, and reached its form
    assert declare_crashed(silent, SILENT_FOR) is None
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run.id).state
    assert state is not None and state.is_paused()


def test_silent_is_three_heartbeats_never_less_than_one_and_a_half(monkeypatch: pytest.MonkeyPatch) -> None:
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 30}):
        assert silent_after() == timedelta(seconds=90)
        monkeypatch.setenv(MISSES_ENV, "1.5")  # a quick test stack
        assert silent_after() == timedelta(seconds=45)
        monkeypatch.setenv(MISSES_ENV, "1")
        assert silent_after() == timedelta(seconds=45)
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        assert silent_after() is None  # no heartbeats: no run can be told dead
