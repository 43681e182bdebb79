"""The server's own scheduler keeps the procedure moving: nobody starts `counterpart-answers` or `reminders` by hand.

A stack of its own, with prefect.yaml as shipped but two schedules shortened (every 15 and 20 seconds instead of
five minutes and daily at 07:00), so that the server's scheduler is seen to create their runs and the worker to run
them. A corporation's acceptance and its offer, made in its own system (the fake's control paths), reach the
waiting case by those runs alone. A Prefect 3.8.8 server on an SQLAlchemy it does not support logs scheduler errors
and creates no runs at all; the server log is checked for them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from prefect import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName, FlowRunFilter
from prefect.client.schemas.objects import FlowRun
from prefect.settings import temporary_settings

from config.settings import Settings
from tests.e2e.test_all_adapters import control, only
from tests.e2e.test_outflow_case import Desk, register, zrm
from weerthuis.bootstrap import App, build
from weerthuis.devstack import LocalStack, free_port
from weerthuis.runs import start_case

pytestmark = pytest.mark.stack

SHORTENED = {"counterpart-answers": 15, "reminders": 20}


@pytest.fixture(scope="module")
def scheduled_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("scheduled"), port=free_port(), schedule_intervals=SHORTENED)
    with local, temporary_settings(updates=local.prefect_settings()):
        yield local


@pytest.fixture(scope="module")
def scheduled_app(scheduled_stack: LocalStack) -> App:
    return build(Settings(data_dir=scheduled_stack.data_dir), migrate=True)


def runs_of(deployment: str) -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment])),
            flow_run_filter=FlowRunFilter(),
            limit=200,
        )


def completed_runs_of(deployment: str, timeout: float) -> list[FlowRun]:
    """The deployment's runs once at least one of them completed (all of them, as they are then)."""
    deadline = time.monotonic() + timeout
    while True:
        runs = runs_of(deployment)
        if any(r.state is not None and r.state.is_completed() for r in runs) or time.monotonic() > deadline:
            assert any(r.state is not None and r.state.is_completed() for r in runs), f"{deployment} never completed"
            return runs
        time.sleep(1)


def scheduler_errors(stack: LocalStack) -> list[str]:
    """Error lines of the server log that come from its scheduling services (or name the SQLAlchemy failure)."""
    log = (stack.logs / "server.log").read_text(errors="replace")
    return [
        line
        for line in log.splitlines()
        if "bulk DML" in line  # SQLAlchemy 2.1 under Prefect 3.8.8: "InvalidRequestError: Can't evaluate bulk DML …"
        or (re.search(r"\bERROR\b|Traceback|Error:", line) and re.search(r"schedul", line, re.IGNORECASE))
    ]


def test_the_corporations_answers_reach_the_case_by_the_scheduled_runs_alone(
    scheduled_stack: LocalStack, scheduled_app: App
) -> None:
    reference = register(scheduled_app)
    run = start_case(reference, "emmen")
    desk = Desk(run.id)
    desk.answer("readiness-1-assessment", zrm())
    desk.answer("readiness-1-decision", {"verdict": "klaar voor uitstroom", "decided_by": "EMM-TP-01"})
    desk.answer("nomination-1-proposal", {"corporation": "domesta", "decided_by": "EMM-TP-01"})
    desk.next_form("nomination-1-response")

    # Domesta's consultant accepts, then offers a dwelling, each in Domesta's system; nobody runs anything here.
    corporation = scheduled_stack.corporation_port
    nomination = only(control(corporation, "GET", f"voordrachten?zaakreferentie={reference}"))
    control(corporation, "POST", f"voordrachten/{nomination['id']}/antwoord", {"status": "geaccepteerd"})
    desk.next_form("offer-1-offer")
    viewing = f"{(date.today() + timedelta(days=3)).isoformat()}T14:00:00+01:00"
    offered = {"verhuureenheid": "DOM-EMM-0815", "wijk": "angelslo", "kaleHuurprijs": 612.35, "bezichtiging": viewing}
    control(corporation, "POST", f"voordrachten/{nomination['id']}/aanbiedingen", offered)
    desk.next_form("offer-1-answer")
    decided = [(line.event, line.decided_by) for line in scheduled_app.casework.view(reference).history]
    assert decided[-2:] == [("NominationAccepted", "api:domesta"), ("OfferMade", "api:domesta")]

    # Every run of both deployments was made by the server's scheduler, and the ones due run to completion (the
    # case may have got here before the first reminders round was through: wait for one, on a busy machine).
    for deployment in SHORTENED:
        runs = completed_runs_of(deployment, timeout=240)
        assert runs and all(r.auto_scheduled for r in runs), deployment
        failed = [r for r in runs if r.state is not None and (r.state.is_failed() or r.state.is_crashed())]
        assert not failed, (deployment, [(r.name, r.state) for r in failed])

    assert scheduler_errors(scheduled_stack) == []
