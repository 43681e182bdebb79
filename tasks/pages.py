"""Keep what coordinators read in the Prefect UI current: the run's name and tags, the case page, the worklist."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from prefect import get_client, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from prefect.settings import get_current_settings

from flows.pages import WORKLIST_KEY, case_page, case_page_key, worklist
from tasks.retrying import RetryOptions
from weerthuis.bootstrap import app
from weerthuis.service.views import CaseView

RETRY = RetryOptions(retries=3, retry_delay_seconds=[1, 5, 15])


def latest_artifact(key: str) -> Any | None:
    """The newest version of a keyed artifact, or None."""
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.UPDATED_DESC, limit=1
        )
    return found[0] if found else None


def ui_url() -> str:
    return get_current_settings().ui_url or "http://127.0.0.1:4200"


def run_name(case: CaseView) -> str:
    """How the case reads in the Runs list: reference and stage."""
    return f"{case.reference} · {case.stage.label}"


def run_tags(case: CaseView, tags: list[str]) -> list[str]:
    """The run's tags with the case's region and (once nominated) corporation, other tags kept."""
    kept = [t for t in tags if not t.startswith(("regio:", "corporatie:"))]
    return [*kept, f"regio:{case.region}", *([f"corporatie:{case.corporation}"] if case.corporation else [])]


@task(task_run_name="name_run {reference}", **RETRY)
def name_run(reference: str, flow_run_id: UUID) -> None:
    case = app().casework.view(reference)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        name, tags = run_name(case), run_tags(case, list(run.tags))
        if run.name.startswith(name):  # a follow-up run keeps its review's number: "WT-2026-0042 · nazorg 2"
            name = run.name
        if (run.name, sorted(run.tags)) != (name, sorted(tags)):
            client.update_flow_run(flow_run_id, name=name, tags=tags)


@task(task_run_name="publish_case_page {reference}", **RETRY)
def publish_case_page(reference: str) -> bool:
    """Rewrite the case's page if it changed; tells whether it did."""
    application = app()
    case = application.casework.view(reference)
    page = case_page(case, application.regions[case.region], ui_url=ui_url(), today=application.casework.today())
    key = case_page_key(reference)
    current = latest_artifact(key)
    if current is not None and current.data == page:
        return False
    create_markdown_artifact(markdown=page, key=key, description=f"Zaakpagina {reference}")
    return True


@task(task_run_name="refresh_worklist", **RETRY)
def refresh_worklist(today: date | None = None) -> None:
    application = app()
    rows: list[dict[str, Any]] = worklist(
        application.casework.waiting_cases(),
        application.regions,
        ui_url=ui_url(),
        today=today or application.casework.today(),
    )
    create_table_artifact(
        table=rows or [{"zaak": "", "fase": "geen zaken wachten"}],
        key=WORKLIST_KEY,
        description="Werkvoorraad: elke zaak die op iemand wacht, de meest dringende eerst.",
    )


def show_progress(case: CaseView, flow_run_id: UUID) -> None:
    """After a transition: the run's name and tags, the case page, and the worklist follow the case."""
    name_run(case.reference, flow_run_id)
    if publish_case_page(case.reference):
        refresh_worklist()
