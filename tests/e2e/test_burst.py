"""A burst of approvals: 30 coordinators nominate to one corporation at the same moment, with 6 places left.

On the default stack (SQLite under the Prefect server and the case database) and on PostgreSQL (both), every one
of the 30 resume calls lands, exactly 6 cases are nominated, the other 24 are asked again with the reason, no run
crashes, and the SQLite server never says "database is locked" (bare Prefect on SQLite answers 503 from about 30
runs moving at once). The 30 forms are put up as the flow puts them up, without 30 first executions: see
put_up_nomination_form. These tests run alone (marker `solo`: `./dev test` runs them after the others), since
30 runs resuming at once take both cores; 50 at once were measured too (README, Deploy).
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.responses import SetStateStatus
from prefect.input.run_input import keyset_from_paused_state, run_input_subclass_from_type
from prefect.settings import temporary_settings
from prefect.states import Pending, Running, Suspended
from sqlalchemy import create_engine, text

from config.settings import REGIONS_DIR, Settings
from flows import forms, outflow
from flows.outflow import gate_key
from integrations.fakes import CallLedger
from tests.conftest import POSTGRES_URL
from tests.e2e.login import answer_form
from tests.integration.helpers import to_nomination
from weerthuis.bootstrap import App, build
from weerthuis.devstack import OUTFLOW_DEPLOYMENT, LocalStack, free_port
from weerthuis.domain.procedure import Step
from weerthuis.runs import database_tag, wait_for_forms

pytestmark = [pytest.mark.stack, pytest.mark.solo]

CASES, PLACES = 30, 6
NOMINATE = {"corporation": "domesta", "decided_by": "EMM-TP-01"}


def regions_with_places(folder: Path, places: int) -> Path:
    """The shipped region files, with Domesta's contingent in Emmen set to `places`."""
    folder.mkdir()
    for source in REGIONS_DIR.glob("*.yaml"):
        (folder / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    emmen = folder / "emmen.yaml"
    shipped = emmen.read_text(encoding="utf-8")
    changed = re.sub(r"(code: domesta, name: Domesta, contingent: )\d+", rf"\g<1>{places}", shipped)
    assert changed != shipped
    emmen.write_text(changed, encoding="utf-8")
    return folder


@pytest.fixture
def prefect_postgres_url() -> Iterator[str]:
    """A database of its own for the Prefect server on the test PostgreSQL (the `postgres_url` fixture decides
    whether PostgreSQL is required here or skipped)."""
    name = f"wt_prefect_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    server = admin.url.set(drivername="postgresql+asyncpg", database=name)
    yield server.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def burst_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LocalStack, App]]:
    regions = regions_with_places(tmp_path / "regions", PLACES)
    env = {"WEERTHUIS_REGIONS_DIR": str(regions)}
    settings = Settings(data_dir=tmp_path / "data", regions_dir=regions)
    if request.param == "postgresql":
        case_db = request.getfixturevalue("postgres_url")
        env |= {
            "WEERTHUIS_CASE_DB_URL": case_db,
            "WEERTHUIS_PREFECT_DATABASE_URL": request.getfixturevalue("prefect_postgres_url"),
        }
        settings = Settings(data_dir=tmp_path / "data", regions_dir=regions, case_db_url=case_db)
    stack = LocalStack(settings.data_dir, port=free_port(), extra_env=env)
    with stack, temporary_settings(updates=stack.prefect_settings()):
        app = build(settings, migrate=True)
        yield stack, app
        app.casework._sessions.kw["bind"].dispose()  # before the schema is dropped (and no connection left open)


def put_up_nomination_form(app: App, reference: str) -> UUID:
    """A case's run, suspended on its nomination form as the flow suspends it: the gate's own form and text above
    it, suspended as Prefect's `suspend_flow_run` does it. What the test is about — 30 resumes at once,
    30 executions deciding the last places, 24 asked again — is all the real flow on the real worker; this only
    spares the 30 first executions up to the form, which every other stack test walks (the run's first execution
    then does its first deliveries — zaak, statuses, mail — right after the resume)."""
    casework = app.casework
    case = casework.view(reference)
    form = forms.prefilled(
        outflow.nomination_proposal_form(app, case), outflow.above_the_form(case, app.regions["emmen"])
    )
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(OUTFLOW_DEPLOYMENT)
        run = client.create_flow_run_from_deployment(
            deployment.id,
            parameters={"zaakreferentie": reference, "regio": "emmen"},
            tags=["regio:emmen", database_tag(casework.database_id())],
            state=Pending(),  # no worker takes a Pending run
        )
        client.set_flow_run_state(run.id, Running(), force=True)  # only a running flow can be suspended
        # What suspend_flow_run does (Prefect 3.8.8's own fails for another run: it saves the form without the
        # run's id): the Suspended state with the form's keys, through the server's pause rules, then the form.
        suspended = Suspended(timeout_seconds=None, pause_key=gate_key(case))
        keyset = keyset_from_paused_state(suspended)
        suspended.state_details.run_input_keyset = keyset
        assert client.set_flow_run_state(run.id, suspended).status == SetStateStatus.ACCEPT
    run_input_subclass_from_type(form).save(keyset, flow_run_id=run.id)
    casework.attach_run(reference, str(run.id))
    return run.id


def in_threads(settings: dict[Any, Any], work: Any, items: list[Any]) -> list[Any]:
    """`work(item)` for every item at once, each in a thread with this stack's API (settings are per thread)."""

    def one(item: Any) -> Any:
        with temporary_settings(updates=settings):
            return work(item)

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(one, items))


def test_thirty_nominations_at_once_for_six_places(burst_stack: tuple[LocalStack, App]) -> None:
    stack, app = burst_stack
    casework = app.casework
    runs = {ref: put_up_nomination_form(app, ref) for ref in (to_nomination(casework) for _ in range(CASES))}
    forms = wait_for_forms(runs.values(), timeout=120)
    assert {form.key for form in forms.values()} == {"nomination-1-proposal"}
    assert all(f"Zaak {ref}" in (forms[run_id].description or "") for ref, run_id in runs.items())

    # The 30 coordinators press "Submit" at the same moment.
    started = time.monotonic()
    results = in_threads(stack.prefect_settings(), lambda run_id: answer_form(run_id, NOMINATE), [*runs.values()])
    assert [r for r in results if not r.accepted] == []  # every resume call landed

    waiting = wait_for_forms(runs.values(), after_key="nomination-1-proposal", timeout=900)
    print(f"{CASES} answers given at once → every run on its next form: {time.monotonic() - started:.0f} s")
    after = {ref: waiting[run_id] for ref, run_id in runs.items()}
    assert Counter(form.key for form in after.values()) == {
        "nomination-1-response": PLACES,
        "nomination-1-proposal-2": CASES - PLACES,
    }
    for ref, form in after.items():
        case = casework.view(ref)
        if form.key == "nomination-1-response":
            assert case.waiting_for is Step.NOMINATION_RESPONSE and case.corporation == "domesta"
        else:  # asked again, with why, and Domesta is no longer offered
            assert case.waiting_for is Step.NOMINATION_PROPOSAL
            assert "Het contingent van Domesta" in (form.description or ""), form.description
            assert "domesta" not in form.schema["properties"]["corporation"]["enum"]
            assert "contingent van Domesta" in (casework.rejection(ref, "nomination-1-proposal") or "")
    assert "domesta" not in casework.corporations_with_places("emmen")

    # Six nominations reached the corporation's system, each once.
    nominations = Counter(
        key for system, operation, key, _ in CallLedger(app.settings.ledger_path).calls() if "nomination" in operation
    )
    assert len(nominations) == PLACES and set(nominations.values()) == {1}, nominations
    # No run crashed or failed on the way, not even for a moment the recovery would have mended.
    with get_client(sync_client=True) as client:
        for run_id in runs.values():
            kinds = {state.type for state in client.read_flow_run_states(run_id)}
            assert not kinds & {StateType.CRASHED, StateType.FAILED}, (run_id, kinds)
    assert "database is locked" not in (stack.logs / "server.log").read_text(errors="replace")
