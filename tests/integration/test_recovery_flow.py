"""The recovery's rules on a real Prefect server: which runs it restarts, and when it gives up and says so."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.states import Crashed, Failed, Suspended
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import select

from flows.outflow import outflow_case
from flows.pages import case_page, worklist
from flows.recovery import MAX_RESTARTS, RESTART, recover, stranded_runs
from tests.integration.helpers import to_nomination
from weerthuis.casedb.models import OutboxMail
from weerthuis.casework import Casework
from weerthuis.runs import database_tag

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
