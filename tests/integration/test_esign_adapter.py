"""The e-signature adapter against the fake e-signature service as a real HTTP server on loopback; every request and
every response (errors included) checked against our own contract, integrations/contracts/esign-api.yaml. The
service's webhooks go to a second real server, a tiny receiver, and are checked against the contract's callback."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import queue
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from integrations.counterparts.common import API
from integrations.counterparts.esign import SigningRegister, esign_app
from integrations.counterparts.server import ServerThread
from integrations.esign import ESignApi, ESignature, HttpESignature, SigningStatus, contract_form, verify_webhook
from integrations.fakes import CallLedger
from integrations.http import MalformedResponse
from integrations.ports import CounterpartRefused, TransientFailure
from tests.contract import Contract
from tests.integration.conftest import Waits, take_problems
from weerthuis.devstack import free_port
from weerthuis.domain.vocabulary import ContractForm

SPEC = Path(__file__).resolve().parents[2] / "integrations" / "contracts" / "esign-api.yaml"
TOKEN = "een-lang-token-voor-de-test"
SECRET = "een-lang-webhookgeheim-voor-de-test"
KEY = "WT-2026-0042:tenancy:1:send_for_signing"
# A lease as the case database has it (weerthuis.service.effects).
LEASE = {
    "reference": "WT-2026-0042",
    "corporation": "domesta",
    "dwelling_reference": "DOM-EMM-0815",
    "contract_form": ContractForm.REGULAR.value,
    "temporary": False,
    "signed_on": "2026-04-01",
}
THREE_PARTY = {**LEASE, "contract_form": ContractForm.THREE_PARTY.value}


@pytest.fixture
def server(ledger: CallLedger) -> Iterator[ServerThread]:
    with ServerThread(esign_app(ledger, TOKEN, SECRET, webhook_backoff=0.05), free_port()) as running:
        yield running


@pytest.fixture
def contract(server: ServerThread) -> Iterator[Contract]:
    checked = Contract(SPEC, server_url=f"{server.url}{API}", only_status=range(100, 600))
    yield checked
    assert checked.problems == [], "\n".join(checked.problems)
    assert checked.checked > 0


class Receiver:
    """Weer Thuis' end of the webhook: keeps every delivery (raw body and X-Signature) and answers as planned."""

    path = "/webhooks/ondertekening"

    def __init__(self) -> None:
        self.url = ""  # set once it is served
        self.received: queue.Queue[tuple[bytes, str | None]] = queue.Queue()
        self.answers: list[int] = []  # the status of each next answer; 204 once the plan is used up
        self.gate = threading.Event()  # the receiver holds every delivery until the test opens the gate
        self.gate.set()

    async def webhook(self, request: Request) -> Response:
        body = await request.body()
        await asyncio.to_thread(self.gate.wait, 10)
        self.received.put((body, request.headers.get("x-signature")))
        return Response(status_code=self.answers.pop(0) if self.answers else 204)

    def app(self) -> Starlette:
        return Starlette(routes=[Route(self.path, self.webhook, methods=["POST"])])

    def next(self) -> tuple[bytes, str | None]:
        return self.received.get(timeout=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    with ServerThread(found.app(), free_port()) as running:
        found.url = f"{running.url}{Receiver.path}"
        yield found
        found.gate.set()  # let a held delivery go, so the server can stop


def adapter(
    server: ServerThread,
    contract: Contract,
    waits: Waits,
    *,
    token: str = TOKEN,
    timeout: float = 5,
    webhook_url: str | None = None,
    seen: list[httpx.Response] | None = None,
) -> HttpESignature:
    block = ESignApi(
        base_url=f"{server.url}{API}",
        token=SecretStr(token),
        webhook_secret=SecretStr(SECRET),
        timeout_seconds=timeout,
    )
    hooks = contract.hooks()
    if seen is not None:
        hooks["response"].append(seen.append)
    return HttpESignature.from_block(block, webhook_url=webhook_url, event_hooks=hooks, sleep=waits)


def register_of(server: ServerThread) -> SigningRegister:
    app = server.server.config.app
    assert isinstance(app, Starlette)
    register: SigningRegister = app.state.register
    return register


def control(server: ServerThread, signing_id: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    """What the signers do at the service (not part of the contract)."""
    response = httpx.post(f"{server.url}/_control/ondertekeningen/{signing_id}/status", json=body)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


def webhooks(server: ServerThread) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(f"{server.url}/_control/webhooks").json()
    return found


def plan(server: ServerThread, path: str, *faults: str, method: str = "POST") -> None:
    response = httpx.post(
        f"{server.url}/_faults", json={"method": method, "path": f"{API}{path}", "plan": list(faults)}
    )
    assert response.status_code == 200


def effects(ledger: CallLedger) -> list[tuple[str, str]]:
    return [(operation, key) for _, operation, key, _ in ledger.calls("esign")]


def signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def callback_checks() -> tuple[OAS30Validator, re.Pattern[str]]:
    """The contract's callback statusGewijzigd: the body's schema (Statusmelding) and the X-Signature pattern."""
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    callback = spec["paths"]["/ondertekeningen"]["post"]["callbacks"]["statusGewijzigd"]
    (operation,) = [path["post"] for path in callback.values()]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    (header,) = [p for p in operation["parameters"] if p["name"] == "X-Signature"]
    schema = {**body, "components": spec["components"]}
    return OAS30Validator(schema, format_checker=OAS30Validator.FORMAT_CHECKER), re.compile(header["schema"]["pattern"])


# What a signing goes through --------------------------------------------------------------------------------------


def test_a_lease_is_sent_polled_and_signed(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    with adapter(server, contract, waits) as esign:
        port: ESignature = esign  # the adapter is the port
        signing_id = port.send_for_signing(LEASE, idempotency_key=KEY)
        before = port.signing_status(signing_id)
        control(server, signing_id, {"status": "ondertekend"})
        after = port.signing_status(signing_id)

    assert before["status"] is SigningStatus.SENT and before["signed_at"] is None and before["decline_reason"] is None
    assert after["id"] == signing_id and after["reference"] == "WT-2026-0042"
    assert after["status"] is SigningStatus.SIGNED and after["status"] == "signed" and after["decline_reason"] is None
    assert isinstance(after["signed_at"], datetime) and after["signed_at"] >= after["created_at"]
    # Only the contract's fields reached the service: references and codes, nothing about the person.
    ((_, operation, key, body),) = ledger.calls("esign")
    assert (operation, key) == ("send_for_signing", KEY)
    assert body == {
        "zaakreferentie": "WT-2026-0042",
        "documentreferentie": "DOM-EMM-0815",
        "contractvorm": "regulier",
        "ondertekenaars": [
            {"rol": "huurder", "referentie": "WT-2026-0042:huurder"},
            {"rol": "verhuurder", "referentie": "WT-2026-0042:verhuurder"},
        ],
    }
    assert contract.checked == 3


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"status": "geweigerd", "weigerreden": "Huurprijs wijkt af van het aanbod."}, SigningStatus.DECLINED, True),
        ({"status": "verlopen"}, SigningStatus.EXPIRED, False),
    ],
)
def test_a_declined_or_expired_signing_comes_back_in_our_terms(
    server: ServerThread, contract: Contract, waits: Waits, change: dict[str, str], status: SigningStatus, reason: bool
) -> None:
    with adapter(server, contract, waits) as esign:
        signing_id = esign.send_for_signing(LEASE, idempotency_key=KEY)
        control(server, signing_id, change)
        found = esign.signing_status(signing_id)
    assert found["status"] is status and found["signed_at"] is None
    assert found["decline_reason"] == ("Huurprijs wijkt af van het aanbod." if reason else None)


@pytest.mark.parametrize(
    ("form", "code", "roles"),
    [
        (ContractForm.REGULAR, "regulier", ["huurder", "verhuurder"]),
        (ContractForm.THREE_PARTY, "driepartijen", ["huurder", "verhuurder", "zorgaanbieder"]),
        (ContractForm.INTERMEDIARY, "intermediair", ["huurder", "verhuurder", "intermediair"]),
    ],
)
def test_each_contract_form_has_its_code_and_its_signers(
    server: ServerThread, contract: Contract, waits: Waits, form: ContractForm, code: str, roles: list[str]
) -> None:
    assert contract_form(form.value) == code
    with adapter(server, contract, waits) as esign:
        signing_id = esign.send_for_signing({**LEASE, "contract_form": form.value}, idempotency_key=KEY)
    sent = register_of(server).ondertekeningen[signing_id]
    assert sent["contractvorm"] == code
    assert [s["rol"] for s in sent["ondertekenaars"]] == roles
    assert [s["referentie"] for s in sent["ondertekenaars"]] == [f"WT-2026-0042:{role}" for role in roles]


def test_an_unknown_contract_form_is_our_mistake_and_nothing_is_sent(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    with adapter(server, contract, waits) as esign:
        with pytest.raises(ValueError, match="contractvorm 'huurkoop'"):
            esign.send_for_signing({**LEASE, "contract_form": "huurkoop"}, idempotency_key=KEY)
        with pytest.raises(ValueError, match="dwelling_reference ontbreekt"):
            esign.send_for_signing({k: v for k, v in LEASE.items() if k != "dwelling_reference"}, idempotency_key=KEY)
        assert contract.checked == 0 and effects(ledger) == []  # refused before anything went over the wire
        esign.send_for_signing(LEASE, idempotency_key=KEY)  # corrected, the same key goes through
    assert effects(ledger) == [("send_for_signing", KEY)]


def test_the_fake_refuses_personal_data_as_a_signer_reference(server: ServerThread) -> None:
    body = {
        "zaakreferentie": "WT-2026-0042",
        "documentreferentie": "DOM-EMM-0815",
        "contractvorm": "regulier",
        "ondertekenaars": [
            {"rol": "huurder", "referentie": "jan.jansen@example.org"},
            {"rol": "huurder", "referentie": "Jan Jansen"},
        ],
    }
    headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": KEY}
    response = httpx.post(f"{server.url}{API}/ondertekeningen", json=body, headers=headers)
    assert response.status_code == 400 and response.headers["content-type"] == "application/problem+json"
    assert [p["name"] for p in response.json()["invalidParams"]] == [
        "ondertekenaars[0].referentie",
        "ondertekenaars[1].referentie",
        "ondertekenaars[1].rol",  # and a role signs once
    ]


# Webhooks ---------------------------------------------------------------------------------------------------------


def test_the_service_tells_our_webhook_and_the_signature_proves_it(
    server: ServerThread, contract: Contract, waits: Waits, receiver: Receiver
) -> None:
    url = receiver.url
    with adapter(server, contract, waits, webhook_url=url) as esign:
        signing_id = esign.send_for_signing(THREE_PARTY, idempotency_key=KEY)
        receiver.gate.clear()  # the receiver holds the delivery: the status change must not wait for it
        started = time.monotonic()
        changed = control(server, signing_id, {"status": "ondertekend"})
        assert time.monotonic() - started < 1 and changed["status"] == "ondertekend"
        receiver.gate.set()
        body, header = receiver.next()
        event = esign.webhook_event(body, header)

    assert register_of(server).ondertekeningen[signing_id]["webhookUrl"] == url
    assert event["id"] == signing_id and event["reference"] == "WT-2026-0042"
    assert event["status"] is SigningStatus.SIGNED and isinstance(event["signed_at"], datetime)
    assert verify_webhook(body, header, SECRET) == event
    # What arrived is what the contract's callback says.
    schema, pattern = callback_checks()
    schema.validate(json.loads(body))
    assert header is not None and pattern.fullmatch(header)
    # Anything not signed with our secret over exactly this body is refused, before the body is believed.
    tampered = body.replace(b'"ondertekend"', b'"geweigerd"')
    assert tampered != body
    with pytest.raises(ValueError, match="X-Signature klopt niet"):
        verify_webhook(tampered, header, SECRET)
    with pytest.raises(ValueError, match="X-Signature klopt niet"):
        verify_webhook(body, header, "een-ander-geheim")
    with pytest.raises(ValueError, match="X-Signature klopt niet"):
        verify_webhook(body, signed(body, "een-ander-geheim"), SECRET)
    with pytest.raises(ValueError, match="geen X-Signature"):
        verify_webhook(body, None, SECRET)
    with pytest.raises(ValueError, match="geen sha256="):
        verify_webhook(body, "md5=abc", SECRET)
    # A body signed rightly but not a status notice is refused too, clearly.
    with pytest.raises(ValueError, match="geen JSON"):
        verify_webhook(b"<html>", signed(b"<html>"), SECRET)
    partial = json.dumps({"id": signing_id, "status": "ondertekend"}).encode()
    with pytest.raises(ValueError, match="antwoord mist zaakreferentie, ondertekendOp, weigerreden"):
        verify_webhook(partial, signed(partial), SECRET)
    unknown = json.dumps({**json.loads(body), "status": "misschien"}).encode()
    with pytest.raises(ValueError, match="status 'misschien'"):
        verify_webhook(unknown, signed(unknown), SECRET)
    assert receiver.received.empty()  # one change, one delivery


def test_a_failed_webhook_delivery_is_tried_again(
    server: ServerThread, contract: Contract, waits: Waits, receiver: Receiver
) -> None:
    receiver.answers = [500, 503]
    with adapter(server, contract, waits, webhook_url=receiver.url) as esign:
        signing_id = esign.send_for_signing(LEASE, idempotency_key=KEY)
        control(server, signing_id, {"status": "geweigerd", "weigerreden": "Huurder ziet af van de woning."})
        deliveries = [receiver.next() for _ in range(3)]
    assert len({body for body, _ in deliveries}) == 1  # the same notice each time
    events = [verify_webhook(body, header, SECRET) for body, header in deliveries]
    assert events[0]["status"] is SigningStatus.DECLINED
    assert events[0]["decline_reason"] == "Huurder ziet af van de woning."
    deadline = time.monotonic() + 10
    while not (log := webhooks(server))[0]["afgeleverd"]:
        assert time.monotonic() < deadline, log
        time.sleep(0.02)
    assert [(w["pogingen"], w["afgeleverd"]) for w in log] == [(3, True)]
    # The same change again is no change: no second notice. Another change is refused.
    control(server, signing_id, {"status": "geweigerd", "weigerreden": "Huurder ziet af van de woning."})
    conflict = control(server, signing_id, {"status": "ondertekend"}, 409)
    assert conflict["title"] == "Al afgerond"
    assert len(webhooks(server)) == 1 and receiver.received.empty()


def test_without_a_webhook_url_nobody_is_told(
    server: ServerThread, contract: Contract, waits: Waits, receiver: Receiver
) -> None:
    with adapter(server, contract, waits) as esign:
        signing_id = esign.send_for_signing(LEASE, idempotency_key=KEY)
        control(server, signing_id, {"status": "verlopen"})
        assert esign.signing_status(signing_id)["status"] is SigningStatus.EXPIRED
    assert "webhookUrl" not in register_of(server).ondertekeningen[signing_id]
    assert webhooks(server) == [] and receiver.received.empty()


def test_the_fake_keeps_to_its_own_status_rules(server: ServerThread, contract: Contract, waits: Waits) -> None:
    with adapter(server, contract, waits) as esign:
        signing_id = esign.send_for_signing(LEASE, idempotency_key=KEY)
    missing = control(server, signing_id, {"status": "geweigerd"}, 400)
    assert [p["name"] for p in missing["invalidParams"]] == ["weigerreden"]
    extra = control(server, signing_id, {"status": "ondertekend", "weigerreden": "Waarom niet."}, 400)
    assert [p["name"] for p in extra["invalidParams"]] == ["weigerreden"]
    back = control(server, signing_id, {"status": "verzonden"}, 400)
    assert [p["name"] for p in back["invalidParams"]] == ["status"]
    control(server, "6f1c1c52-5d8e-4a38-9b3e-3f7c2a0d9e11", {"status": "ondertekend"}, 404)


# Idempotency and the real world -----------------------------------------------------------------------------------


def test_the_same_key_twice_is_one_effect_and_the_same_id(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    seen: list[httpx.Response] = []
    with adapter(server, contract, waits, seen=seen) as esign:
        first = esign.send_for_signing(LEASE, idempotency_key=KEY)
        again = esign.send_for_signing(LEASE, idempotency_key=KEY)
        with pytest.raises(CounterpartRefused, match="422.*Idempotency-Key"):
            esign.send_for_signing(THREE_PARTY, idempotency_key=KEY)
    assert again == first
    assert [(r.status_code, r.headers.get("Idempotent-Replayed")) for r in seen] == [
        (201, None),
        (201, "true"),
        (422, None),
    ]
    assert effects(ledger) == [("send_for_signing", KEY)]
    assert len(register_of(server).ondertekeningen) == 1 and register_of(server).replays == 1


def test_two_503s_then_success_is_one_signing(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    plan(server, "/ondertekeningen", "503", "503")
    with adapter(server, contract, waits) as esign:
        for _ in range(2):  # what the retrying task sees
            with pytest.raises(TransientFailure, match="503"):
                esign.send_for_signing(LEASE, idempotency_key=KEY)
        assert effects(ledger) == []
        signing_id = esign.send_for_signing(LEASE, idempotency_key=KEY)
    assert effects(ledger) == [("send_for_signing", KEY)]
    assert list(register_of(server).ondertekeningen) == [signing_id]
    assert contract.checked == 3


def test_a_bad_reference_is_refused_naming_the_field_and_has_no_effect(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    with adapter(server, contract, waits) as esign:
        with pytest.raises(
            CounterpartRefused, match=r"\(400\).*zaakreferentie: Een zaakreferentie van Weer Thuis"
        ) as e:
            esign.send_for_signing({**LEASE, "reference": "WT-42"}, idempotency_key=KEY)
        assert not isinstance(e.value, TransientFailure)
        # Corrected, the same key goes through: a refused request was no effect to remember.
        esign.send_for_signing(LEASE, idempotency_key=KEY)
    assert effects(ledger) == [("send_for_signing", KEY)]
    (found,) = take_problems(contract)  # the contract spotted the bad request too
    assert found.startswith("request POST /api/v1/ondertekeningen") and "zaakreferentie" in found


def test_a_wrong_token_is_refused_not_retried(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    with adapter(server, contract, waits, token="een-verkeerd-token") as esign:
        with pytest.raises(
            CounterpartRefused, match=r"e-ondertekening: POST ondertekeningen geweigerd \(401\).*Bearer-token"
        ) as e:
            esign.send_for_signing(LEASE, idempotency_key=KEY)
        assert not isinstance(e.value, TransientFailure)
        with pytest.raises(CounterpartRefused, match=r"\(401\)"):
            esign.signing_status("6f1c1c52-5d8e-4a38-9b3e-3f7c2a0d9e11")
    assert effects(ledger) == [] and waits.seconds == []


def test_an_unknown_signing_is_a_404(server: ServerThread, contract: Contract, waits: Waits) -> None:
    with adapter(server, contract, waits) as esign, pytest.raises(CounterpartRefused, match=r"\(404\): Niet gevonden"):
        esign.signing_status("6f1c1c52-5d8e-4a38-9b3e-3f7c2a0d9e11")


def test_a_429_is_waited_out_as_retry_after_says(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    plan(server, "/ondertekeningen", "429:1")
    with adapter(server, contract, waits) as esign:
        esign.send_for_signing(LEASE, idempotency_key=KEY)
    assert waits.seconds == [1.0]
    assert effects(ledger) == [("send_for_signing", KEY)]
    assert contract.checked == 2  # the 429 and the answer after it


def test_a_timeout_is_retried_and_the_late_effect_is_not_doubled(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    plan(server, "/ondertekeningen", "timeout:2")
    register = register_of(server)
    with adapter(server, contract, waits, timeout=0.5) as esign:
        with pytest.raises(TransientFailure, match="time-out"):
            esign.send_for_signing(LEASE, idempotency_key=KEY)
        deadline = time.monotonic() + 10
        while not effects(ledger):  # the service still carries out the request it answered too late
            assert time.monotonic() < deadline, "the late request was never carried out"
            time.sleep(0.05)
        (late,) = register.ondertekeningen
        signing_id = esign.send_for_signing(LEASE, idempotency_key=KEY)  # the task's retry
        assert esign.signing_status(signing_id)["reference"] == "WT-2026-0042"
    assert signing_id == late and register.replays == 1
    assert effects(ledger) == [("send_for_signing", KEY)]


def test_a_malformed_answer_is_a_clear_error(
    server: ServerThread, contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    plan(server, "/ondertekeningen", "malformed")
    unreadable = r"e-ondertekening: POST ondertekeningen: onleesbaar antwoord \(200, application/json\)"
    with adapter(server, contract, waits) as esign, pytest.raises(MalformedResponse, match=unreadable):
        esign.send_for_signing(LEASE, idempotency_key=KEY)
    assert effects(ledger) == []
    (found,) = take_problems(contract)  # the contract spotted the broken body too
    assert found.startswith("response 200 to POST /api/v1/ondertekeningen")


def test_a_status_outside_the_contract_is_a_clear_error(waits: Waits) -> None:
    """JSON, but not what the contract promises: the adapter names the field (the contract agrees)."""
    signing_id = "6f1c1c52-5d8e-4a38-9b3e-3f7c2a0d9e11"
    base = "http://127.0.0.1:9/api/v1"
    answer = {
        "id": signing_id,
        "zaakreferentie": "WT-2026-0042",
        "documentreferentie": "DOM-EMM-0815",
        "contractvorm": "regulier",
        "ondertekenaars": [{"rol": "huurder", "referentie": "WT-2026-0042:huurder"}],
        "status": "ondertekend",
        "ondertekendOp": None,
        "weigerreden": None,
        "aangemaaktOp": "2026-03-02T09:30:00+00:00",
    }
    checked = Contract(SPEC, server_url=base, only_status=range(100, 600))
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    block = ESignApi(base_url=base, token=SecretStr(TOKEN), webhook_secret=SecretStr(SECRET))
    with HttpESignature.from_block(block, transport=transport, event_hooks=checked.hooks(), sleep=waits) as esign:
        with pytest.raises(MalformedResponse, match=rf"GET ondertekeningen/{signing_id}: ondertekend zonder"):
            esign.signing_status(signing_id)
        answer["status"] = "misschien"
        with pytest.raises(MalformedResponse, match="status 'misschien' is geen van verzonden, ondertekend"):
            esign.signing_status(signing_id)
    assert checked.checked == 2
    assert len(checked.problems) == 1 and "misschien" in checked.problems[0]  # signed-without-date is no schema error
