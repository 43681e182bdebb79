"""Who decides is proven: the stack's server lets nobody in anonymously, authorizes every answer and stamps it.

Through the HTTP API of the running stack (`weerthuis server` with the fake identity provider); the browser side is
in test_browser.py.
"""

from __future__ import annotations

import base64
import json
import time
from contextlib import closing
from typing import Any
from uuid import UUID

import httpx
import pytest
from itsdangerous import TimestampSigner

from tests.e2e.login import log_in, person, resume
from tests.e2e.test_outflow_case import Desk, register, zrm
from weerthuis import accesslog, tokens
from weerthuis.bootstrap import App
from weerthuis.devstack import LocalStack
from weerthuis.domain.procedure import Step
from weerthuis.domain.stages import Stage
from weerthuis.runs import start_case, waiting_form
from weerthuis.server.identity import SESSION_COOKIE

pytestmark = pytest.mark.stack

READY = {"verdict": "klaar voor uitstroom", "decided_by": "EMM-TP-01"}


def at_readiness_decision(app: App) -> tuple[str, UUID]:
    """A new case whose run waits on the coordinator's readiness decision."""
    reference = register(app)
    run = start_case(reference, "emmen")
    app.casework.attach_run(reference, str(run.id))
    desk = Desk(run.id)
    desk.answer("readiness-1-assessment", zrm())
    desk.next_form("readiness-1-decision")
    return reference, run.id


@pytest.fixture(scope="module")
def waiting_decision(app: App, stack: LocalStack) -> tuple[str, UUID]:
    """One case waiting on the readiness decision, for the tests that only try to answer it and are refused."""
    return at_readiness_decision(app)


@pytest.fixture(scope="module")
def nominated_to_domesta(app: App, stack: LocalStack) -> tuple[str, UUID]:
    """One case nominated to Domesta, waiting on its consultant's answer."""
    reference, run_id = at_readiness_decision(app)
    desk = Desk(run_id)
    desk.last_key = "readiness-1-decision"
    desk.submit(READY)
    desk.answer("nomination-1-proposal", {"corporation": "domesta", "decided_by": "EMM-TP-01"})
    desk.next_form("nomination-1-response")
    return reference, run_id


def test_anonymous_requests_get_401_and_browsers_the_login(stack: LocalStack) -> None:
    assert httpx.get(f"{stack.api_url}/health", timeout=30).status_code == 200
    anonymous = httpx.post(f"{stack.api_url}/flow_runs/filter", json={}, timeout=30)
    assert anonymous.status_code == 401
    assert "Niet aangemeld" in anonymous.json()["detail"]
    resumed = httpx.post(f"{stack.api_url}/flow_runs/{UUID(int=1)}/resume", json={"run_input": {}}, timeout=30)
    assert resumed.status_code == 401
    page = httpx.get(f"{stack.ui_url}/runs", headers={"accept": "text/html"}, timeout=30)
    assert page.status_code == 302
    assert page.headers["location"] == "/auth/login?next=%2Fruns"
    to_provider = httpx.get(f"{stack.ui_url}/auth/login", timeout=30)
    assert to_provider.status_code == 302
    assert to_provider.headers["location"].startswith(f"http://127.0.0.1:{stack.oidc_port}/authorize?")
    assert "code_challenge_method=S256" in to_provider.headers["location"]


def test_a_forged_decider_is_recorded_as_the_person_who_logged_in(app: App, stack: LocalStack) -> None:
    reference, run_id = at_readiness_decision(app)
    coordinator = person("EMM-TP-02")
    # The form the coordinator is shown has their own code filled in as the only choice.
    form = waiting_form(run_id)
    assert form is not None
    shown = coordinator.get(f"/api/flow_runs/{run_id}/input/suspended-{form.key}-schema")
    assert shown.json()["properties"]["decided_by"]["enum"] == ["EMM-TP-02"]

    result = resume(coordinator, run_id, {**READY, "decided_by": "EMM-TP-01"})  # chooses a colleague's code

    assert result.accepted, result.reason
    deadline = time.monotonic() + 240
    while (case := app.casework.view(reference)).stage is not Stage.NOMINATION and time.monotonic() < deadline:
        time.sleep(1)
    decision = [line for line in case.history if line.to_stage is Stage.NOMINATION]
    assert [line.decided_by for line in decision] == ["EMM-TP-02"]
    logged = [e for e in accesslog.events(app.casework, reference) if e.kind is accesslog.AccessKind.ANSWER]
    assert [(e.who, e.reason) for e in logged][-1] == ("EMM-TP-02", "aangenomen")


def test_a_case_manager_cannot_take_a_coordinators_decision(app: App, waiting_decision: tuple[str, UUID]) -> None:
    reference, run_id = waiting_decision
    case_manager = person("EMM-TB-01")  # the client's own case manager, but the decision is the coordinator's

    refused = case_manager.post(f"/api/flow_runs/{run_id}/resume", json={"run_input": READY})

    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        f"U (EMM-TB-01, trajectbegeleider bij leger-des-heils) mag deze stap van zaak {reference} niet beslissen: "
        "dat doet een coördinator."
    )
    case = app.casework.view(reference)
    assert case.stage is Stage.READINESS and case.waiting_for is Step.READINESS_DECISION
    form = waiting_form(run_id)
    assert form is not None and form.key == "readiness-1-decision"  # still waiting on the same form
    refusals = [e for e in accesslog.events(app.casework, reference) if e.kind is accesslog.AccessKind.ANSWER_REFUSED]
    assert refusals[-1].who == "EMM-TB-01" and "coördinator" in (refusals[-1].reason or "")
    # Nor can they move the waiting run on by changing its state, or store an answer past the form.
    moved = case_manager.post(
        f"/api/flow_runs/{run_id}/set_state", json={"state": {"type": "SCHEDULED", "name": "Resuming"}}
    )
    assert moved.status_code == 403 and "coördinator" in moved.json()["detail"]
    planted = case_manager.post(
        f"/api/flow_runs/{run_id}/input",
        json={"key": "suspended-readiness-1-decision-response", "value": json.dumps(READY)},
    )
    assert planted.status_code == 403
    # A coordinator may change states, but not move a waiting case past its form either.
    coordinator_move = person("EMM-TP-01").post(
        f"/api/flow_runs/{run_id}/set_state", json={"state": {"type": "SCHEDULED", "name": "Resuming"}}
    )
    assert coordinator_move.status_code == 403 and "Hervatten" in coordinator_move.json()["detail"]
    form = waiting_form(run_id)
    assert form is not None and form.key == "readiness-1-decision"


def test_a_machine_cannot_plant_an_answer_for_a_form_not_yet_asked(
    app: App, stack: LocalStack, waiting_decision: tuple[str, UUID]
) -> None:
    reference, run_id = waiting_decision
    with httpx.Client(base_url=stack.ui_url, timeout=30, auth=_basic(stack.cli_auth)) as machine:
        planted, as_person, stored = _plant(machine, run_id)
    assert planted.status_code == 403 and planted.json()["detail"]
    assert as_person.status_code == 403  # a machine never answers as a person
    assert stored.status_code == 200 and stored.json() == []
    assert app.casework.view(reference).waiting_for is Step.READINESS_DECISION


def _plant(machine: httpx.Client, run_id: UUID) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
    later = {"answer": "geaccepteerd", "decided_by": "api:domesta"}

    planted = machine.post(
        f"/api/flow_runs/{run_id}/input", json={"key": "suspended-offer-1-answer-response", "value": json.dumps(later)}
    )
    as_person = machine.post(
        f"/api/flow_runs/{run_id}/input",
        json={"key": "suspended-readiness-1-decision-response", "value": json.dumps(READY)},
    )

    stored = machine.post(f"/api/flow_runs/{run_id}/input/filter", json={"prefix": "suspended-offer-1-answer"})
    return planted, as_person, stored


def test_another_corporations_consultant_is_refused_with_the_reason(
    app: App, nominated_to_domesta: tuple[str, UUID]
) -> None:
    reference, run_id = nominated_to_domesta

    refused = person("EMM-LEF-01").post(
        f"/api/flow_runs/{run_id}/resume", json={"run_input": {"answer": "geaccepteerd", "decided_by": "EMM-DOM-01"}}
    )

    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        f"U (EMM-LEF-01, woonconsulent bij lefier) mag deze stap van zaak {reference} niet beslissen: "
        "dat doet een woonconsulent van domesta."
    )
    assert app.casework.view(reference).waiting_for is Step.NOMINATION_RESPONSE


def test_people_of_other_organisations_see_only_their_own_cases(nominated_to_domesta: tuple[str, UUID]) -> None:
    reference, run_id = nominated_to_domesta
    description = f"/api/flow_runs/{run_id}/input/suspended-nomination-1-response-description"
    contents = {
        "/api/artifacts/filter": {"artifacts": {"flow_run_id": {"any_": [str(run_id)]}}},
        "/api/logs/filter": {"logs": {"flow_run_id": {"any_": [str(run_id)]}}},
        "/api/task_runs/filter": {"flow_runs": {"id": {"any_": [str(run_id)]}}},
    }

    def seen_by(code: str) -> dict[str, Any]:
        client = person(code)
        runs = client.post("/api/flow_runs/filter", json={"flow_runs": {"id": {"any_": [str(run_id)]}}}).json()
        return {
            "runs": [run["id"] for run in runs],
            "summary": json.loads(client.get(description).text),
            **{path: len(client.post(path, json=body).json()) for path, body in contents.items()},
            "variables": client.post("/api/variables/filter", json={}).status_code,
        }

    domesta, lefier, coordinator = seen_by("EMM-DOM-01"), seen_by("EMM-LEF-01"), seen_by("EMM-TP-01")
    other_provider = seen_by("EMM-TB-02")  # ggz-drenthe; the client is with leger-des-heils

    assert domesta["runs"] == coordinator["runs"] == [str(run_id)]
    assert f"Zaak {reference}" in domesta["summary"] and domesta["/api/artifacts/filter"] > 0
    assert domesta["/api/logs/filter"] > 0 and domesta["/api/task_runs/filter"] > 0
    for outsider in (lefier, other_provider):
        assert outsider["runs"] == []
        assert outsider["summary"].startswith("Deze zaak hoort niet bij uw organisatie")
        assert [outsider[path] for path in contents] == [0, 0, 0]
        assert outsider["variables"] == 403
    assert coordinator["variables"] == 200


def test_a_tampered_or_expired_session_cookie_is_refused(stack: LocalStack) -> None:
    with closing(log_in(stack.ui_url, "EMM-TP-01")) as client:
        cookie = client.cookies[SESSION_COOKIE]
        assert client.post("/api/flow_runs/filter", json={"limit": 1}).status_code == 200
        me = client.get("/auth/me").json()
    assert me == {"code": "EMM-TP-01", "role": "coordinator", "organisation": "transferpunt-emmen", "region": "emmen"}

    payload, _, signature = cookie.rpartition(".")
    tampered = f"{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    assert _status_with_cookie(stack, tampered) == 401
    forged = _signed_at("een ander geheim dat niemand kent, lang genoeg", _session(stack, cookie), time.time())
    assert _status_with_cookie(stack, forged) == 401

    # The same session, signed with the stack's own secret, but idle longer than a login may be.
    session = _session(stack, cookie)
    secret = stack.env["WEERTHUIS_LOGIN__SESSION_SECRET"]
    assert _status_with_cookie(stack, _signed_at(secret, session, time.time() - 2 * 3600)) == 401
    # And a session past its end (`until`), freshly signed.
    assert _status_with_cookie(stack, _signed_at(secret, {**session, "until": time.time() - 1}, time.time())) == 401
    # Signed now and within its time, the same session is let in (so the refusals above were for the reasons given).
    assert _status_with_cookie(stack, _signed_at(secret, session, time.time())) == 200


def test_logout_ends_the_session(app: App, stack: LocalStack) -> None:
    with closing(log_in(stack.ui_url, "EMM-TP-02")) as client:
        out = client.get("/auth/logout")
        after = client.post("/api/flow_runs/filter", json={})
    assert out.status_code == 303
    assert out.headers["location"].startswith(f"http://127.0.0.1:{stack.oidc_port}/logout?")
    assert after.status_code == 401
    kinds = [e.kind for e in accesslog.events(app.casework) if e.who == "EMM-TP-02"]
    assert accesslog.AccessKind.LOGIN in kinds and kinds[-1] is accesslog.AccessKind.LOGOUT


def test_a_revoked_service_token_is_refused(app: App, stack: LocalStack) -> None:
    token = tokens.issue(app.casework, "tijdelijk", "EMM-TP-01")
    with httpx.Client(base_url=stack.ui_url, timeout=30, headers={"authorization": f"Bearer {token}"}) as machine:
        assert machine.post("/api/flow_runs/filter", json={"limit": 1}).status_code == 200

        tokens.revoke(app.casework, "tijdelijk", "EMM-TP-01", "test: uit dienst")

        deadline = time.monotonic() + 60  # the server remembers a token's answer a few seconds
        while (status := machine.post("/api/flow_runs/filter", json={"limit": 1}).status_code) == 200:
            assert time.monotonic() < deadline, "revoked token still accepted"
            time.sleep(1)
    assert status == 401
    wrong = httpx.post(f"{stack.api_url}/flow_runs/filter", json={}, auth=("worker", token + "x"), timeout=30)
    assert wrong.status_code == 401


def test_an_unknown_person_cannot_log_in(stack: LocalStack) -> None:
    with pytest.raises(AssertionError):
        log_in(stack.ui_url, "EMM-XX-99")  # the provider knows no such user: its page shows an error


def _basic(auth: str | None) -> tuple[str, str]:
    assert auth is not None
    service, _, token = auth.partition(":")
    return service, token


def _status_with_cookie(stack: LocalStack, value: str) -> int:
    with httpx.Client(base_url=stack.ui_url, timeout=30, cookies={SESSION_COOKIE: value}) as client:
        return client.post("/api/flow_runs/filter", json={"limit": 1}).status_code


def _session(stack: LocalStack, cookie: str) -> dict[str, Any]:
    signer = TimestampSigner(stack.env["WEERTHUIS_LOGIN__SESSION_SECRET"])
    return json.loads(base64.b64decode(signer.unsign(cookie)))  # type: ignore[no-any-return]


def _signed_at(secret: str, session: dict[str, Any], moment: float) -> str:
    """The cookie Starlette's SessionMiddleware would have set at `moment` (itsdangerous's timestamp signer)."""
    signer = TimestampSigner(secret)
    signer.get_timestamp = lambda: int(moment)  # type: ignore[method-assign]
    return signer.sign(base64.b64encode(json.dumps(session).encode())).decode()
