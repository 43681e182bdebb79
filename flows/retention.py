"""Retention: a finished run leaves Prefect, with its inputs (the form answers) and logs, once it ended more than
WEERTHUIS_PREFECT_RETENTION_DAYS ago (config/settings.py, 90 by default); what a case still needs stays.

Deleted: runs in a terminal state (Completed, Cancelled, Failed, Crashed) whose end is older than the retention,
of every deployment. Kept: the current run of an open case in any state (a stuck case waits in its Failed or
Crashed run for Retry; `flows.recovery.is_current` is the rule), and a Failed or Crashed run made for another case
database (whether it is current there cannot be told here). Runs that wait (Suspended on a form, Scheduled for a
review or a restart) are not finished and never looked at.

What Prefect's delete of a flow run takes along: in its database the run's states, task runs (and theirs) and
run inputs (foreign keys ON DELETE CASCADE); the run's logs, task runs' logs included, go in a background task of
the server right after (`delete_flow_run_logs` in prefect/server/api/flow_runs.py). Artifacts do not go with it:
this flow deletes a run's artifacts first, all but the latest version of each key, so the case pages, the
worklist and the monitor charts the UI shows stay.

Not Prefect's own `db_vacuum` service: its `flow_runs` vacuum deletes every old terminal run, also a case's current
Failed run, with all of its artifacts, also the latest version of a key. A case in follow-up waits up to a year
for its next review while its page was last written by the previous review's run, long finished: its page would
go. Keep `flow_runs` and `orphans` out of PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED: the orphan pass deletes
artifacts whose run is gone, exactly the latest versions this flow keeps.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect import flow, get_client, get_run_logger
from prefect.client.schemas.filters import (
    ArtifactCollectionFilter,
    ArtifactCollectionFilterKey,
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import ObjectNotFound

from flows.recovery import is_current
from weerthuis.bootstrap import app
from weerthuis.casedb.uow import UnknownCase
from weerthuis.runs import database_tag, database_tags
from weerthuis.service.casework import Casework

FINISHED = [StateType.COMPLETED, StateType.CANCELLED, StateType.FAILED, StateType.CRASHED]
RESTARTABLE = {StateType.FAILED, StateType.CRASHED}  # the recovery (or Retry) may still start these again
BATCH = 200  # runs (and artifacts) per request; Prefect's API serves at most 200


@dataclass
class Purge:
    runs: list[UUID] = field(default_factory=list)  # deleted, with their inputs and logs
    artifacts: int = 0  # deleted artifacts of those runs (never the latest version of a key)
    kept: dict[UUID, str] = field(default_factory=dict)  # finished before the cutoff but kept: why


def utc_now() -> datetime:
    return datetime.now(UTC)


def retention_cutoff(days: int, now: datetime | None = None) -> datetime:
    """Runs that ended before this go."""
    return (now or utc_now()) - timedelta(days=days)


def why_kept(run: FlowRun, casework: Casework, ours: str) -> str | None:
    """Why a finished run must stay; None when it may go."""
    reference = run.parameters.get("zaakreferentie")
    if not isinstance(reference, str):
        return None  # not a case run: reminders, outbox, answers, recovery, monitor, retention
    tags = database_tags(run.tags)
    if tags and ours not in tags:
        restartable = run.state is not None and run.state.type in RESTARTABLE
        return "run van een andere zaakdatabase, misschien nog te herstarten" if restartable else None
    try:
        case = casework.view(reference)  # a run without a `zaakdb:` tag acts on this database (check_case_database)
    except UnknownCase:
        return None
    return "huidige run van een open zaak" if is_current(run, case) else None


def drop_artifacts(client: Any, flow_run_id: UUID) -> int:
    """Delete the run's artifacts except the latest version of each key; how many went."""
    dropped = 0
    while True:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])), limit=BATCH
        )
        keys = sorted({artifact.key for artifact in artifacts if artifact.key})
        latest = (
            {
                collection.latest_id
                for collection in client.read_latest_artifacts(
                    artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=keys)),
                    limit=len(keys),
                )
            }
            if keys
            else set()
        )
        doomed = [artifact.id for artifact in artifacts if artifact.id not in latest]
        for artifact_id in doomed:
            with suppress(ObjectNotFound):  # gone already
                client.delete_artifact(artifact_id)
        dropped += len(doomed)
        if not doomed or len(artifacts) < BATCH:
            return dropped


def purge_finished_runs(casework: Casework, cutoff: datetime) -> Purge:
    """Delete every finished run that ended before `cutoff`, with its inputs, logs and artifacts, except what must
    stay (`why_kept`, the latest version of each artifact key)."""
    ours = database_tag(casework.database_id())
    done = Purge()
    with get_client(sync_client=True) as client:
        while True:
            condition: dict[str, Any] = {
                "state": FlowRunFilterState(type=FlowRunFilterStateType(any_=FINISHED)),
                "end_time": FlowRunFilterEndTime.model_validate({"before_": cutoff}),
            }
            if done.kept:
                condition["id"] = FlowRunFilterId(not_any_=list(done.kept))
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(**condition), sort=FlowRunSort.END_TIME_DESC, limit=BATCH
            )
            if not runs:
                return done
            for run in runs:
                why = why_kept(run, casework, ours)
                if why is not None:
                    done.kept[run.id] = why
                    continue
                done.artifacts += drop_artifacts(client, run.id)  # first: they cannot be found by run once it is gone
                with suppress(ObjectNotFound):  # states, task runs and inputs go with it; the server then drops logs
                    client.delete_flow_run(run.id)
                done.runs.append(run.id)


@flow(name="retention", flow_run_name="bewaartermijn", persist_result=False)
def retention() -> dict[str, int]:
    """Verwijder afgelopen runs (voltooid, geannuleerd, mislukt, gecrasht) die langer dan de bewaartermijn geleden
    eindigden uit Prefect, met hun invoer (formulierantwoorden) en logs. De run waarin een open zaak nu staat blijft,
    net als de laatste versie van elke zaakpagina, de werkvoorraad en de monitor."""
    application, logger = app(), get_run_logger()
    days = application.settings.prefect_retention_days
    cutoff = retention_cutoff(days)
    done = purge_finished_runs(application.casework, cutoff)
    logger.info(
        "Bewaartermijn %d dagen: %d run(s) die vóór %s eindigden verwijderd, met invoer en logs, en %d artifact(s).",
        days,
        len(done.runs),
        f"{cutoff:%Y-%m-%d %H:%M} UTC",
        done.artifacts,
    )
    for why in sorted(set(done.kept.values())):
        logger.info("Bewaard: %d run(s), %s.", sum(1 for w in done.kept.values() if w == why), why)
    return {"runs": len(done.runs), "artifacts": done.artifacts, "kept": len(done.kept)}
