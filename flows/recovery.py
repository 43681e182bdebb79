"""No case stranded: a case's run that ended Crashed or Failed is started again, by itself, within minutes.

A run of `outflow-case` or `follow-up` only ends Crashed or Failed for reasons outside the procedure: the
procedure itself refuses with a reason and asks again, it never fails a run. So when the process is killed (out
of memory, a reboot, a redeploy), its infrastructure fails or the server answers 5xx, the same run is scheduled
again ("Herstart"): it keeps its id (every link in mail and on the case page stays right) and its stored answers,
and as the flow is re-entrant it continues where the case database says the case stands.

This flow runs when a run crashes or fails (a trigger in prefect.yaml) and every few minutes besides. A run that
crashes again and again without the case moving is not restarted forever: after MAX_RESTARTS it is marked stuck,
with the reason, on the case page and the worklist, and the region's coordinators get one mail.
"""

from __future__ import annotations

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
from prefect.client.schemas.sorting import FlowRunSort
from prefect.states import Scheduled

from tasks.mail import ALL, deliver_mail
from tasks.pages import publish_case_page, refresh_worklist
from weerthuis.bootstrap import app
from weerthuis.casework import CaseView, Casework
from weerthuis.runs import database_tag

CASE_DEPLOYMENTS = ["outflow-case", "follow-up"]
RESTART = "Herstart"
MAX_RESTARTS = 3  # in a row without the case moving; then the case is marked stuck


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
    return f"{state.name}: {message[0][:300]}" if message else state.name


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
