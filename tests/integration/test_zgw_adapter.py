"""The zaaksysteem adapter against a fake ZGW Zaken API on loopback; every exchange checked against the official
OpenAPI file of the standard (tests/specs/zgw-zaken-api-1.5.1.yaml, unedited)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import jwt
import pytest
from pydantic import SecretStr

from config.regions import Region
from integrations.counterparts.server import ServerThread
from integrations.counterparts.zgw import API, zgw_app
from integrations.fakes import CallLedger
from integrations.http import MalformedResponse
from integrations.ports import CounterpartRefused, TransientFailure
from integrations.zgw import ZgwCaseSystem, ZgwZakenApi, zgw_token
from tests.contract import SPECS, Contract
from tests.integration.conftest import Waits
from weerthuis.devstack import free_port

SECRET = "een-lang-gedeeld-geheim-voor-de-test"


@pytest.fixture
def server(ledger: CallLedger, regions: dict[str, Region]) -> Iterator[ServerThread]:
    known = {r.zaaksysteem.zaaktype for r in regions.values() if r.zaaksysteem}
    with ServerThread(zgw_app(ledger, {"weerthuis": SECRET}, zaaktypen=known), free_port()) as running:
        yield running


@pytest.fixture
def contract(server: ServerThread) -> Iterator[Contract]:
    checked = Contract(SPECS / "zgw-zaken-api-1.5.1.yaml", server_url=f"{server.url}{API}")
    yield checked
    assert checked.problems == [], "\n".join(checked.problems)


def adapter(
    server: ServerThread,
    regions: dict[str, Region],
    contract: Contract,
    waits: Waits,
    *,
    secret: str = SECRET,
    timeout: float = 5,
) -> ZgwCaseSystem:
    block = ZgwZakenApi(
        base_url=f"{server.url}{API}", client_id="weerthuis", secret=SecretStr(secret), timeout_seconds=timeout
    )
    systems = {code: r.zaaksysteem for code, r in regions.items() if r.zaaksysteem}
    return ZgwCaseSystem.from_block(
        block, systems, event_hooks=contract.hooks(), sleep=waits, today=lambda: date(2026, 3, 2)
    )


def plan(server: ServerThread, path: str, *faults: str, method: str = "POST") -> None:
    httpx.post(f"{server.url}/_faults", json={"method": method, "path": f"{API}{path}", "plan": list(faults)})


def effects(ledger: CallLedger, operation: str | None = None) -> list[str]:
    return [op for _, op, _, _ in ledger.calls("municipality") if operation in (None, op)]


CASE = {"reference": "WT-2026-0042", "region": "emmen", "institution_type": "MO", "case_manager": "EMM-TB-01"}


def test_a_case_becomes_a_zaak_with_a_status_per_stage_a_role_and_a_result(
    server: ServerThread, regions: dict[str, Region], contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    emmen = regions["emmen"].zaaksysteem
    assert emmen is not None
    with adapter(server, regions, contract, waits).api as _:
        zgw = adapter(server, regions, contract, waits)
        zaak_url = zgw.register_case(CASE, idempotency_key="WT-2026-0042:registered:1:register_case")
        for stage in ("readiness", "nomination", "offer", "tenancy", "support", "follow_up", "closed"):
            zgw.set_status(
                {"reference": "WT-2026-0042", "region": "emmen", "stage": stage},
                idempotency_key=f"WT-2026-0042:{stage}:1:set_status",
            )
        zaak = zgw.zaak("WT-2026-0042", "emmen")
        zgw.close()
    register = server.server.config.app.state.register
    assert zaak is not None and zaak["url"] == zaak_url
    assert zaak["zaaktype"] == emmen.zaaktype and zaak["bronorganisatie"] == "002564440"
    assert zaak["einddatum"] is not None and zaak["resultaat"] is not None
    statustypes = [s["statustype"] for s in sorted(register.statussen.values(), key=lambda s: s["datumStatusGezet"])]
    assert set(statustypes) == {
        emmen.statustypen[s]
        for s in emmen.statustypen
        if s in ("readiness", "nomination", "offer", "tenancy", "support", "follow_up", "closed")
    }
    (rol,) = register.rollen.values()
    assert rol["betrokkeneType"] == "medewerker" and rol["betrokkeneIdentificatie"] == {"identificatie": "EMM-TB-01"}
    (resultaat,) = register.resultaten.values()
    assert resultaat["resultaattype"] == emmen.resultaattypen["closed"]
    assert sorted(effects(ledger)) == sorted(["register_case", "add_role", "record_result", *["set_status"] * 7])
    assert contract.checked >= 20


def test_every_call_carries_a_zgw_jwt_signed_with_the_client_secret() -> None:
    token = zgw_token("weerthuis", SECRET, user_id="weerthuis", user_representation="Weer Thuis", now=1_790_000_000)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims == {
        "iss": "weerthuis",
        "iat": 1_790_000_000,
        "client_id": "weerthuis",
        "user_id": "weerthuis",
        "user_representation": "Weer Thuis",
    }
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_a_wrong_secret_is_refused_not_retried(
    server: ServerThread, regions: dict[str, Region], contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    contract.only_status = range(0)  # the standard's 403 body is checked by hand here
    zgw = adapter(server, regions, contract, waits, secret="een-ander-geheim-van-voldoende-lengte-xx")
    with pytest.raises(CounterpartRefused, match="403"):
        zgw.register_case(CASE, idempotency_key="k1")
    zgw.close()
    assert effects(ledger) == []


def test_two_503s_then_success_make_one_zaak(
    server: ServerThread, regions: dict[str, Region], contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    plan(server, "/zaken", "503", "503")
    zgw = adapter(server, regions, contract, waits)
    for _ in range(2):  # what the retrying task sees
        with pytest.raises(TransientFailure, match="503"):
            zgw.register_case(CASE, idempotency_key="WT-2026-0042:registered:1:register_case")
    zgw.register_case(CASE, idempotency_key="WT-2026-0042:registered:1:register_case")
    zgw.register_case(CASE, idempotency_key="WT-2026-0042:registered:1:register_case")  # a replay: nothing new
    zgw.close()
    assert effects(ledger, "register_case") == ["register_case"]


def test_a_timeout_is_retried_and_the_late_effect_is_not_doubled(
    server: ServerThread, regions: dict[str, Region], contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    plan(server, "/zaken", "timeout:1.5")
    zgw = adapter(server, regions, contract, waits, timeout=0.5)
    with pytest.raises(TransientFailure, match="time-out"):
        zgw.register_case(CASE, idempotency_key="WT-2026-0042:registered:1:register_case")
    import time

    time.sleep(1.5)  # the zaaksysteem carries out the request it answered too late
    assert effects(ledger, "register_case") == ["register_case"]
    zgw.register_case(CASE, idempotency_key="WT-2026-0042:registered:1:register_case")
    zgw.close()
    assert effects(ledger, "register_case") == ["register_case"]


def test_a_429_is_waited_out_as_retry_after_says(
    server: ServerThread, regions: dict[str, Region], contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    plan(server, "/zaken", "429:2", method="GET")
    zgw = adapter(server, regions, contract, waits)
    zgw.register_case(CASE, idempotency_key="k")
    zgw.close()
    assert waits.seconds == [2.0]
    assert effects(ledger, "register_case") == ["register_case"]


def test_a_malformed_answer_is_a_clear_error(
    server: ServerThread, regions: dict[str, Region], contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    contract.only_status = range(0)  # the malformed body is the point
    plan(server, "/zaken", "malformed", method="GET")
    zgw = adapter(server, regions, contract, waits)
    with pytest.raises(MalformedResponse, match=r"zaaksysteem: GET zaken: onleesbaar antwoord \(200"):
        zgw.register_case(CASE, idempotency_key="k")
    zgw.close()
    assert effects(ledger) == []


def test_a_400_names_the_field_and_a_retry_after_fixing_the_data_succeeds(
    server: ServerThread, regions: dict[str, Region], contract: Contract, waits: Waits, ledger: CallLedger
) -> None:
    emmen = regions["emmen"].zaaksysteem
    assert emmen is not None
    wrong = emmen.model_copy(update={"zaaktype": emmen.zaaktype.replace("zaaktypen/", "zaaktypen/0")})
    zgw = adapter(server, regions, contract, waits)
    zgw.systems = {"emmen": wrong}
    with pytest.raises(CounterpartRefused, match="zaaktype: Het zaaktype is niet bekend in de Catalogi API"):
        zgw.register_case(CASE, idempotency_key="k")
    assert effects(ledger) == []
    zgw.systems = {"emmen": emmen}  # the region's configuration corrected
    zgw.register_case(CASE, idempotency_key="k")
    zgw.close()
    assert effects(ledger, "register_case") == ["register_case"]
