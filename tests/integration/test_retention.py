"""Retention on a real Prefect server: finished runs go with their inputs, task runs and logs; what a case still needs
stays (the run it waits in, whatever its state, and the latest version of its page).

"Old" is a cutoff between the runs a test finished first and those it finished after (the server stamps the end
time itself), so nothing waits; the flow's own cutoff (days before now) is checked with a clock moved on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import httpx
import pytest
from prefect import get_client, task
from prefect.client.schemas.actions import ArtifactCreate, LogCreate
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    ArtifactFilter,
    ArtifactFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Completed, Crashed, Failed, Scheduled, State, Suspended
from prefect.testing.utilities import prefect_test_harness
from pydantic import ValidationError

import flows.retention
from config.settings import Settings
from flows.follow_up import follow_up
from flows.outflow import outflow_case
from flows.pages import WORKLIST_KEY, case_page_key
from flows.reminders import mail_outbox, reminders
from flows.retention import purge_finished_runs, retention, retention_cutoff
from tests.conftest import Clock
from tests.integration.helpers import register, review, to_follow_up, to_nomination, zrm
from weerthuis.domain.calendar import AMSTERDAM
from weerthuis.domain.vocabulary import ReadinessVerdict, ReviewOutcome
from weerthuis.runs import database_tag
from weerthuis.service.casework import Casework

FORM = "nomination-1-proposal"  # the key a form answer is kept under, as the outflow's forms use them


@pytest.fixture(scope="module")
def deployments() -> Iterator[dict[str, UUID]]:
    with prefect_test_harness(server_startup_timeout=120), get_client(sync_client=True) as client:
        yield {
            "outflow-case": client.create_deployment(flow_id=client.create_flow(outflow_case), name="outflow-case"),
            "follow-up": client.create_deployment(flow_id=client.create_flow(follow_up), name="follow-up"),
        }


@task
def step() -> None:
    """Stands in for a task of a run: its task run and its log lines must go with the run."""


def case_run(
    casework: Casework,
    deployments: dict[str, UUID],
    reference: str,
    *,
    review: int | None = None,
    state: State | None = None,
    tag: str | None = None,
    attach: bool = True,
) -> FlowRun:
    parameters: dict[str, object] = {"zaakreferentie": reference, "regio": "emmen"}
    if review is not None:
        parameters["nazorgmoment"] = review
    with get_client(sync_client=True) as client:
        run = client.create_flow_run_from_deployment(
            deployments["follow-up" if review else "outflow-case"],
            parameters=parameters,
            tags=[tag or database_tag(casework.database_id())],
            state=state,
        )
    if attach:
        casework.attach_run(reference, str(run.id))
    return run


def chore_run(chore: Any = reminders) -> FlowRun:
    """A run of one of the scheduled chores (here without a deployment)."""
    with get_client(sync_client=True) as client:
        return client.create_flow_run(chore, parameters={})


def moved(run: FlowRun, state: State) -> FlowRun:
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run.id, state, force=True)
        return client.read_flow_run(run.id)


def with_traces(run: FlowRun) -> UUID:
    """A form answer, a task run and log lines of the run and of its task, as a real run leaves them; the task run."""
    with get_client(sync_client=True) as client:
        client.create_flow_run_input(run.id, FORM, '{"corporatie": "domesta"}')
        task_run = client.create_task_run(step, flow_run_id=run.id, dynamic_key="0")
        now = datetime.now(UTC)
        lines = [
            {"name": "prefect.flow_runs", "message": "wacht op formulier", "flow_run_id": run.id},
            {"name": "prefect.task_runs", "message": "klaar", "flow_run_id": run.id, "task_run_id": task_run.id},
        ]
        client.create_logs([LogCreate.model_validate({"level": 20, "timestamp": now, **line}) for line in lines])
    eventually(lambda: logs(run.id) == 2, "logs not stored")
    return task_run.id


def artifact(run: FlowRun, key: str | None, data: str) -> UUID:
    with get_client(sync_client=True) as client:
        return client.create_artifact(ArtifactCreate(key=key, type="markdown", data=data, flow_run_id=run.id)).id


def eventually(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def logs(flow_run_id: UUID) -> int:
    with get_client(sync_client=True) as client:
        return len(client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))))


def exists(run: FlowRun) -> bool:
    with get_client(sync_client=True) as client:
        try:
            client.read_flow_run(run.id)
        except ObjectNotFound:
            return False
    return True


def task_run_exists(task_run_id: UUID) -> bool:
    with get_client(sync_client=True) as client:
        try:
            client.read_task_run(task_run_id)
        except ObjectNotFound:
            return False
    return True


def form_answer(run: FlowRun) -> str | None:
    with get_client(sync_client=True) as client:
        try:
            return client.read_flow_run_input(run.id, FORM)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 404:
                return None
            raise


def artifacts(*ids: UUID) -> set[UUID]:
    """Which of these artifacts are still there."""
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(id=ArtifactFilterId(any_=list(ids))))
    return {a.id for a in found}


def latest(key: str) -> UUID:
    with get_client(sync_client=True) as client:
        (collection,) = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[key]))
        )
    return collection.latest_id


def ended_by(*runs: FlowRun) -> datetime:
    """A cutoff that makes these finished runs old: the last of their ends."""
    ends = [run.end_time for run in runs]
    assert all(end is not None for end in ends)
    return max(end for end in ends if end is not None)


def withdrawn(casework: Casework) -> str:
    reference = register(casework)
    casework.start_assessment(reference)
    casework.record_assessment(reference, 1, zrm(casework.today()))
    casework.decide_readiness(reference, 1, ReadinessVerdict.WITHDRAWN, "EMM-TP-01")
    assert casework.view(reference).stage.is_final
    return reference


def test_old_finished_runs_go_with_their_inputs_task_runs_logs_and_older_artifact_versions(
    deployments: dict[str, UUID], casework: Casework
) -> None:
    reference = to_nomination(casework)
    replaced = case_run(casework, deployments, reference)  # the case's first run, crashed and replaced since
    page_before, page_now, chart = (
        artifact(replaced, case_page_key(reference), "# v1"),
        artifact(replaced, case_page_key(reference), "# v2"),
        artifact(replaced, None, "zonder sleutel"),
    )
    chore, outbox = chore_run(), chore_run(mail_outbox)  # not case runs: no reference
    worklist_before = artifact(chore, WORKLIST_KEY, "[]")
    traced = {run.id: with_traces(run) for run in (replaced, chore, outbox)}
    old = [
        moved(replaced, Crashed(message="exit code -9")),
        moved(chore, Completed()),
        moved(outbox, Cancelled()),
    ]
    case_run(casework, deployments, reference)  # the case's run now
    cutoff = ended_by(*old)
    today = moved(chore_run(), Completed())  # ended after the cutoff
    worklist_now = artifact(today, WORKLIST_KEY, "[]")

    done = purge_finished_runs(casework, cutoff)

    assert {run.id for run in old} <= set(done.runs)
    assert not any(exists(run) for run in old)
    assert [form_answer(run) for run in old] == [None, None, None]  # the run inputs (form answers) went with them
    assert not any(task_run_exists(task_run_id) for task_run_id in traced.values())
    eventually(lambda: all(logs(run.id) == 0 for run in old), "logs of the deleted runs stayed")
    # Older versions and unkeyed artifacts go; the latest version of a key stays, also when its run went.
    assert artifacts(page_before, page_now, chart, worklist_before, worklist_now) == {page_now, worklist_now}
    assert latest(case_page_key(reference)) == page_now
    assert exists(today)
    assert done.artifacts >= 3


def test_the_run_an_open_case_waits_in_stays_whatever_its_state(
    deployments: dict[str, UUID], casework: Casework
) -> None:
    waiting = moved(case_run(casework, deployments, to_nomination(casework)), Suspended(pause_key=FORM))
    with_traces(waiting)
    scheduled = case_run(casework, deployments, to_nomination(casework))  # Scheduled, not started yet
    stuck = moved(case_run(casework, deployments, to_nomination(casework)), Failed(message="503"))  # waits for Retry
    done_early = moved(case_run(casework, deployments, to_nomination(casework)), Completed())
    closed = moved(case_run(casework, deployments, withdrawn(casework)), Failed(message="503"))  # case ended
    cutoff = ended_by(stuck, done_early, closed) + timedelta(seconds=1)

    done = purge_finished_runs(casework, cutoff)

    assert all(exists(run) for run in (waiting, scheduled, stuck, done_early))
    assert done.kept[stuck.id] == done.kept[done_early.id] == "huidige run van een open zaak"
    assert form_answer(waiting) == '{"corporatie": "domesta"}' and logs(waiting.id) == 2
    assert not exists(closed)  # a closed case has no current run any more


def test_a_case_in_follow_up_keeps_its_page_and_next_review_when_the_review_that_wrote_it_goes(
    deployments: dict[str, UUID], casework: Casework, clock: Clock
) -> None:
    """The case db_vacuum would empty: it waits months for review 2, and its page was last written by review 1's run."""
    reference = to_follow_up(casework)
    first = case_run(casework, deployments, reference, review=1)
    clock.now = datetime(2026, 6, 2, 10, tzinfo=AMSTERDAM)
    review(casework, reference, 1, ReviewOutcome.CONTINUE)
    page = artifact(first, case_page_key(reference), "# Zaak na nazorgmoment 1")
    first = moved(first, Completed())
    next_review = case_run(
        casework,
        deployments,
        reference,
        review=2,
        state=Scheduled(scheduled_time=datetime.now(UTC) + timedelta(days=90)),
        attach=False,
    )
    casework.await_review_in(reference, str(next_review.id))

    done = purge_finished_runs(casework, ended_by(first))

    assert first.id in done.runs and not exists(first)
    assert exists(next_review)
    assert latest(case_page_key(reference)) == page and artifacts(page) == {page}


def test_of_another_case_database_a_failed_run_stays_and_a_completed_one_goes(
    deployments: dict[str, UUID], casework: Casework
) -> None:
    reference = to_nomination(casework)
    elsewhere = "zaakdb:0123456789ab"  # the same reference in another case database, whose runs this one cannot judge
    failed = moved(case_run(casework, deployments, reference, tag=elsewhere, attach=False), Failed(message="503"))
    completed = moved(case_run(casework, deployments, reference, tag=elsewhere, attach=False), Completed())

    done = purge_finished_runs(casework, ended_by(failed, completed))

    assert exists(failed) and "andere zaakdatabase" in done.kept[failed.id]
    assert not exists(completed)


def test_the_retention_flow_deletes_what_ended_longer_than_the_retention_days_ago(
    deployments: dict[str, UUID], casework: Casework, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting = moved(case_run(casework, deployments, to_nomination(casework)), Suspended(pause_key=FORM))
    finished = moved(chore_run(), Completed())
    application = SimpleNamespace(settings=Settings(prefect_retention_days=30), casework=casework)
    monkeypatch.setattr(flows.retention, "app", lambda: application)
    assert retention()["runs"] == 0  # nothing on this server ended 30 days ago
    assert exists(finished)

    later = datetime.now(UTC) + timedelta(days=30, minutes=1)
    monkeypatch.setattr(flows.retention, "utc_now", lambda: later)
    result = retention()

    assert not exists(finished) and exists(waiting)
    assert result["runs"] >= 1


def test_the_retention_is_90_days_unless_set_and_between_1_and_3650(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEERTHUIS_PREFECT_RETENTION_DAYS", raising=False)
    assert Settings().prefect_retention_days == 90
    monkeypatch.setenv("WEERTHUIS_PREFECT_RETENTION_DAYS", "30")
    assert Settings().prefect_retention_days == 30
    for wrong in ("0", "3651"):
        monkeypatch.setenv("WEERTHUIS_PREFECT_RETENTION_DAYS", wrong)
        with pytest.raises(ValidationError):
            Settings()
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert retention_cutoff(30, now) == datetime(2026, 5, 2, tzinfo=UTC)
