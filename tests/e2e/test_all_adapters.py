"""A full case through every adapter: the counterparts answer over their own APIs, people answer the rest.

The stack's fakes are real HTTP servers on loopback. The corporation accepts and offers a dwelling, the
e-signature service reports the signed lease, the care provider confirms the start and the Wmo desk grants the
decision — each over its fake's control paths, as their staff would — and the `counterpart-answers` deployment
(run by the worker, as on its schedule) takes those answers to the waiting run. The fake zaaksysteem checks every
request and response against the official ZGW Zaken API 1.5.1 spec.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from prefect.deployments import run_deployment

from integrations.fakes import CallLedger
from tests.e2e.test_outflow_case import Desk, assert_nothing_personal_in_prefect, register, zrm
from weerthuis.bootstrap import App
from weerthuis.casework import add_months
from weerthuis.devstack import LocalStack
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

    desk.answer(
        "follow-up-1-review-1",
        {
            "held_on": today.isoformat(),
            "living_situation": "gaat goed",
            "rent_arrears": "nee",
            "nuisance": "nee",
            "support_reached": "ja",
            "outcome": "nazorg loopt door",
            "decided_by": "EMM-TB-01",
        },
    )
    finished = wait_for_end(run.id, timeout=90)
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
        ("ReviewHeld", "EMM-TB-01"),
    ]
    assert case.next_review_on == add_months(starts, 6)  # Emmen reviews at 3 and 6 months from the confirmed start

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
