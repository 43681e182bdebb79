"""Follow-up reviews as scheduled runs of the `follow-up` deployment, kept in step with the case database.

The case database plans the reviews (weerthuis.service.queries' review_plan: the next one, possibly brought closer by a
yellow card, and the regular ones after it). `plan_reviews` makes Prefect match: a scheduled run per planned
review at 09:00 Dutch time on its date (created once, under an idempotency key, so a replayed flow makes none
twice), moved when the plan moved, and cancelled once the case has ended. Coordinators see them in the Prefect
UI's calendar, named by case reference and review number; the runs carry only the reference, region and number.

Gathering the signals for a review reads the corporation's reports and asks the care provider whether support
still reaches the client; only codes come back (`huurachterstand:geel`), never the reports' text.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from uuid import UUID

from prefect import get_client, get_run_logger, task
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.states import Cancelled, Scheduled

from tasks.actions import RETRIES
from weerthuis.bootstrap import App, app
from weerthuis.domain.calendar import AMSTERDAM
from weerthuis.domain.follow_up import signal
from weerthuis.domain.vocabulary import Card
from weerthuis.runs import database_tag
from weerthuis.service.casework import Casework

FOLLOW_UP_DEPLOYMENT = "follow-up/follow-up"
REVIEW_HOUR = time(9)


def review_moment(day: date) -> datetime:
    """When a review's run starts: 09:00 in the Netherlands on its date (CET or CEST as the date has it)."""
    return datetime.combine(day, REVIEW_HOUR, tzinfo=AMSTERDAM)


def review_runs(reference: str, database_id: str) -> dict[int, Any]:
    """The case's follow-up runs by review number, of one case database (the same reference elsewhere is another
    case)."""
    tags = [f"zaak:{reference}", "nazorg", database_tag(database_id)]
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=tags)))
    return {int(run.parameters["nazorgmoment"]): run for run in runs}


def sync_review_runs(casework: Casework, reference: str) -> dict[int, UUID]:
    """Make the case's scheduled follow-up runs match its review plan; returns the planned runs by number."""
    region = casework.view(reference).region
    database_id = casework.database_id()
    plan = dict(casework.review_plan(reference))
    existing = review_runs(reference, database_id)
    planned: dict[int, UUID] = {}
    with get_client(sync_client=True) as client:
        for number, day in plan.items():
            when = review_moment(day)
            run = existing.get(number)
            if run is None:
                run = run_deployment(
                    FOLLOW_UP_DEPLOYMENT,
                    parameters={"zaakreferentie": reference, "regio": region, "nazorgmoment": number},
                    scheduled_time=when,
                    timeout=0,
                    as_subflow=False,
                    # Per case database, as the outflow run: the same reference elsewhere has reviews of its own.
                    idempotency_key=f"follow-up-{database_id}-{reference}-{number}",
                    flow_run_name=f"{reference} · nazorg {number}",
                    tags=[f"zaak:{reference}", "nazorg", f"regio:{region}", database_tag(database_id)],
                    _sync=True,  # type: ignore[call-arg]
                )
                assert isinstance(run, FlowRun)  # made synchronously
            elif run.state is not None and run.state.is_scheduled() and run.state.state_details.scheduled_time != when:
                client.set_flow_run_state(run.id, Scheduled(scheduled_time=when), force=True)
            planned[number] = run.id
        for number, run in existing.items():
            if number not in plan and run.state is not None and run.state.is_scheduled():
                client.set_flow_run_state(
                    run.id, Cancelled(message="Niet meer nodig: de zaak is afgesloten."), force=True
                )
    return planned


@task(task_run_name="plan_reviews {reference}", **RETRIES)
def plan_reviews(reference: str) -> list[int]:
    """Schedule, move or cancel the case's follow-up runs as its review plan says; the review numbers planned."""
    casework = app().casework
    planned = sync_review_runs(casework, reference)
    if planned:
        # The next review's run is the one that waits now: links and the asking mail point at it.
        casework.await_review_in(reference, str(planned[min(planned)]))
    get_run_logger().info("Zaak %s: nazorgmomenten gepland: %s", reference, sorted(planned) or "geen")
    return sorted(planned)


def signals_for(application: App, reference: str) -> tuple[str, ...]:
    """What the corporation reported since the last review (or since support started), and whether support still
    reaches the client according to the provider, as signal codes."""
    casework = application.casework
    case = casework.view(reference)
    since = casework.last_review_on(reference)
    found = []
    if case.corporation is not None:
        for reported in application.corporation.signals(case.corporation, reference, since):
            found.append(signal(reported["kind"], Card(reported["severity"])))
    request_id = casework.receipt(reference, "request_support")
    if (
        request_id is not None
        and not application.care_provider.reach(case.care_provider, request_id, casework.today())["reached"]
    ):
        found.append(signal("begeleiding", Card.YELLOW))
    return tuple(sorted(set(found)))


@task(task_run_name="gather_signals {reference}", **RETRIES)
def gather_signals(reference: str) -> list[str]:
    """The signals for a review, gathered through the adapters (codes only)."""
    return list(signals_for(app(), reference))
