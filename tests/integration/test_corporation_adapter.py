"""The corporation adapter against the fake corporation as a real HTTP server on loopback; every request and every
response (errors included) checked against our own contract, integrations/contracts/corporation-api.yaml."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from integrations.corporation import CorporationApi, HttpCorporation, contract_form
from integrations.counterparts.common import API
from integrations.counterparts.corporation import CorporationRegister, corporation_app
from integrations.counterparts.server import ServerThread
from integrations.fakes import CallLedger
from integrations.http import MalformedResponse
from integrations.ports import CounterpartRefused, TransientFailure
from tests.contract import Contract
from tests.integration.conftest import Waits, take_problems
from weerthuis.devstack import free_port
from weerthuis.domain.vocabulary import ContractForm, DeclineReason, NominationAnswer

SPEC = Path(__file__).resolve().parents[2] / "integrations" / "contracts" / "corporation-api.yaml"
API_KEY = "een-lange-api-sleutel-voor-de-test"
KEY = "WT-2026-0042:nomination:1:submit_nomination"
NOMINATION = {
    "reference": "WT-2026-0042",
    "corporation": "domesta",
    "household_size": 2,
    "ambulant_support": True,
    "care_provider": "leger-des-heils",
}
LEASE = {
    "reference": "WT-2026-0042",
    "corporation": "domesta",
    "dwelling_reference": "DOM-EMM-0815",
    "contract_form": ContractForm.THREE_PARTY.value,
    "temporary": True,
    "signed_on": "2026-04-01",
}


@pytest.fixture
def server(ledger: CallLedger) -> Iterator[ServerThread]:
    app = corporation_app(ledger, API_KEY, corporations={"domesta", "lefier", "woonservice"})
    with ServerThread(app, free_port()) as running:
        yield running


@pytest.fixture
def contract(server: ServerThread) -> Iterator[Contract]:
    checked = Contract(SPEC, server_url=f"{server.url}{API}", only_status=range(100, 600))
    yield checked
    assert checked.problems == [], "\n".join(checked.problems)
    assert checked.checked > 0


def adapter(
    server: ServerThread, contract: Contract, waits: Waits, *, api_key: str = API_KEY, timeout: float = 5
) -> HttpCorporation:
    block = CorporationApi(base_url=f"{server.url}{API}", api_key=SecretStr(api_key), timeout_seconds=timeout)
    return HttpCorporation.from_block(block, event_hooks=contract.hooks(), sleep=waits)


def register_of(server: ServerThread) -> CorporationRegister:
    app = server.server.config.app
    assert isinstance(app, Starlette)
    register: CorporationRegister = app.state.register
    return register


def control(server: ServerThread, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    """What the corporation's own staff do (not part of the contract)."""
    response = httpx.post(f"{server.url}/_control{path}", json=body)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


def plan(server: ServerThread, path: str, *faults: str, method: str = "POST") -> None:
    response = httpx.post(
        f"{server.url}/_faults", json={"method": method, "path": f"{API}{path}", "plan": list(faults)}
    )
    assert response.status_code == 200


def effects(ledger: CallLedger) -> list[tuple[str, str]]:
    return [(operation, key) for _, operation, key, _ in ledger.calls("corporation")]


# What a nomination goes through -----------------------------------------------------------------------------------


def test_a_nomination_is_submitted_answered_and_read_back(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    with adapter(server, contract, waits) as corporation:
        nomination_id = corporation.submit_nomination(NOMINATION, idempotency_key=KEY)
        before = corporation.nomination(nomination_id)
        control(server, f"/voordrachten/{nomination_id}/antwoord", {"status": "geaccepteerd"})
        after = corporation.nomination(nomination_id)

    assert before["status"] == "ontvangen" and before["answer"] is None and before["answered_at"] is None
    assert after["id"] == nomination_id and after["reference"] == "WT-2026-0042" and after["corporation"] == "domesta"
    assert after["answer"] is NominationAnswer.ACCEPTED and after["decline_reason"] is None
    assert isinstance(after["answered_at"], datetime) and after["answered_at"] >= after["received_at"]
    # Only the contract's fields reached the corporation: a reference and codes, nothing about the person.
    ((_, operation, key, body),) = ledger.calls("corporation")
    assert (operation, key) == ("submit_nomination", KEY)
    assert body == {
        "zaakreferentie": "WT-2026-0042",
        "corporatie": "domesta",
        "huishoudgrootte": 2,
        "ambulanteBegeleiding": True,
        "zorgaanbieder": "leger-des-heils",
    }
    assert contract.checked == 3


def test_a_declined_nomination_comes_back_with_our_reason_and_the_corporations_code(
    server: ServerThread, contract: Contract, waits: Waits
) -> None:
    with adapter(server, contract, waits) as corporation:
        nomination_id = corporation.submit_nomination(NOMINATION, idempotency_key=KEY)
        control(
            server,
            f"/voordrachten/{nomination_id}/antwoord",
            {"status": "afgewezen", "afwijzingsreden": "eerdere-huurachterstand"},
        )
        answer = corporation.nomination(nomination_id)
    assert answer["answer"] is NominationAnswer.DECLINED
    assert answer["decline_reason"] is DeclineReason.RENT_HISTORY
    assert answer["decline_code"] == "eerdere-huurachterstand"


def test_offers_are_read_in_our_terms(server: ServerThread, contract: Contract, waits: Waits) -> None:
    with adapter(server, contract, waits) as corporation:
        nomination_id = corporation.submit_nomination(NOMINATION, idempotency_key=KEY)
        assert corporation.offers(nomination_id) == []
        offer = {
            "verhuureenheid": "DOM-EMM-0815",
            "wijk": "angelslo",
            "kaleHuurprijs": 612.35,
            "bezichtiging": "2026-03-10T14:00:00+01:00",
            "aangebodenOp": "2026-03-03T09:00:00+01:00",
        }
        control(server, f"/voordrachten/{nomination_id}/aanbiedingen", offer, 409)  # not accepted yet: no offer
        control(server, f"/voordrachten/{nomination_id}/antwoord", {"status": "geaccepteerd"})
        control(server, f"/voordrachten/{nomination_id}/aanbiedingen", offer, 201)
        control(
            server,
            f"/voordrachten/{nomination_id}/aanbiedingen",
            {
                "verhuureenheid": "DOM-EMM-0901",
                "wijk": "bargeres",
                "kaleHuurprijs": 580,
                "bezichtiging": "2026-03-24T10:30:00+01:00",
                "aangebodenOp": "2026-03-17T09:00:00+01:00",
            },
            201,
        )
        offers = corporation.offers(nomination_id)
    assert [o["dwelling_reference"] for o in offers] == ["DOM-EMM-0815", "DOM-EMM-0901"]
    first = offers[0]
    assert first["neighbourhood"] == "angelslo" and first["rent"] == Decimal("612.35")
    assert first["viewing_at"] == datetime.fromisoformat("2026-03-10T14:00:00+01:00")
    assert offers[1]["rent"] == Decimal("580.00")


def test_a_signed_lease_is_registered_with_the_contracts_contract_form(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    key = "WT-2026-0042:tenancy:1:register_lease"
    with adapter(server, contract, waits) as corporation:
        lease_id = corporation.register_lease(LEASE, idempotency_key=key)
    registered = register_of(server).huurovereenkomsten[lease_id]
    assert registered["contractvorm"] == "driepartijen" and registered["tijdelijk"] is True
    assert registered["verhuureenheid"] == "DOM-EMM-0815" and registered["getekendOp"] == "2026-04-01"
    assert effects(ledger) == [("register_lease", key)]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (ContractForm.REGULAR, "regulier"),
        (ContractForm.THREE_PARTY, "driepartijen"),
        (ContractForm.INTERMEDIARY, "intermediair"),
    ],
)
def test_every_contract_form_has_the_contracts_code(ours: ContractForm, theirs: str) -> None:
    assert contract_form(ours.value) == theirs


def test_an_unknown_contract_form_is_our_mistake_and_nothing_is_sent(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    key = "WT-2026-0042:tenancy:1:register_lease"
    with adapter(server, contract, waits) as corporation:
        with pytest.raises(ValueError, match="contractvorm 'huurkoop'"):
            corporation.register_lease({**LEASE, "contract_form": "huurkoop"}, idempotency_key=key)
        assert contract.checked == 0 and effects(ledger) == []  # refused before anything went over the wire
        corporation.register_lease(LEASE, idempotency_key=key)  # corrected, the same key goes through
    assert effects(ledger) == [("register_lease", key)]


def test_signals_are_read_for_one_case_since_a_date(server: ServerThread, contract: Contract, waits: Waits) -> None:
    for reference, kind, severity, at in [
        ("WT-2026-0042", "huurachterstand", "geel", "2026-05-02T10:00:00+02:00"),
        ("WT-2026-0042", "overlast", "rood", "2026-06-15T21:30:00+02:00"),
        ("WT-2026-0043", "overlast", "geel", "2026-06-16T08:00:00+02:00"),
    ]:
        signal = {"zaakreferentie": reference, "soort": kind, "ernst": severity, "omschrijving": "Gesprek nodig."}
        control(server, "/signalen", {**signal, "gemeldOp": at}, 201)
    with adapter(server, contract, waits) as corporation:
        recent = corporation.signals("WT-2026-0042", since=date(2026, 6, 1))
        all_of_them = corporation.signals("WT-2026-0042", since=date(2026, 1, 1))
        none = corporation.signals("WT-2026-0099", since=date(2026, 1, 1))
    assert [(s["kind"], s["severity"]) for s in recent] == [("overlast", "rood")]
    assert recent[0]["reference"] == "WT-2026-0042" and recent[0]["description"] == "Gesprek nodig."
    assert recent[0]["reported_at"] == datetime.fromisoformat("2026-06-15T21:30:00+02:00")
    assert [s["kind"] for s in all_of_them] == ["huurachterstand", "overlast"]
    assert none == []


def test_the_fake_refuses_personal_data_in_a_signal(server: ServerThread) -> None:
    signal = {"zaakreferentie": "WT-2026-0042", "soort": "overlast", "ernst": "geel"}
    answer = control(server, "/signalen", {**signal, "omschrijving": "Bel 06-12345678."}, 400)
    assert answer["invalidParams"][0]["name"] == "omschrijving"


# Idempotency and the real world -----------------------------------------------------------------------------------


def test_the_same_key_twice_is_one_effect_and_the_same_id(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    with adapter(server, contract, waits) as corporation:
        first = corporation.submit_nomination(NOMINATION, idempotency_key=KEY)
        again = corporation.submit_nomination(NOMINATION, idempotency_key=KEY)
        with pytest.raises(CounterpartRefused, match="422.*Idempotency-Key"):
            corporation.submit_nomination({**NOMINATION, "household_size": 3}, idempotency_key=KEY)
    assert again == first
    assert effects(ledger) == [("submit_nomination", KEY)]
    assert len(register_of(server).voordrachten) == 1 and register_of(server).replays == 1


def test_two_503s_then_success_is_one_nomination(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    plan(server, "/voordrachten", "503", "503")
    with adapter(server, contract, waits) as corporation:
        for _ in range(2):  # what the retrying task sees
            with pytest.raises(TransientFailure, match="503"):
                corporation.submit_nomination(NOMINATION, idempotency_key=KEY)
        assert effects(ledger) == []
        nomination_id = corporation.submit_nomination(NOMINATION, idempotency_key=KEY)
    assert effects(ledger) == [("submit_nomination", KEY)]
    assert list(register_of(server).voordrachten) == [nomination_id]
    assert contract.checked == 3


def test_a_bad_reference_is_refused_naming_the_field_and_has_no_effect(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    with adapter(server, contract, waits) as corporation:
        with pytest.raises(
            CounterpartRefused, match=r"\(400\).*zaakreferentie: Een zaakreferentie van Weer Thuis"
        ) as e:
            corporation.submit_nomination({**NOMINATION, "reference": "WT-42"}, idempotency_key=KEY)
        assert not isinstance(e.value, TransientFailure)
        # Corrected, the same key goes through: a refused request was no effect to remember.
        corporation.submit_nomination(NOMINATION, idempotency_key=KEY)
    assert effects(ledger) == [("submit_nomination", KEY)]
    (found,) = take_problems(contract)  # the contract spotted the bad request too
    assert found.startswith("request POST /api/v1/voordrachten") and "zaakreferentie" in found


def test_a_wrong_api_key_is_refused_not_retried(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    with adapter(server, contract, waits, api_key="een-verkeerde-sleutel") as corporation:
        with pytest.raises(CounterpartRefused, match=r"corporatie: POST voordrachten geweigerd \(401\).*X-Api-Key"):
            corporation.submit_nomination(NOMINATION, idempotency_key=KEY)
        with pytest.raises(CounterpartRefused, match=r"\(401\)"):
            corporation.signals("WT-2026-0042", since=date(2026, 1, 1))
    assert effects(ledger) == []


def test_an_unknown_nomination_is_a_404(server: ServerThread, contract: Contract, waits: Waits) -> None:
    with adapter(server, contract, waits) as corporation:
        with pytest.raises(CounterpartRefused, match=r"\(404\): Niet gevonden"):
            corporation.nomination("6f1c1c52-5d8e-4a38-9b3e-3f7c2a0d9e11")
        with pytest.raises(CounterpartRefused, match=r"\(404\)"):
            corporation.offers("6f1c1c52-5d8e-4a38-9b3e-3f7c2a0d9e11")


def test_a_429_is_waited_out_as_retry_after_says(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    plan(server, "/voordrachten", "429:1")
    with adapter(server, contract, waits) as corporation:
        corporation.submit_nomination(NOMINATION, idempotency_key=KEY)
    assert waits.seconds == [1.0]
    assert effects(ledger) == [("submit_nomination", KEY)]
    assert contract.checked == 2  # the 429 and the answer after it


def test_a_timeout_is_retried_and_the_late_effect_is_not_doubled(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    plan(server, "/voordrachten", "timeout:2")
    register = register_of(server)
    with adapter(server, contract, waits, timeout=0.5) as corporation:
        with pytest.raises(TransientFailure, match="time-out"):
            corporation.submit_nomination(NOMINATION, idempotency_key=KEY)
        nomination_id = corporation.submit_nomination(NOMINATION, idempotency_key=KEY)  # the task's retry
        deadline = time.monotonic() + 10
        while register.replays < 1:  # the corporation still carries out the request it answered too late
            assert time.monotonic() < deadline, "the late request was never carried out"
            time.sleep(0.05)
        assert corporation.nomination(nomination_id)["reference"] == "WT-2026-0042"
    assert effects(ledger) == [("submit_nomination", KEY)]
    assert list(register.voordrachten) == [nomination_id]


def test_a_malformed_answer_is_a_clear_error(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    plan(server, "/voordrachten", "malformed")
    unreadable = r"corporatie: POST voordrachten: onleesbaar antwoord \(200, application/json\)"
    with adapter(server, contract, waits) as corporation, pytest.raises(MalformedResponse, match=unreadable):
        corporation.submit_nomination(NOMINATION, idempotency_key=KEY)
    assert effects(ledger) == []
    (found,) = take_problems(contract)  # the contract spotted the broken body too
    assert found.startswith("response 200 to POST /api/v1/voordrachten")
