"""The care adapter against the fake care provider and Wmo desk as a real HTTP server on loopback; every request and
every response (errors included) checked against our own contract, integrations/contracts/care-api.yaml."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from integrations.care import CareApi, HttpCareProvider, wmo_code
from integrations.counterparts.care import CareRegister, care_app
from integrations.counterparts.common import API
from integrations.counterparts.server import ServerThread
from integrations.fakes import CallLedger
from integrations.http import MalformedResponse
from integrations.ports import CareProvider, CounterpartRefused, TransientFailure
from tests.contract import Contract
from tests.integration.conftest import Waits, take_problems
from weerthuis.devstack import free_port
from weerthuis.domain.vocabulary import WmoDecision

SPEC = Path(__file__).resolve().parents[2] / "integrations" / "contracts" / "care-api.yaml"
API_KEY = "een-lange-api-sleutel-voor-de-test"
KEY = "WT-2026-0042:support:1:request_support"
SUPPORT = {  # what the case database sends (weerthuis.service.effects)
    "reference": "WT-2026-0042",
    "provider": "leger-des-heils",
    "starts_on": "2026-04-15",
    "wmo_decision": WmoDecision.GRANTED.value,
}


@pytest.fixture
def server(ledger: CallLedger) -> Iterator[ServerThread]:
    app = care_app(ledger, API_KEY, providers={"leger-des-heils", "ggz-drenthe", "vnn"})
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
) -> HttpCareProvider:
    block = CareApi(base_url=f"{server.url}{API}", api_key=SecretStr(api_key), timeout_seconds=timeout)
    return HttpCareProvider.from_block(block, event_hooks=contract.hooks(), sleep=waits)


def register_of(server: ServerThread) -> CareRegister:
    app = server.server.config.app
    assert isinstance(app, Starlette)
    register: CareRegister = app.state.register
    return register


def control(server: ServerThread, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    """What the provider's staff and the Wmo consultant do (not part of the contract)."""
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
    return [(operation, key) for _, operation, key, _ in ledger.calls("care_provider")]


# What a support request goes through ------------------------------------------------------------------------------


def test_the_adapter_is_a_care_provider_port(server: ServerThread, contract: Contract, waits: Waits) -> None:
    with adapter(server, contract, waits) as care:
        port: CareProvider = care
        assert port.request_support(SUPPORT, idempotency_key=KEY)


def test_support_is_requested_confirmed_and_read_back(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    with adapter(server, contract, waits) as care:
        request_id = care.request_support(SUPPORT, idempotency_key=KEY)
        before = care.support_request(request_id)
        control(
            server,
            f"/ondersteuningsverzoeken/{request_id}/bevestiging",
            {"status": "bevestigd", "bevestigdeStartdatum": "2026-04-20"},
        )
        after = care.support_request(request_id)

    assert before["status"] == "ontvangen" and before["confirmed"] is False
    assert before["confirmed_start"] is None and before["answered_at"] is None
    assert after["id"] == request_id and after["reference"] == "WT-2026-0042" and after["provider"] == "leger-des-heils"
    assert after["status"] == "bevestigd" and after["confirmed"] is True
    assert after["requested_start"] == date(2026, 4, 15) and after["confirmed_start"] == date(2026, 4, 20)
    assert after["decline_reason"] is None
    assert isinstance(after["answered_at"], datetime) and after["answered_at"] >= after["received_at"]
    # Only the contract's fields reached the provider: a reference, codes and dates, nothing about the person.
    ((_, operation, key, body),) = ledger.calls("care_provider")
    assert (operation, key) == ("request_support", KEY)
    assert body == {
        "zaakreferentie": "WT-2026-0042",
        "zorgaanbieder": "leger-des-heils",
        "gewensteStartdatum": "2026-04-15",
        "wmoBeschikking": "toegekend",
    }
    assert contract.checked == 3


def test_a_refused_request_comes_back_with_the_providers_reason(
    server: ServerThread, contract: Contract, waits: Waits
) -> None:
    with adapter(server, contract, waits) as care:
        request_id = care.request_support(SUPPORT, idempotency_key=KEY)
        path = f"/ondersteuningsverzoeken/{request_id}/bevestiging"
        control(server, path, {"status": "bevestigd"}, 400)  # a confirmation names its start date
        control(server, path, {"status": "afgewezen", "afwijzingsreden": "geen-capaciteit"})
        control(server, path, {"status": "afgewezen", "afwijzingsreden": "geen-capaciteit"})  # the same again
        control(server, path, {"status": "bevestigd", "bevestigdeStartdatum": "2026-04-20"}, 409)  # not another
        answer = care.support_request(request_id)
    assert answer["status"] == "afgewezen" and answer["confirmed"] is False
    assert answer["decline_reason"] == "geen-capaciteit" and answer["confirmed_start"] is None


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [(WmoDecision.GRANTED, "toegekend"), (WmoDecision.APPLIED, "in-behandeling"), (WmoDecision.NOT_NEEDED, None)],
)
def test_every_wmo_decision_of_ours_has_the_contracts_code(ours: WmoDecision, theirs: str | None) -> None:
    assert wmo_code(ours.value) == theirs


def test_support_without_a_wmo_decision_is_requested_with_null_and_accepted(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    with adapter(server, contract, waits) as care:
        care.request_support({**SUPPORT, "wmo_decision": WmoDecision.NOT_NEEDED.value}, idempotency_key=KEY)
    ((_, _, _, body),) = ledger.calls("care_provider")
    assert body["wmoBeschikking"] is None


def test_an_unknown_wmo_decision_is_our_mistake_and_nothing_is_sent(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    with adapter(server, contract, waits) as care:
        with pytest.raises(ValueError, match="Wmo-beschikking 'misschien'"):
            care.request_support({**SUPPORT, "wmo_decision": "misschien"}, idempotency_key=KEY)
        with pytest.raises(ValueError, match="starts_on ontbreekt"):
            care.request_support({k: v for k, v in SUPPORT.items() if k != "starts_on"}, idempotency_key=KEY)
        assert contract.checked == 0 and effects(ledger) == []  # refused before anything went over the wire
        care.request_support(SUPPORT, idempotency_key=KEY)  # corrected, the same key goes through
    assert effects(ledger) == [("request_support", KEY)]


def test_the_wmo_decision_of_a_case_is_the_latest(server: ServerThread, contract: Contract, waits: Waits) -> None:
    with adapter(server, contract, waits) as care:
        assert care.wmo_decision("WT-2026-0042") is None
        for reference, decision, effective, decided in [
            ("WT-2026-0042", "toegekend", "2026-04-01", "2026-03-20"),
            ("WT-2026-0042", "in-behandeling", None, "2026-03-02"),
            ("WT-2026-0043", "afgewezen", None, "2026-03-25"),
        ]:
            control(
                server,
                "/wmo-beschikkingen",
                {"zaakreferentie": reference, "besluit": decision, "ingangsdatum": effective, "besluitdatum": decided},
                201,
            )
        control(server, "/wmo-beschikkingen", {"zaakreferentie": "WT-2026-0042", "besluit": "toegekend"}, 400)
        latest = care.wmo_decision("WT-2026-0042")
        history = care.wmo_decisions("WT-2026-0042")
        refused = care.wmo_decision("WT-2026-0043")
    assert latest is not None and latest["reference"] == "WT-2026-0042"
    assert latest["decision_code"] == "toegekend" and latest["decision"] is WmoDecision.GRANTED
    assert latest["effective_from"] == date(2026, 4, 1) and latest["decided_on"] == date(2026, 3, 20)
    assert latest["refused"] is False
    assert [(d["decision"], d["effective_from"]) for d in history] == [
        (WmoDecision.APPLIED, None),
        (WmoDecision.GRANTED, date(2026, 4, 1)),
    ]
    assert refused is not None and refused["refused"] is True and refused["decision"] is None
    assert refused["decision_code"] == "afgewezen"


def test_support_reached_on_a_date_as_the_provider_says(server: ServerThread, contract: Contract, waits: Waits) -> None:
    with adapter(server, contract, waits) as care:
        request_id = care.request_support(SUPPORT, idempotency_key=KEY)
        reached_path = f"/ondersteuningsverzoeken/{request_id}/bereikt"
        control(server, reached_path, {"bereikt": True, "vanaf": "2026-05-01"}, 409)  # not confirmed yet
        assert care.support_reached(request_id, date(2026, 5, 20)) is False
        control(
            server,
            f"/ondersteuningsverzoeken/{request_id}/bevestiging",
            {"status": "bevestigd", "bevestigdeStartdatum": "2026-04-20"},
        )
        assert care.support_reached(request_id, date(2026, 5, 20)) is False  # confirmed, nothing said yet
        control(server, reached_path, {"bereikt": True, "laatsteContactOp": "2026-04-20", "vanaf": "2026-04-10"}, 400)
        control(server, reached_path, {"bereikt": True, "laatsteContactOp": "2026-04-14", "vanaf": "2026-04-14"}, 201)
        control(server, reached_path, {"bereikt": False, "laatsteContactOp": "2026-06-02", "vanaf": "2026-07-01"}, 201)

        assert care.support_reached(request_id, date(2026, 4, 18)) is False  # an intake, but support starts 20 April
        assert care.support_reached(request_id, date(2026, 5, 20)) is True
        assert care.reach(request_id, date(2026, 5, 20)) == {"reached": True, "last_contact": date(2026, 4, 14)}
        assert care.support_reached(request_id, date(2026, 7, 15)) is False  # out of reach since July
        assert care.reach(request_id, date(2026, 7, 15))["last_contact"] == date(2026, 6, 2)
        with pytest.raises(CounterpartRefused, match=r"\(404\)"):
            care.support_reached("6f1c1c52-5d8e-4a38-9b3e-3f7c2a0d9e11", date(2026, 5, 20))


# Idempotency and the real world -----------------------------------------------------------------------------------


def test_the_same_key_twice_is_one_effect_and_the_same_id(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    with adapter(server, contract, waits) as care:
        first = care.request_support(SUPPORT, idempotency_key=KEY)
        again = care.request_support(SUPPORT, idempotency_key=KEY)
        with pytest.raises(CounterpartRefused, match="422.*Idempotency-Key"):
            care.request_support({**SUPPORT, "starts_on": "2026-05-01"}, idempotency_key=KEY)
    assert again == first
    assert effects(ledger) == [("request_support", KEY)]
    assert len(register_of(server).verzoeken) == 1 and register_of(server).replays == 1


def test_two_503s_then_success_is_one_support_request(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    plan(server, "/ondersteuningsverzoeken", "503", "503")
    with adapter(server, contract, waits) as care:
        for _ in range(2):  # what the retrying task sees
            with pytest.raises(TransientFailure, match="503"):
                care.request_support(SUPPORT, idempotency_key=KEY)
        assert effects(ledger) == []
        request_id = care.request_support(SUPPORT, idempotency_key=KEY)
    assert effects(ledger) == [("request_support", KEY)]
    assert list(register_of(server).verzoeken) == [request_id]
    assert contract.checked == 3


def test_a_bad_reference_is_refused_naming_the_field_and_has_no_effect(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    with adapter(server, contract, waits) as care:
        with pytest.raises(
            CounterpartRefused, match=r"zorgaanbieder: POST ondersteuningsverzoeken geweigerd \(400\).*zaakreferentie"
        ) as e:
            care.request_support({**SUPPORT, "reference": "WT-42"}, idempotency_key=KEY)
        assert not isinstance(e.value, TransientFailure)
        assert "Een zaakreferentie van Weer Thuis" in str(e.value)
        # Corrected, the same key goes through: a refused request was no effect to remember.
        care.request_support(SUPPORT, idempotency_key=KEY)
    assert effects(ledger) == [("request_support", KEY)]
    (found,) = take_problems(contract)  # the contract spotted the bad request too
    assert found.startswith("request POST /api/v1/ondersteuningsverzoeken") and "zaakreferentie" in found


def test_an_unknown_provider_is_refused_naming_the_field(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    unknown = r"\(400\).*zorgaanbieder: Deze zorgaanbieder is hier niet bekend"
    with adapter(server, contract, waits) as care, pytest.raises(CounterpartRefused, match=unknown):
        care.request_support({**SUPPORT, "provider": "zienn"}, idempotency_key=KEY)  # a provider in Fryslân
    assert effects(ledger) == []


def test_a_wrong_api_key_is_refused_not_retried(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    with adapter(server, contract, waits, api_key="een-verkeerde-sleutel") as care:
        with pytest.raises(
            CounterpartRefused, match=r"zorgaanbieder: POST ondersteuningsverzoeken geweigerd \(401\).*X-Api-Key"
        ) as e:
            care.request_support(SUPPORT, idempotency_key=KEY)
        assert not isinstance(e.value, TransientFailure)
        with pytest.raises(CounterpartRefused, match=r"\(401\)"):
            care.wmo_decision("WT-2026-0042")
    assert effects(ledger) == []
    assert waits.seconds == []


def test_an_unknown_support_request_is_a_404(server: ServerThread, contract: Contract, waits: Waits) -> None:
    with adapter(server, contract, waits) as care, pytest.raises(CounterpartRefused, match=r"\(404\): Niet gevonden"):
        care.support_request("6f1c1c52-5d8e-4a38-9b3e-3f7c2a0d9e11")


def test_a_429_is_waited_out_as_retry_after_says(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    plan(server, "/ondersteuningsverzoeken", "429:1")
    with adapter(server, contract, waits) as care:
        care.request_support(SUPPORT, idempotency_key=KEY)
    assert waits.seconds == [1.0]
    assert effects(ledger) == [("request_support", KEY)]
    assert contract.checked == 2  # the 429 and the answer after it


def test_a_timeout_is_transient_the_late_request_is_carried_out_and_the_retry_not_doubled(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    plan(server, "/ondersteuningsverzoeken", "timeout:2")
    register = register_of(server)
    with adapter(server, contract, waits, timeout=0.5) as care:
        started = time.monotonic()
        with pytest.raises(TransientFailure, match="time-out"):
            care.request_support(SUPPORT, idempotency_key=KEY)
        assert time.monotonic() - started < 1.5  # the client gave up; it did not wait for the late answer
        assert effects(ledger) == []  # not yet: the provider is still busy
        deadline = time.monotonic() + 10
        while not effects(ledger):  # the provider carries out the request it answers too late
            assert time.monotonic() < deadline, "the late request was never carried out"
            time.sleep(0.05)
        request_id = care.request_support(SUPPORT, idempotency_key=KEY)  # the task's retry
        assert care.support_request(request_id)["reference"] == "WT-2026-0042"
    assert effects(ledger) == [("request_support", KEY)]
    assert list(register.verzoeken) == [request_id] and register.replays == 1


def test_a_malformed_answer_is_a_clear_error(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    plan(server, "/ondersteuningsverzoeken", "malformed")
    unreadable = r"zorgaanbieder: POST ondersteuningsverzoeken: onleesbaar antwoord \(200, application/json\)"
    with adapter(server, contract, waits) as care, pytest.raises(MalformedResponse, match=unreadable):
        care.request_support(SUPPORT, idempotency_key=KEY)
    assert effects(ledger) == []
    (found,) = take_problems(contract)  # the contract spotted the broken body too
    assert found.startswith("response 200 to POST /api/v1/ondersteuningsverzoeken")
