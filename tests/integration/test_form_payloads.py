"""Every decision form's answer, as a person or a hostile client might send it, through the real flow code.

For each form of `flows.outflow.GATES` hypothesis makes answers: mostly what the form allows, mixed with what it
does not (wrong types, None, NaN and infinity, huge numbers, impossible and far dates, unknown choices, oversized
and HTML text, missing and extra fields). Each answer first meets the check of the Prefect server's resume
endpoint: its own `schema_tools.validate` call, against the schema the gate stored when it asked (read back from
a suspended run). That call checks no formats, so a date such as 2026-02-30 gets through. Refused there, the
answer is explained in Dutch, naming each field by its title, and goes no further: the run stays suspended and
nothing reaches the case. Let through, it is stored in a flow run the way the server stores it, and the gate
itself takes it (`ask` → `given_answer` → the step's command): the run never fails, and either the case moves as
the step's command says, or it stays exactly where it was, the reason is kept where a person can read it, and
the form is asked again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import count
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from jsonschema.exceptions import ValidationError as SchemaError
from prefect import flow, get_client
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import State
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow
from prefect.input.run_input import keyset_from_base_key
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.testing.utilities import prefect_test_harness
from prefect.utilities.schema_tools.validation import ValidationError, validate

from config.settings import Settings
from flows.outflow import GATES, gate_key
from tests.integration.helpers import offer, register, zrm
from weerthuis import bootstrap
from weerthuis.domain.procedure import Step
from weerthuis.domain.vocabulary import (
    ContractForm,
    NominationAnswer,
    OfferAnswer,
    ReadinessVerdict,
    ReviewOutcome,
    Role,
    SigningResult,
    WmoDecision,
)
from weerthuis.server.refusals import explain, refusal
from weerthuis.service.casework import Casework
from weerthuis.service.views import CaseView

REGION, COORDINATOR, CASE_MANAGER = "emmen", "EMM-TP-01", "EMM-TB-01"
EXAMPLES = 15  # answers per form; only those the schema lets through cost a flow run

# What the history says first when the step's command took the answer, and who it says decided.
FIRST_EVENTS: dict[Step, set[str]] = {
    Step.ASSESSMENT: {"AssessmentRecorded"},
    Step.READINESS_DECISION: {"ReadinessApproved", "ReadinessPostponed", "CaseWithdrawn"},
    Step.NOMINATION_PROPOSAL: {"NominationProposed"},
    Step.NOMINATION_RESPONSE: {"NominationAccepted", "NominationDeclined"},
    Step.OFFER: {"OfferMade"},
    Step.OFFER_RESPONSE: {"OfferAccepted", "OfferRefused"},
    Step.LEASE: {"LeaseDrawnUp"},
    Step.SIGNING: {"LeaseSigned", "SigningDeclined"},
    Step.SUPPORT: {"SupportArranged"},
    Step.REVIEW: {"ReviewHeld"},
    Step.ESCALATION: {"EscalationDecided"},
    Step.OMKLAP: {"LeaseTransferred", "GuidanceExtended", "CaseClosed", "CaseRelapsed", "TenantEvicted",
                  "ClientMovedAway", "CaseWithdrawn"},
}  # fmt: skip
# Checks `refusals.explain` has no Dutch words for: it would say "klopt niet (…)" with jsonschema's English message.
ENGLISH_YET: set[str] = set()
# Text that must never reach a person as the reason an answer was refused.
UNREADABLE = ("Traceback", "ValidationError", "errors.pydantic.dev", "For further information", "Value error,")
ENGLISH = ("Input should", "String should", "should have", "is not a valid", "Field required")


@flow(name="answer-gate", persist_result=False)
def answer_gate(zaakreferentie: str) -> None:
    """The gate the case waits on, called as the outflow flow calls it; it finds its answer stored in this run."""
    application = bootstrap.app()
    case = application.casework.view(zaakreferentie)
    assert case.waiting_for is not None
    GATES[case.waiting_for](application, case)


@dataclass(frozen=True)
class Server:
    """The Prefect server of the module, a client to it, and the deployment the gate's runs belong to."""

    client: SyncPrefectClient
    deployment_id: UUID


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """One Prefect server for the module, with a deployment for the gate's runs (a run can suspend only then).
    Without heartbeats: their thread sleeps in whole seconds, and every run's end would wait for it."""
    with (
        prefect_test_harness(server_startup_timeout=120),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        get_client(sync_client=True) as client,
    ):
        yield Server(client, client.create_deployment(flow_id=client.create_flow(answer_gate), name="answer-gate"))


@pytest.fixture
def application(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[bootstrap.App]:
    """The app as the flows see it (`bootstrap.app()`): a case database of this test, the fake counterparts."""
    monkeypatch.setenv("WEERTHUIS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WEERTHUIS_INTEGRATIONS__MODE", "fake")
    monkeypatch.delenv("WEERTHUIS_CASE_DB_URL", raising=False)
    bootstrap.build(Settings(), migrate=True).casework._sessions.kw["bind"].dispose()
    bootstrap.app.cache_clear()
    yield bootstrap.app()
    bootstrap.app().casework._sessions.kw["bind"].dispose()
    bootstrap.app.cache_clear()


# Bringing a case to a step ------------------------------------------------------------------------------------


def bring_to(casework: Casework, step: Step, number: int) -> str:
    """A new case waiting on `step`, walked there by the commands. Always with the same corporation, so every case
    at a step is asked the same form (who may decide); `number` spreads the offers over the region's
    neighbourhoods, so the walk itself never runs into a neighbourhood's yearly cap."""
    region = casework.regions[REGION]
    corporation = region.corporations[0].code
    consultant = region.people_with(Role.CORPORATION_CONSULTANT, corporation)[0].code
    neighbourhood = region.neighbourhoods[number % len(region.neighbourhoods)].code
    ref = register(casework, REGION)
    casework.start_assessment(ref)
    today = casework.today()
    answers = {
        Step.ASSESSMENT: lambda: casework.record_assessment(ref, 1, zrm(today)),
        Step.READINESS_DECISION: lambda: casework.decide_readiness(ref, 1, ReadinessVerdict.READY, COORDINATOR),
        Step.NOMINATION_PROPOSAL: lambda: casework.propose_nomination(ref, 1, corporation, COORDINATOR),
        Step.NOMINATION_RESPONSE: lambda: casework.answer_nomination(ref, 1, NominationAnswer.ACCEPTED, consultant),
        Step.OFFER: lambda: offer(casework, ref, 1, neighbourhood, by=consultant),
        Step.OFFER_RESPONSE: lambda: casework.answer_offer(ref, 1, OfferAnswer.ACCEPTED, CASE_MANAGER),
        Step.LEASE: lambda: casework.draw_up_lease(
            ref, 1, contract_form=ContractForm.THREE_PARTY, temporary=True, decided_by=consultant
        ),
        Step.SIGNING: lambda: casework.record_signing(
            ref, 1, result=SigningResult.SIGNED, signed_on=today, decided_by=consultant
        ),
        Step.SUPPORT: lambda: casework.arrange_support(
            ref,
            1,
            wmo_decision=WmoDecision.GRANTED,
            provider="leger-des-heils",
            starts_on=today,
            plan_agreed=True,
            decided_by=CASE_MANAGER,
        ),
        # A red card for the escalation; else reviews without worries, up to the omklap after the last one.
        Step.REVIEW: lambda: hold_review(casework, ref, ("overlast:rood",) if step is Step.ESCALATION else ()),
    }
    while (waiting := casework.view(ref).waiting_for) is not step:
        assert waiting is not None, f"{ref} ended before it reached {step}"
        answers[waiting]()
    return ref


def hold_review(casework: Casework, ref: str, signals: tuple[str, ...]) -> None:
    number = casework.view(ref).reviews_held + 1
    casework.hold_review(
        ref,
        1,
        number,
        held_on=casework.today(),
        living_situation="gaat goed",
        rent_arrears=False,
        nuisance=False,
        support_reached=True,
        outcome=ReviewOutcome.CONTINUE,
        decided_by=CASE_MANAGER,
        signals=signals,
    )


# Running the gate on the Prefect server -----------------------------------------------------------------------


@dataclass(frozen=True)
class GateRun:
    run_id: UUID
    asked: str | None  # the key of the form the run suspended on to ask (again); None: it completed


def run_gate(server: Server, reference: str, answers: dict[str, Any]) -> GateRun:
    """Run the case's gate, in this process, as a run of the deployment with `answers` stored under their keys as
    the resume endpoint stores them (JSON by orjson). It completes, or suspends to ask; any other end fails."""
    client = server.client
    run = client.create_flow_run_from_deployment(server.deployment_id, parameters={"zaakreferentie": reference})
    for key, answer in answers.items():
        response = keyset_from_base_key(f"suspended-{key}")["response"]
        client.create_flow_run_input(run.id, response, orjson.dumps(answer).decode())
    try:
        state = run_flow(answer_gate, flow_run=run, parameters=run.parameters, return_type="state")
    except Pause:  # suspend_flow_run ends this process's part of the run; the server holds it, suspended
        held = client.read_flow_run(run.id).state
        assert held is not None and held.is_paused() and held.name == "Suspended"
        return GateRun(run.id, held.state_details.pause_key)
    assert isinstance(state, State) and state.is_completed(), f"the gate's run ended {state}"
    return GateRun(run.id, None)


def asked_form(server: Server, reference: str) -> dict[str, Any]:
    """The JSON Schema of the form the case's gate asks, as the server stored it for the resume endpoint."""
    run = run_gate(server, reference, {})
    assert run.asked is not None, "without an answer the gate must ask"
    stored = server.client.read_flow_run_input(run.run_id, keyset_from_base_key(f"suspended-{run.asked}")["schema"])
    schema = json.loads(stored)
    assert isinstance(schema, dict) and schema.get("properties")
    return schema


def rounds(key: str) -> Iterator[str]:
    """The keys a form is asked under: the gate's key, then `<key>-2`, `<key>-3` after each refused answer."""
    yield key
    for number in count(2):
        yield f"{key}-{number}"


def open_round(casework: Casework, case: CaseView) -> tuple[str, str]:
    """The key of the round the case's form now waits on, and the key of the round after it."""
    keys = rounds(gate_key(case))
    key = next(k for k in keys if casework.rejection(case.reference, k) is None)
    return key, next(keys)


@dataclass
class Gate:
    """A form under test: the step, the schema the server checks it against, and the case that waits on it."""

    step: Step
    schema: dict[str, Any]
    casework: Casework
    server: Server
    reference: str
    cases: int = 1

    def fresh_case(self) -> None:
        self.reference = bring_to(self.casework, self.step, self.cases)
        self.cases += 1

    def titles(self) -> set[str]:
        return {field["title"] for field in self.schema["properties"].values()}


@pytest.fixture(params=list(GATES), ids=lambda step: step.value)
def gate(request: pytest.FixtureRequest, application: bootstrap.App, server: Server) -> Gate:
    step = request.param
    reference = bring_to(application.casework, step, 0)
    return Gate(step, asked_form(server, reference), application.casework, server, reference)


# Answers -------------------------------------------------------------------------------------------------------

TODAY = date.today()
HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["xx", "", " ", "2026-02-30", "31-12-2026", "ja ", "NaN", "<script>alert('x')</script>"]),
    st.sampled_from(["Zoë ‮ 🏠 \x00", "'; DROP TABLE cases; --", "x" * 5000]),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def plausible(field: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value the field allows, as people would fill it in (a date near today may still be refused: in the
    future for a meeting that was held, in the past for a viewing)."""
    if "enum" in field:
        return st.sampled_from(field["enum"])
    if field.get("format") == "date":
        return st.dates(TODAY - timedelta(days=60), TODAY + timedelta(days=30)).map(date.isoformat)
    if field["type"] == "integer":
        return st.integers(field["minimum"], field["maximum"])
    if field["type"] == "number":  # an amount in cents, or any number in range
        low, high = field.get("exclusiveMinimum", field.get("minimum", 0)), field["maximum"]
        cents = st.integers(math.floor(low * 100) + 1, high * 100).map(lambda c: c / 100)
        return cents | st.floats(low, high, exclude_min="exclusiveMinimum" in field)
    if "pattern" in field:
        return st.from_regex(field["pattern"], fullmatch=True)
    return st.text(max_size=30)


def sly(field: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value the server's JSON Schema check lets through but that the form or the procedure may not take."""
    if field.get("format") == "date":  # the server checks no formats: any text passes it
        far = (TODAY + timedelta(days=4 * 365)).isoformat()
        dates = ["9999-11-15", "0001-01-01", "1970-01-01", far, f"{TODAY}T09:30:00", f"{TODAY:%Y%m%d}"]
        return st.sampled_from([*dates, "2026-02-30", f"{TODAY:%d-%m-%Y}", "xx", ""])
    if field.get("type") == "number":  # NaN passes the schema's bounds: every comparison with it is false
        return st.sampled_from([math.nan, 1e-9, 0.004, 1499.999, field["maximum"]])
    if field.get("type") == "integer":
        return st.sampled_from([float(field["minimum"]), float(field["maximum"])])
    if "pattern" in field:  # Python's `$` (the server's check) matches before a final newline; pydantic's does not
        return plausible(field).map(lambda text: text + "\n")
    return plausible(field)


CHANGES = st.sampled_from(["sly", "hostile", "missing", "extra"])
EXTRA_NAMES = st.sampled_from(["hobby", "__proto__", "Decided_by", "decided_by ", "__prefect"]) | st.text(max_size=8)


@st.composite
def answers(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Any]:
    """An answer to the form: its fields filled in plausibly, then up to three fields changed for the worse."""
    fields, required = schema["properties"], set(schema.get("required", ()))
    answer = {name: draw(plausible(field)) for name, field in fields.items() if name in required or draw(st.booleans())}
    for change in draw(st.lists(CHANGES, max_size=3)):
        name = draw(st.sampled_from(sorted(fields)))
        if change == "sly":
            answer[name] = draw(sly(fields[name]))
        elif change == "hostile":
            answer[name] = draw(HOSTILE)
        elif change == "missing":
            answer.pop(name, None)
        else:
            answer[draw(EXTRA_NAMES.filter(lambda extra: extra not in fields))] = draw(HOSTILE)
    return answer


def as_received(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer as the server reads it from the request body (JSON; Python's parser takes NaN and Infinity)."""
    received = json.loads(json.dumps(answer))
    assert isinstance(received, dict)
    return received


# The property --------------------------------------------------------------------------------------------------


def assert_refused_in_dutch(errors: list[SchemaError], schema: dict[str, Any]) -> None:
    """The sentence a person reads names each failing field by the title the form shows (or speaks of the whole
    answer), saying in Dutch what is wrong: as `refusal`, with the first reason found for each field."""
    assert errors, "the server refused what the Dutch explanation finds nothing wrong with"
    properties = schema["properties"]
    said = refusal(errors, schema)
    assert said.startswith("Niet opgeslagen. ")
    assert "Validation failed" not in said and "is not of type" not in said
    first: dict[str, tuple[SchemaError, str]] = {}
    for error in errors:
        name, what = explain(error, properties)
        first.setdefault(name, (error, what))
    for name, (error, what) in first.items():
        assert error.validator in ENGLISH_YET or error.message not in what, what
        if name:
            assert name in properties, f"{error.message!r} is about no field of the form"
            assert f"'{properties[name]['title']}': " in said
        else:  # about the whole answer: a field the form does not know
            assert error.validator == "additionalProperties" and what.startswith("dit formulier kent ")


def assert_readable(reason: str | None, gate: Gate) -> None:
    """A refused answer's reason, as the person reads it above the form: why, in Dutch, naming the field by its
    title, never by its code."""
    assert reason, "a refused answer must say why"
    assert not any(text in reason for text in UNREADABLE), reason
    assert not any(text in reason for text in ENGLISH), reason
    if reason.startswith("Het antwoord kon niet worden gelezen"):
        assert any(f"'{title}'" in reason for title in gate.titles()), reason
    internal = {name for name, field in gate.schema["properties"].items() if field["title"] != name}
    assert not any(f"'{name}'" in reason for name in internal), reason


def assert_moved(before: CaseView, after: CaseView, gate: Gate, answer: dict[str, Any]) -> None:
    """The case left the decision as the step's command says: its history goes on with the step's event, decided
    by the person the answer names, and the case no longer waits on this same decision."""
    assert after.history[: len(before.history)] == before.history
    taken = after.history[len(before.history) :]
    assert taken, "the run completed but the case did not move"
    assert taken[0].event in FIRST_EVENTS[gate.step]
    assert taken[0].decided_by == answer.get("decided_by", answer.get("assessor"))
    place = (after.stage, after.attempt, after.waiting_for, after.reviews_held)
    assert place != (before.stage, before.attempt, before.waiting_for, before.reviews_held)


def server_refuses(received: dict[str, Any], schema: dict[str, Any]) -> bool:
    """What the resume endpoint decides, by its own call. It checks types, choices, bounds and required fields but
    not formats: jsonschema asserts `format` only with a format checker, and `raise_on_error=True` passes none. So
    '2026-02-30' or 'xx' for a date reaches the flow, and the gate must refuse it there."""
    try:
        validate(received, schema, raise_on_error=True)
    except ValidationError:
        return True
    return False


def answer_the_gate(gate: Gate, answer: dict[str, Any]) -> None:
    received = as_received(answer)
    if server_refuses(received, gate.schema):
        # The run stays suspended and the answer reaches nothing; the person reads why (weerthuis.server.app).
        assert_refused_in_dutch(validate(received, gate.schema), gate.schema)
        event("the server refuses it")
        return
    casework = gate.casework
    before = casework.view(gate.reference)
    key, next_key = open_round(casework, before)
    asked_again = run_gate(gate.server, gate.reference, {key: received}).asked
    after = casework.view(gate.reference)
    if asked_again is None:
        assert_moved(before, after, gate, received)
        event("the gate takes it: the case moves")
        gate.fresh_case()
        return
    assert asked_again == next_key, "a refused answer is asked again under the next round's key"
    assert after == before, "a refused answer leaves the case as it was"
    assert_readable(casework.rejection(gate.reference, key), gate)
    event("the gate refuses it: asked again with the reason")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_answer_is_refused_with_a_reason_or_moves_the_case(gate: Gate, data: st.DataObject) -> None:
    """Whatever is sent to a form: the server refuses it in Dutch, field by field; or the gate takes it and the case
    moves; or the gate refuses it with a readable reason, leaves the case as it was and asks again. The run never
    fails on it."""
    answer_the_gate(gate, data.draw(answers(gate.schema), label="antwoord"))
