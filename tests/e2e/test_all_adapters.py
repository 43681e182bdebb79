"""A full case through every adapter: the counterparts answer over their own APIs, people answer the rest.

The stack's fakes are real HTTP servers on loopback. The corporation accepts and offers a dwelling, the
e-signature service reports the signed lease, the care provider confirms the start and the Wmo desk grants the
decision — each over its fake's control paths, as their staff would — and the `counterpart-answers` deployment
(run by the worker, as on its schedule) takes those answers to the waiting run. The fake zaaksysteem checks every
request and response against the official ZGW Zaken API 1.5.1 spec.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from prefect import get_client
from prefect.deployments import run_deployment
from prefect.states import Scheduled

from integrations.fakes import CallLedger
from tasks.reviews import review_runs
from tests.e2e.test_outflow_case import Desk, assert_nothing_personal_in_prefect, register, zrm
from weerthuis.bootstrap import App
from weerthuis.devstack import LocalStack
from weerthuis.domain.calendar import add_months
from weerthuis.domain.procedure import Step
from weerthuis.domain.stages import Stage
from weerthuis.runs import start_case, wait_for_end

pytestmark = pytest.mark.stack


def take_answers() -> None:
    """One round of the counterpart-answers deployment, run by the worker."""
    run = run_deployment(
        "counterpart-answers/counterpart-answers",
        timeout=120,
        as_subflow=False,
        _sync=True,  # type: ignore[call-arg]
    )
    assert run.state is not None and run.state.is_completed(), run.state


def control(port: int, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.request(method, f"http://127.0.0.1:{port}/_control/{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json() if response.content else None


def only(items: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(items) == 1, items
    return items[0]


def test_a_full_case_runs_through_all_adapters(app: App, stack: LocalStack, ledger: CallLedger) -> None:
    reference = register(app)
    run = start_case(reference, "emmen")
    desk = Desk(run.id)
    today = date.today()
    desk.answer("readiness-1-assessment", zrm())
    desk.answer("readiness-1-decision", {"verdict": "klaar voor uitstroom", "decided_by": "EMM-TP-01"})
    desk.answer("nomination-1-proposal", {"corporation": "domesta", "decided_by": "EMM-TP-01"})

    # Domesta's consultant accepts in Domesta's own system; nothing moves until the answers are taken.
    desk.next_form("nomination-1-response")
    corporation = stack.corporation_port
    nomination = only(control(corporation, "GET", f"voordrachten?zaakreferentie={reference}"))
    control(corporation, "POST", f"voordrachten/{nomination['id']}/antwoord", {"status": "geaccepteerd"})
    take_answers()
    desk.next_form("offer-1-offer")
    viewing = today + timedelta(days=3)
    offered = {"verhuureenheid": "DOM-EMM-0815", "wijk": "angelslo", "kaleHuurprijs": 612.35}
    bezichtiging = f"{viewing.isoformat()}T14:00:00+01:00"
    control(
        corporation, "POST", f"voordrachten/{nomination['id']}/aanbiedingen", {**offered, "bezichtiging": bezichtiging}
    )
    take_answers()

    desk.answer("offer-1-answer", {"answer": "geaccepteerd", "decided_by": "EMM-TB-01"})
    desk.answer(
        "tenancy-1-lease", {"contract_form": "driepartijenovereenkomst", "temporary": "ja", "decided_by": "EMM-DOM-01"}
    )
    desk.next_form("tenancy-1-signing")
    signing = only(control(stack.esign_port, "GET", f"ondertekeningen?zaakreferentie={reference}"))
    assert [s["rol"] for s in signing["ondertekenaars"]] == ["huurder", "verhuurder", "zorgaanbieder"]
    control(stack.esign_port, "POST", f"ondertekeningen/{signing['id']}/status", {"status": "ondertekend"})
    take_answers()

    # Support is asked for once the lease is signed; it starts when the provider confirms and the Wmo is granted.
    desk.next_form("support-1-support")
    request = only(control(stack.care_port, "GET", f"ondersteuningsverzoeken?zaakreferentie={reference}"))
    assert request["zorgaanbieder"] == "leger-des-heils" and request["gewensteStartdatum"] == today.isoformat()
    starts = today + timedelta(days=7)
    confirmation = {"status": "bevestigd", "bevestigdeStartdatum": starts.isoformat()}
    control(stack.care_port, "POST", f"ondersteuningsverzoeken/{request['id']}/bevestiging", confirmation)
    take_answers()  # confirmed, but no Wmo decision yet: the case keeps waiting
    assert app.casework.view(reference).stage is Stage.SUPPORT
    decision = {"zaakreferentie": reference, "besluit": "toegekend", "ingangsdatum": starts.isoformat()}
    control(stack.care_port, "POST", "wmo-beschikkingen", decision)
    take_answers()

    finished = wait_for_end(run.id, timeout=240)
    assert finished.state is not None and finished.state.is_completed(), finished.state

    case = app.casework.view(reference)
    decided = [(line.event, line.decided_by) for line in case.history]
    assert decided[5:] == [
        ("NominationAccepted", "api:domesta"),
        ("OfferMade", "api:domesta"),
        ("OfferAccepted", "EMM-TB-01"),
        ("LeaseDrawnUp", "EMM-DOM-01"),
        ("LeaseSigned", "api:e-ondertekening"),
        ("SupportArranged", "api:leger-des-heils"),
    ]
    assert case.next_review_on == add_months(starts, 3)  # Emmen's first review, from the confirmed start

    # Every effect on every counterpart happened once, under the action's idempotency key.
    calls = [(system, operation, key) for system, operation, key, _ in ledger.calls() if key.startswith(reference)]
    assert Counter(calls).most_common(1)[0][1] == 1
    assert {system for system, _, _ in calls} == {"municipality", "corporation", "esign", "care_provider"}
    assert app.casework.pending_actions(reference) == []
    lease = only([h for h in control(corporation, "GET", "huurovereenkomsten") if h["zaakreferentie"] == reference])
    assert (lease["verhuureenheid"], lease["contractvorm"], lease["tijdelijk"]) == (
        "DOM-EMM-0815",
        "driepartijen",
        True,
    )

    # The zaaksysteem saw a status per stage, and every exchange with it is what the official spec allows.
    checked = httpx.get(f"http://127.0.0.1:{stack.zgw_port}/_contract", timeout=10).json()
    assert checked["problems"] == []
    assert checked["checked"] >= 8

    assert_nothing_personal_in_prefect(run.id, reference)

    # Follow-up: the first review's run, started now instead of in three months. The corporation reported rent
    # arrears; the form shows it pre-filled, and the yellow card brings the second review closer.
    # (Reported once support has started: signals count from the start of support or the last review on.)
    arrears = {**SIGNAL, "zaakreferentie": reference, "gemeldOp": f"{starts.isoformat()}T10:00:00+01:00"}
    control(corporation, "POST", "signalen", arrears)
    reached = {"bereikt": True, "laatsteContactOp": today.isoformat()}
    control(stack.care_port, "POST", f"ondersteuningsverzoeken/{request['id']}/bereikt", reached)
    second_before = review_runs(reference, app.casework.database_id())[2].state.state_details.scheduled_time
    review = Desk(start_review_now(app, reference, 1))
    form = review.next_form("follow-up-1-review-1")
    assert "huurachterstand (geel)" in (form.description or "")
    assert form.schema["properties"]["rent_arrears"]["default"] == "ja"
    review.submit({**REVIEW, "rent_arrears": "ja", "held_on": today.isoformat()})
    assert wait_for_end(review.run_id, timeout=240).state.is_completed()  # type: ignore[union-attr]
    assert review_runs(reference, app.casework.database_id())[2].state.state_details.scheduled_time < second_before
    assert app.casework.view(reference).history[-1].event == "WarningRaised"

    # The second review: nuisance reported as red. The run waits on the coordinator's decision; evicted ends the
    # case, and its later reviews are cancelled.
    control(
        corporation, "POST", "signalen", {**SIGNAL, "zaakreferentie": reference, "soort": "overlast", "ernst": "rood"}
    )
    review = Desk(start_review_now(app, reference, 2))
    review.answer("follow-up-1-review-2", {**REVIEW, "held_on": today.isoformat()})
    form = review.next_form("follow-up-1-escalation-2")
    assert form.schema["properties"]["decided_by"]["enum"] == ["EMM-TP-01", "EMM-TP-02"]
    assert app.casework.view(reference).waiting_for is Step.ESCALATION
    review.submit({"decision": "ontruimd", "decided_by": "EMM-TP-01"})
    assert wait_for_end(review.run_id, timeout=240).state.is_completed()  # type: ignore[union-attr]
    case = app.casework.view(reference)
    assert case.stage is Stage.EVICTED and case.history[-1].event == "TenantEvicted"
    reviews = review_runs(reference, app.casework.database_id())
    assert {n: run.state.type.value for n, run in reviews.items() if n > 2} == {
        3: "CANCELLED",
        4: "CANCELLED",
    }


SIGNAL = {"soort": "huurachterstand", "ernst": "geel", "omschrijving": "Twee maanden achterstand."}
REVIEW = {
    "living_situation": "gaat goed",
    "rent_arrears": "nee",
    "nuisance": "nee",
    "support_reached": "ja",
    "outcome": "nazorg loopt door",
    "decided_by": "EMM-TB-01",
}


def start_review_now(app: App, reference: str, number: int) -> UUID:
    """The review's scheduled run, moved to now (as a coordinator can in the UI); the worker picks it up."""
    run = review_runs(reference, app.casework.database_id())[number]
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run.id, Scheduled(scheduled_time=datetime.now(UTC)), force=True)
    return UUID(str(run.id))
