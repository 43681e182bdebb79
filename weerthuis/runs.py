"""Starting a case's run and answering its forms through the Prefect API, as the UI does."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx
from prefect import get_client
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.responses import SetStateStatus
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL

from weerthuis.devstack import OUTFLOW_DEPLOYMENT

if TYPE_CHECKING:
    from weerthuis.service.casework import Casework
    from weerthuis.service.views import CaseView

# A run made for a case carries its case database's identity as a tag, `zaakdb:<first 12 hex of the id>`.
DATABASE_TAG = "zaakdb:"
# The address `./dev demo` serves on, for the message that says what to set.
DEMO_API_URL = "http://127.0.0.1:4200/api"


class NoPrefectServer(RuntimeError):
    """No Prefect server to talk to: PREFECT_API_URL unset, or the server there does not answer."""


class ForeignRun(RuntimeError):
    """A run that belongs to another case or another case database: never used for this case."""


class OtherCaseDatabase(ForeignRun):
    """A run made for another case database than the one this process (a worker) works on."""


def database_tag(database_id: str) -> str:
    """The run tag of a case database: `zaakdb:` and the first 12 hex digits of its id (nothing personal)."""
    return f"{DATABASE_TAG}{database_id[:12]}"


def database_tags(tags: Iterable[str]) -> set[str]:
    return {tag for tag in tags if tag.startswith(DATABASE_TAG)}


def require_prefect_server() -> str:
    """The Prefect API address, once it answers; NoPrefectServer (in Dutch, with what to do) otherwise.

    Without PREFECT_API_URL Prefect would start a temporary server of its own and give up after a timeout; a case
    run there would be lost, so the command stops first."""
    url = PREFECT_API_URL.value()
    if not url:
        raise NoPrefectServer(
            "PREFECT_API_URL is niet gezet, dus er is geen Prefect-server om mee te praten. Zet het adres van de "
            f"server, bijvoorbeeld: export PREFECT_API_URL={DEMO_API_URL} (het adres dat ./dev demo noemt)."
        )
    try:
        with get_client(sync_client=True) as client:
            problem = client.api_healthcheck()
    except Exception as exc:  # a malformed address, say
        problem = exc
    if problem is not None:
        why = str(problem).strip().splitlines()[0] if str(problem).strip() else type(problem).__name__
        raise NoPrefectServer(
            f"De Prefect-server op {url} antwoordt niet ({why}). Start de server (bijvoorbeeld ./dev demo) of zet "
            "PREFECT_API_URL op het adres van een draaiende server."
        )
    return str(url)


def start_case(reference: str, region: str, database_id: str | None = None) -> FlowRun:
    """Start (or find) the one outflow run of a case; only the reference and region reach Prefect.

    With the case database's id (`weerthuis start` and the demo always give it) the idempotency key and a
    `zaakdb:` tag carry it, so the same reference in another case database gets a run of its own. Without it (older
    callers that do not know the database) the key is the reference alone, as before."""
    key = f"outflow-case-{reference}" if database_id is None else f"outflow-case-{database_id}-{reference}"
    run: FlowRun = run_deployment(  # type: ignore[assignment]
        OUTFLOW_DEPLOYMENT,
        parameters={"zaakreferentie": reference, "regio": region},
        timeout=0,
        idempotency_key=key,
        tags=[f"regio:{region}", *([database_tag(database_id)] if database_id else [])],
        as_subflow=False,
        # Always the blocking call, also from a thread that runs an event loop (Playwright's sync API does).
        _sync=True,  # type: ignore[call-arg]
    )
    return run


def check_run(run: FlowRun, reference: str, database_id: str) -> FlowRun:
    """The run, if it is this case's in this case database; ForeignRun (in Dutch) if its `zaakreferentie` is
    another case's or its `zaakdb:` tag another database's. A run without that tag (started in the UI, or before
    the databases had an identity) is judged by its reference alone."""
    found = run.parameters.get("zaakreferentie")
    if found != reference:
        raise ForeignRun(
            f"Run {run.id} hoort bij zaak {found or '(geen zaakreferentie)'}, niet bij {reference}; "
            "deze run wordt niet gebruikt."
        )
    ours, tags = database_tag(database_id), database_tags(run.tags)
    if tags and ours not in tags:
        raise ForeignRun(
            f"Run {run.id} van {reference} hoort bij een andere zaakdatabase ({', '.join(sorted(tags))}, deze is "
            f"{ours}); deze run wordt niet gebruikt. Controleer WEERTHUIS_DATA_DIR (of WEERTHUIS_CASE_DB_URL) en "
            "PREFECT_API_URL."
        )
    return run


def case_run(case: CaseView, database_id: str) -> FlowRun:
    """The case's run: the one its case database remembers (`cases.flow_run_id`), else its outflow run started
    (or found) now under this database's key; checked with `check_run` either way."""
    if case.flow_run_id is None:
        try:
            run = start_case(case.reference, case.region, database_id)
        except ObjectNotFound:
            raise NoPrefectServer(
                f"De Prefect-server op {PREFECT_API_URL.value()} kent de deployment {OUTFLOW_DEPLOYMENT} niet. Zet de "
                "deployments (prefect --no-prompt deploy --all) of wijs PREFECT_API_URL naar de juiste server."
            ) from None
        return check_run(run, case.reference, database_id)
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(UUID(case.flow_run_id))
        except ObjectNotFound:
            raise ForeignRun(
                f"Zaak {case.reference} hoort bij run {case.flow_run_id}, maar die staat niet op de Prefect-server "
                f"{PREFECT_API_URL.value()}. Wijst PREFECT_API_URL naar de server van deze zaakdatabase?"
            ) from None
    return check_run(run, case.reference, database_id)


def check_case_database(tags: Iterable[str], casework: Casework | None = None) -> None:
    """For a flow at its start, with its run's tags: raise OtherCaseDatabase when the run was made for another case
    database than this process's (by default the worker's, `weerthuis.bootstrap.app()`), before it reads or writes
    a case of the same reference here. A run without a `zaakdb:` tag passes (the UI's Custom run has none)."""
    tags = database_tags(tags)
    if not tags:
        return
    if casework is None:
        from weerthuis.bootstrap import app

        casework = app().casework
    ours = database_tag(casework.database_id())
    if ours not in tags:
        raise OtherCaseDatabase(
            f"Deze run is gemaakt voor zaakdatabase {', '.join(sorted(tags))}, maar deze worker werkt met {ours}; "
            "hij raakt hier geen zaak aan. Start de zaak met de zaakdatabase waar hij is aangemeld, of geef de "
            "worker dezelfde WEERTHUIS_DATA_DIR (of WEERTHUIS_CASE_DB_URL) als `weerthuis start`."
        )


@dataclass(frozen=True)
class WaitingForm:
    flow_run_id: UUID
    key: str
    schema: dict[str, Any]
    description: str | None


class RunEnded(RuntimeError):
    pass


def waiting_form(flow_run_id: UUID) -> WaitingForm | None:
    """The form the run is suspended on now, once its schema is stored (resuming earlier is a race); else None."""
    with get_client(sync_client=True) as client:
        return _form_of(client, client.read_flow_run(flow_run_id))


def _form_of(client: SyncPrefectClient, run: FlowRun) -> WaitingForm | None:
    import json

    state = run.state
    # Crashed or Failed is not the end: the recovery flow starts the run again (flows/recovery.py).
    if state is not None and (state.is_completed() or state.is_cancelled()):
        raise RunEnded(f"Run {run.id} ended in {state.type.value}: {state.message}")
    details = state.state_details if state is not None else None
    if state is None or not state.is_paused() or details is None or not details.run_input_keyset:
        return None
    keys = details.run_input_keyset
    # Prefect stores the schema and then the description after the run is suspended: every form of ours has a
    # description (the case summary), so the form is there once both are.
    schema = _stored_input(client, run.id, keys["schema"])
    description = _stored_input(client, run.id, keys["description"]) if schema is not None else None
    if schema is None or description is None:
        return None
    return WaitingForm(run.id, details.pause_key or "", json.loads(schema), json.loads(description))


def _stored_input(client: SyncPrefectClient, flow_run_id: UUID, key: str) -> str | None:
    """The run input under `key`, or None if there is none (any other error is raised)."""
    try:
        return client.read_flow_run_input(flow_run_id, key)
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code == 404:
            return None
        raise


def wait_for_form(flow_run_id: UUID, *, after_key: str | None = None, timeout: float = 120) -> WaitingForm:
    """Wait until the run is suspended on a form other than `after_key`, with its schema stored."""
    return wait_for_forms([flow_run_id], after_key=after_key, timeout=timeout)[flow_run_id]


def wait_for_forms(
    flow_run_ids: Iterable[UUID], *, after_key: str | None = None, timeout: float = 120
) -> dict[UUID, WaitingForm]:
    """Wait until every run is suspended on a form other than `after_key`, with its schema stored: one client
    and one query per round for all of them (50 runs polled one by one load a SQLite server by themselves)."""
    waiting = {run_id: None for run_id in flow_run_ids}
    found: dict[UUID, WaitingForm] = {}
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            left = [run_id for run_id in waiting if run_id not in found]
            if not left:
                return {run_id: found[run_id] for run_id in waiting}
            if time.monotonic() > deadline:
                break
            try:
                for run in client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=left)), limit=len(left)
                ):
                    form = _form_of(client, run)
                    if form is not None and form.key != after_key:
                        found[run.id] = form
            except httpx.HTTPError:  # the server is busy or restarting: ask again in the next round
                pass
            if len(found) < len(waiting):
                time.sleep(0.5)
        late = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=left[:5])))
    states = "; ".join(f"{run.id} is {_state_of(run)}" for run in late)
    raise TimeoutError(f"{len(left)} run(s) not waiting on a new form after {timeout:.0f}s: {states}")


def _state_of(run: FlowRun) -> str:
    state = run.state
    return "without a state" if state is None else f"{state.type.value} {state.name!r} ({state.message or '-'})"


@dataclass(frozen=True)
class ResumeResult:
    accepted: bool
    reason: str


def answer_form(flow_run_id: UUID, answer: dict[str, Any]) -> ResumeResult:
    """Submit a form as the UI's Resume dialog does; a rejection comes back with the server's reason."""
    with get_client(sync_client=True) as client:
        result = client.resume_flow_run(flow_run_id, run_input=answer)
    accepted = result.status == SetStateStatus.ACCEPT
    reason = getattr(result.details, "reason", None) or ""
    return ResumeResult(accepted, reason)


def wait_for_end(flow_run_id: UUID, timeout: float = 120) -> FlowRun:
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            run = client.read_flow_run(flow_run_id)
            if run.state is not None and run.state.is_final():
                return run
            time.sleep(0.5)
    raise TimeoutError(f"Run {flow_run_id} did not finish in {timeout:.0f}s")
