"""A case through a real Prefect server and worker, answering each form as the UI's Resume dialog does."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

from integrations.fakes import CallLedger
from notifications.sink import read_maildir
from tasks.reviews import review_runs
from tests.e2e.login import answer_form
from tests.e2e.privacy import personal_data_in_prefect
from tests.integration.helpers import to_nomination
from weerthuis.bootstrap import App
from weerthuis.cli import register_client
from weerthuis.devstack import LocalStack
from weerthuis.domain.calendar import add_months
from weerthuis.domain.procedure import Step
from weerthuis.domain.stages import Stage
from weerthuis.runs import WaitingForm, start_case, wait_for_end, wait_for_form

pytestmark = pytest.mark.stack

REGISTRATION_REASON = "dakloos na verlies van woning, slaapt bij vrienden"  # free text typed by a person
PERSON = dict(name="Marieke van der Testpersoon", bsn="111222333", phone="0612345678", email="marieke@voorbeeld.nl")


def register(app: App, region: str = "emmen", **overrides: Any) -> str:
    details = dict(
        region=region,
        institution="MO",
        care_provider="leger-des-heils",
        origin="Emmen",
        reason=REGISTRATION_REASON,
        region_tie=True,
        household=1,
        wishes="",
        registered_by="EMM-TB-01",
        birth_date=date(1990, 5, 17),
        **PERSON,
    )
    details.update(overrides)
    return register_client(app, **details)  # type: ignore[arg-type]


class Desk:
    """A person at the Prefect UI: waits for the next form of a run, checks which it is, submits it."""

    def __init__(self, run_id: UUID) -> None:
        self.run_id = run_id
        self.last_key: str | None = None
        self.forms: list[WaitingForm] = []

    def next_form(self, expected_key: str) -> WaitingForm:
        form = wait_for_form(self.run_id, after_key=self.last_key, timeout=240)
        assert form.key == expected_key
        self.last_key = form.key
        self.forms.append(form)
        return form

    def answer(self, expected_key: str, answer: dict[str, Any]) -> WaitingForm:
        form = self.next_form(expected_key)
        self.submit(answer)
        return form

    def submit(self, answer: dict[str, Any]) -> None:
        """Answer the form the run waits on now."""
        result = answer_form(self.run_id, answer)
        assert result.accepted, result.reason


def zrm(score: int = 4, assessor: str = "EMM-TB-01") -> dict[str, Any]:
    domains = [
        "financien",
        "werk_opleiding",
        "tijdsbesteding",
        "huisvesting",
        "huiselijke_relaties",
        "geestelijke_gezondheid",
        "lichamelijke_gezondheid",
        "middelengebruik",
        "basale_adl",
        "instrumentele_adl",
        "sociaal_netwerk",
        "maatschappelijke_participatie",
        "justitie",
    ]
    return {
        "assessed_on": date.today().isoformat(),
        **{d: score for d in domains},
        "ambulant_support_indication": "ja",
        "can_live_alone_with_support": "ja",
        "region_tie": "ja",
        "assessor": assessor,
    }


def test_a_case_goes_from_registration_to_first_follow_up_through_prefect(
    app: App, stack: LocalStack, ledger: CallLedger
) -> None:
    reference = register(app)
    run = start_case(reference, "emmen")
    desk = Desk(run.id)
    today = date.today()

    form = desk.answer("readiness-1-assessment", zrm())
    assert f"Zaak {reference}" in (form.description or "") and "ZRM-meting invullen" in (form.description or "")
    desk.answer("readiness-1-decision", {"verdict": "klaar voor uitstroom", "decided_by": "EMM-TP-01"})
    form = desk.answer("nomination-1-proposal", {"corporation": "domesta", "decided_by": "EMM-TP-01"})
    assert form.schema["properties"]["corporation"]["enum"] == ["domesta", "lefier", "woonservice"]
    form = desk.answer("nomination-1-response", {"answer": "geaccepteerd", "decided_by": "EMM-DOM-01"})
    # Only Domesta's consultant can answer Domesta's nomination in the form (its system answers through its API).
    assert form.schema["properties"]["decided_by"]["enum"] == ["EMM-DOM-01"]  # people only, never `api:domesta`
    desk.answer(
        "offer-1-offer",
        {
            "dwelling_reference": "VHE-20417",
            "neighbourhood": "angelslo",
            "rent": 612.5,
            "viewing_on": (today + timedelta(days=3)).isoformat(),
            "decided_by": "EMM-DOM-01",
        },
    )
    desk.answer("offer-1-answer", {"answer": "geaccepteerd", "decided_by": "EMM-TB-01"})
    desk.answer(
        "tenancy-1-lease", {"contract_form": "driepartijenovereenkomst", "temporary": "ja", "decided_by": "EMM-DOM-01"}
    )
    # Signed on paper: the consultant says so in the form (the e-signature service's answer is the other way in).
    desk.answer(
        "tenancy-1-signing", {"result": "ondertekend", "signed_on": today.isoformat(), "decided_by": "EMM-DOM-01"}
    )
    desk.answer(
        "support-1-support",
        {
            "wmo_decision": "toegekend",
            "provider": "leger-des-heils",
            "starts_on": today.isoformat(),
            "plan_agreed": "ja",
            "decided_by": "EMM-TB-01",
        },
    )
    finished = wait_for_end(run.id, timeout=240)
    assert finished.state is not None and finished.state.is_completed(), finished.state
    case = app.casework.view(reference)
    assert case.stage is Stage.FOLLOW_UP and case.reviews_held == 0 and case.waiting_for is Step.REVIEW
    # The reviews are runs of their own, scheduled at 09:00 Dutch time on each review date (3, 6, 12, 24 months).
    reviews = review_runs(reference, app.casework.database_id())
    assert sorted(reviews) == [1, 2, 3, 4]
    assert [reviews[n].state.state_details.scheduled_time.date() for n in (1, 2, 3, 4)] == [
        add_months(today, months) for months in (3, 6, 12, 24)
    ]
    # The case is now carried by the first review's run: its page, the worklist and the review mail link there.
    assert app.casework.view(reference).flow_run_id == str(reviews[1].id)
    assert [(line.event, line.decided_by) for line in case.history] == [
        ("CaseRegistered", "EMM-TB-01"),
        ("AssessmentStarted", "systeem"),
        ("AssessmentRecorded", "EMM-TB-01"),
        ("ReadinessApproved", "EMM-TP-01"),
        ("NominationProposed", "EMM-TP-01"),
        ("NominationAccepted", "EMM-DOM-01"),
        ("OfferMade", "EMM-DOM-01"),
        ("OfferAccepted", "EMM-TB-01"),
        ("LeaseDrawnUp", "EMM-DOM-01"),
        ("LeaseSigned", "EMM-DOM-01"),
        ("SupportArranged", "EMM-TB-01"),
    ]

    # Nine resumes means the flow body ran ten times from the top; each external action still happened once.
    calls = [(system, operation, key) for system, operation, key, _ in ledger.calls() if key.startswith(reference)]
    assert Counter(calls).most_common(1)[0][1] == 1
    assert sorted(operation for _, operation, _ in calls) == sorted(
        [
            "register_case",
            "add_role",
            "set_status",
            "set_status",
            "set_status",
            "set_status",
            "set_status",
            "set_status",
            "submit_nomination",
            "send_for_signing",
            "register_lease",
            "request_support",
        ]
    )
    assert app.casework.pending_actions(reference) == []
    nomination = next(
        body
        for _, op, key, body in ledger.calls("corporation")
        if key.startswith(reference) and op == "submit_nomination"
    )
    # A corporation gets housing-relevant facts only (its contract's fields): no diagnosis, no ZRM detail, no name.
    assert set(nomination) == {
        "zaakreferentie",
        "corporatie",
        "huishoudgrootte",
        "ambulanteBegeleiding",
        "zorgaanbieder",
    }

    # The people along the way were mailed through the stack's SMTP sink, each mail once, with a link to the run.
    mails = [m for m in read_maildir(stack.maildir) if reference in str(m["Subject"])]
    subjects = [str(m["Subject"]).strip() for m in mails]
    for opening in (
        "Actie nodig",
        "Voordracht voor een woning",
        "Woningaanbod",
        "Huurovereenkomst getekend",
        "Begeleiding aan huis geregeld",
    ):
        assert any(subject.startswith(opening) for subject in subjects), (opening, subjects)
    assert len({m["Message-ID"] for m in mails}) == len(mails) == app.outbox.counts(reference)["sent"]
    assert app.outbox.counts(reference) == {"sent": len(mails)}
    link = f"{stack.ui_url}/runs/flow-run/{run.id}"
    # The review is asked by its own run: that mail links to the first review's run, the others to this run.
    review_link = f"{stack.ui_url}/runs/flow-run/{review_runs(reference, app.casework.database_id())[1].id}"
    unlinked = [
        str(m["Subject"])
        for m in mails
        if (review_link if str(m["Subject"]).startswith("Nazorgmoment") else link)
        not in m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    ]
    assert unlinked == []

    assert_nothing_personal_in_prefect(run.id, reference)
    # And nowhere else in what Prefect keeps: every table of its database (events, variables, task runs, block
    # documents …), its files, the server's and worker's logs — not the free text of the registration either.
    secrets = [*PERSON.values(), "1990-05-17", "17-05-1990", REGISTRATION_REASON]
    # Nor the names and addresses of the staff who logged in: the stack's provider puts them in the ID token (scope
    # profile and email, as a real one does); the server keeps codes only.
    staff = [p for p in app.regions["emmen"].people if p.code in {"EMM-TB-01", "EMM-TP-01", "EMM-DOM-01"}]
    secrets += [value for p in staff for value in (p.name, p.email) if value]
    assert personal_data_in_prefect(stack.data_dir / "prefect", secrets, logs=stack.logs) == []


def assert_nothing_personal_in_prefect(run_id: UUID, reference: str, stage: str = "nazorg") -> None:
    """Parameters, run inputs, logs, names of the run and its tasks: none holds the client's personal data."""
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        inputs = client.filter_flow_run_input(run_id, key_prefix="", limit=1000, exclude_keys=set())
        logs, page = [], None
        while page is None or len(page) == 200:
            page = client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])), limit=200, offset=len(logs)
            )
            logs += page
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])), limit=200)
        artifacts = client.read_artifacts(limit=200)
    assert run.name == f"{reference} · {stage}" and run.parameters == {"zaakreferentie": reference, "regio": "emmen"}
    assert inputs and logs and task_runs
    seen = json.dumps(
        [
            run.parameters,
            run.name,
            [i.value for i in inputs],
            [log.message for log in logs],
            [t.name for t in task_runs],
            [str(a.data) for a in artifacts],
        ],
        ensure_ascii=False,
    )
    for secret in [*PERSON.values(), "1990-05-17", "Marieke", "Testpersoon"]:
        assert secret not in seen, f"personal data {secret!r} reached Prefect"


def test_invalid_answers_are_rejected_with_a_reason_and_the_case_stays(app: App, ledger: CallLedger) -> None:
    reference = register(app)
    run = start_case(reference, "emmen")
    desk = Desk(run.id)
    desk.next_form("readiness-1-assessment")

    for answer, reason in [
        # The server's refusal, in Dutch and naming the field as the form does (weerthuis/server).
        ({**zrm(), "financien": 7}, "Niet opgeslagen. 'Financiën': 7 kan niet; vul 1 tot en met 5 in."),
        # (A "Wie beslist?" other than the logged-in person is overwritten with that person: test_login.py.)
        ({**zrm(), "region_tie": "misschien"}, "'Binding met de regio?': 'misschien' is hier geen keuze"),
        ({**zrm(), "hobby": "vissen"}, "Dit formulier kent 'hobby' niet."),
    ]:
        result = answer_form(run.id, answer)
        assert not result.accepted
        assert reason in result.reason
    case = app.casework.view(reference)
    assert (case.stage, case.attempt, case.waiting_for) == (Stage.READINESS, 1, Step.ASSESSMENT)
    assert [line.event for line in case.history] == ["CaseRegistered", "AssessmentStarted"]

    # The run still waits on the same form, and a correct answer then goes through.
    assert wait_for_form(run.id).key == "readiness-1-assessment"
    desk.submit(zrm(score=2))
    desk.answer("readiness-1-decision", {"verdict": "nog niet klaar", "decided_by": "EMM-TP-02"})
    form = desk.next_form("readiness-2-assessment")
    assert "poging 2" in (form.description or "")
    case = app.casework.view(reference)
    assert case.due_on == date.today() + timedelta(days=90)


def test_a_nomination_beyond_the_contingent_is_refused_and_asked_again(app: App) -> None:
    reference = register(app)
    run = start_case(reference, "emmen")
    desk = Desk(run.id)
    desk.answer("readiness-1-assessment", zrm())
    desk.answer("readiness-1-decision", {"verdict": "klaar voor uitstroom", "decided_by": "EMM-TP-01"})
    form = desk.next_form("nomination-1-proposal")
    assert "woonservice" in form.schema["properties"]["corporation"]["enum"]
    # Other cases take Woonservice's remaining places while this form is open.
    for _ in range(app.casework.corporations_with_places("emmen")["woonservice"]):
        app.casework.propose_nomination(to_nomination(app.casework), 1, "woonservice", "EMM-TP-02")
    assert "woonservice" not in app.casework.corporations_with_places("emmen")
    assert answer_form(run.id, {"corporation": "woonservice", "decided_by": "EMM-TP-01"}).accepted

    form = desk.next_form("nomination-1-proposal-2")
    assert "Vorige invoer is afgewezen:** Het contingent van Woonservice" in (form.description or "")
    assert "woonservice" not in form.schema["properties"]["corporation"]["enum"]
    assert app.casework.view(reference).waiting_for is Step.NOMINATION_PROPOSAL
    assert answer_form(run.id, {"corporation": "lefier", "decided_by": "EMM-TP-01"}).accepted
    desk.next_form("nomination-1-response")
    assert app.casework.view(reference).corporation == "lefier"


def test_run_name_case_page_and_worklist_follow_the_case(app: App) -> None:
    from tasks.pages import latest_artifact

    reference = register(app)
    run = start_case(reference, "emmen")
    desk = Desk(run.id)
    desk.answer("readiness-1-assessment", zrm())
    desk.answer("readiness-1-decision", {"verdict": "klaar voor uitstroom", "decided_by": "EMM-TP-01"})
    desk.answer("nomination-1-proposal", {"corporation": "domesta", "decided_by": "EMM-TP-01"})
    desk.next_form("nomination-1-response")

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(run.id)
    assert flow_run.name == f"{reference} · voordracht"
    assert {"regio:emmen", "corporatie:domesta"} <= set(flow_run.tags)

    page = latest_artifact(f"case-{reference.lower()}")
    assert page is not None and page.type == "markdown"
    assert f"# Zaak {reference}" in page.data
    assert "**Wacht op** woonconsulent (Domesta): reactie op de voordracht, uiterlijk" in page.data
    assert f"/runs/flow-run/{run.id})" in page.data
    assert "| voordracht |" in page.data and "| EMM-TP-01 |" in page.data

    table = latest_artifact("werkvoorraad")
    assert table is not None and table.type == "table"
    rows = {row["zaak"]: row for row in json.loads(table.data)}
    assert rows[reference]["wacht op"] == "woonconsulent (Domesta)"
    assert rows[reference]["stap"] == "reactie op de voordracht"
    assert rows[reference]["te laat"] == "nee"
    assert rows[reference]["formulier"].endswith(f"/runs/flow-run/{run.id}")
    assert_nothing_personal_in_prefect(run.id, reference, stage="voordracht")


def test_a_refusal_by_the_zaaksysteem_waits_on_the_coordinator_and_a_retry_goes_through(
    app: App, stack: LocalStack, ledger: CallLedger
) -> None:
    """A 400 is not retried: the run asks the coordinator (problem form), the case shows why, a retry succeeds."""
    import httpx

    from integrations.counterparts.zgw import API

    reference = register(app)
    run = start_case(reference, "emmen")
    desk = Desk(run.id)
    desk.answer("readiness-1-assessment", zrm())
    faults = {"method": "POST", "path": f"{API}/statussen", "plan": ["400"]}
    httpx.post(f"http://127.0.0.1:{stack.zgw_port}/_faults", json=faults).raise_for_status()
    desk.answer("readiness-1-decision", {"verdict": "klaar voor uitstroom", "decided_by": "EMM-TP-01"})

    form = wait_for_form(run.id, after_key="readiness-1-decision")
    assert form.key.startswith("probleem-") and form.key.endswith("-1")
    desk.last_key = form.key
    assert "**Probleem:** zaaksysteem: POST statussen geweigerd (400): Geplande storing 400" in (form.description or "")
    assert form.schema["properties"]["decision"]["enum"] == ["opnieuw proberen", "handmatig afgehandeld"]
    case = app.casework.view(reference)
    assert case.stage is Stage.NOMINATION and case.problem is not None and "(400)" in case.problem
    with get_client(sync_client=True) as client:
        (status_run,) = [
            t
            for t in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
            if t.name == f"set_status {reference}:nomination:1:set_status"
        ]
    assert status_run.run_count == 1 and status_run.state is not None and status_run.state.is_failed()

    assert answer_form(run.id, {"decision": "opnieuw proberen", "decided_by": "EMM-TP-02"}).accepted
    desk.next_form("nomination-1-proposal")
    assert app.casework.view(reference).problem is None
    statuses = [k for _, op, k, _ in ledger.calls("municipality") if op == "set_status" and k.startswith(reference)]
    assert statuses == [f"{reference}:readiness:1:set_status", f"{reference}:nomination:1:set_status"]
