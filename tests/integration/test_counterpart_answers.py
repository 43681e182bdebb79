"""Reading a counterpart's answer for the step a case waits on (weerthuis.answers), against the fakes on loopback:
the answer fits the very form the run waits on, nothing is taken twice, and nothing personal reaches Prefect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from config.settings import Settings
from flows import forms
from integrations.corporation import CorporationApi, Corporations
from integrations.counterparts.corporation import corporation_app
from integrations.counterparts.esign import esign_app
from integrations.counterparts.server import ServerThread
from integrations.esign import ESignApi, RegionalESignatures
from integrations.fakes import CallLedger, FakeCareProvider, FakeMunicipalCaseSystem
from tests.integration.helpers import offer, to_nomination
from weerthuis.answers import counterpart_answer
from weerthuis.bootstrap import App
from weerthuis.devstack import free_port
from weerthuis.domain.procedure import Step
from weerthuis.domain.vocabulary import ContractForm, NominationAnswer, OfferAnswer, RefusalReason
from weerthuis.outbox import Outbox
from weerthuis.service.casework import Casework

KEY = "een-lange-api-sleutel-voor-de-test"


@pytest.fixture
def servers(ledger: CallLedger) -> Iterator[dict[str, str]]:
    with (
        ServerThread(corporation_app(ledger, KEY), free_port()) as corporation,
        ServerThread(esign_app(ledger, KEY, KEY, webhook_backoff=0.05), free_port()) as esign,
    ):
        yield {"corporation": corporation.url, "esign": esign.url}


@pytest.fixture
def application(casework: Casework, ledger: CallLedger, servers: dict[str, str], tmp_path: Path) -> Iterator[App]:
    corporations = Corporations(
        {"domesta": "corporatie-domesta"},
        load_block=lambda _: CorporationApi(base_url=f"{servers['corporation']}/api/v1", api_key=SecretStr(KEY)),
    )
    esign = RegionalESignatures(
        {"emmen": "e-ondertekening-emmen"},
        load_block=lambda _: ESignApi(
            base_url=f"{servers['esign']}/api/v1", token=SecretStr(KEY), webhook_secret=SecretStr(KEY)
        ),
    )
    yield App(
        settings=Settings(data_dir=tmp_path),
        regions=casework.regions,
        casework=casework,
        outbox=Outbox(casework._sessions, casework.now),
        corporation=corporations,
        municipality=FakeMunicipalCaseSystem(ledger),
        care_provider=FakeCareProvider(ledger),
        esign=esign,
    )
    corporations.close()
    esign.close()


def deliver(application: App, reference: str, operation: str) -> str:
    """What the action task does: perform the owed action, keep the counterpart's receipt."""
    casework = application.casework
    (key,) = [k for k in casework.pending_actions(reference) if k.endswith(f":{operation}")]
    _system, _operation, payload = casework.action(key)
    port: Any = application.corporation if operation == "submit_nomination" else application.esign
    receipt = getattr(port, operation)(payload, idempotency_key=key)
    casework.action_done(key, receipt)
    return str(receipt)


def control(base: str, path: str, body: dict[str, Any]) -> None:
    httpx.post(f"{base}/_control/{path}", json=body, timeout=5).raise_for_status()


def answer_fits_the_form(application: App, reference: str, step: Step, form: Any) -> dict[str, Any]:
    case = application.casework.view(reference)
    assert case.waiting_for is step
    answer = counterpart_answer(application, case)
    assert answer is not None
    form(application.casework.deciders(case, step)).model_validate(answer)  # what the server checks on resume
    return answer


def test_a_declined_nomination_is_read_as_the_consultant_would_answer_it(
    application: App, servers: dict[str, str]
) -> None:
    casework = application.casework
    reference = to_nomination(casework)
    casework.propose_nomination(reference, 1, "domesta", "EMM-TP-01")
    nomination_id = deliver(application, reference, "submit_nomination")
    assert counterpart_answer(application, casework.view(reference)) is None  # received, not yet answered
    answer = {"status": "afgewezen", "afwijzingsreden": "eerdere-huurachterstand"}
    control(servers["corporation"], f"voordrachten/{nomination_id}/antwoord", answer)
    given = answer_fits_the_form(application, reference, Step.NOMINATION_RESPONSE, forms.nomination_response_form)
    assert given == {
        "answer": NominationAnswer.DECLINED.value,
        "decline_reason": "eerdere huurschuld of overlast",
        "decided_by": "api:domesta",
    }


def test_an_offer_is_taken_once_and_the_next_one_after_a_refusal(application: App, servers: dict[str, str]) -> None:
    casework = application.casework
    reference = to_nomination(casework)
    casework.propose_nomination(reference, 1, "domesta", "EMM-TP-01")
    nomination_id = deliver(application, reference, "submit_nomination")
    control(servers["corporation"], f"voordrachten/{nomination_id}/antwoord", {"status": "geaccepteerd"})
    casework.answer_nomination(reference, 1, NominationAnswer.ACCEPTED, "api:domesta")
    assert counterpart_answer(application, casework.view(reference)) is None  # no dwelling offered yet
    dwelling = {"verhuureenheid": "VHE-1", "wijk": "angelslo", "kaleHuurprijs": 612.4}
    control(
        servers["corporation"],
        f"voordrachten/{nomination_id}/aanbiedingen",
        {**dwelling, "bezichtiging": "2026-03-05T23:30:00+00:00"},
    )
    given = answer_fits_the_form(application, reference, Step.OFFER, lambda d: forms.offer_form(["angelslo"], d))
    # The viewing is on the Dutch calendar day (00:30 on 6 March in Amsterdam).
    assert given["viewing_on"] == "2026-03-06" and given["rent"] == 612.4 and given["dwelling_reference"] == "VHE-1"
    offer(casework, reference, 1, by="api:domesta")  # the run took it: VHE-1 is now the case's offer
    casework.answer_offer(reference, 1, OfferAnswer.REFUSED, "EMM-TB-01", RefusalReason.SIZE_OR_LAYOUT)
    assert casework.view(reference).waiting_for is Step.OFFER
    assert counterpart_answer(application, casework.view(reference)) is None  # VHE-1 is not offered twice
    control(
        servers["corporation"],
        f"voordrachten/{nomination_id}/aanbiedingen",
        {**dwelling, "verhuureenheid": "VHE-7", "bezichtiging": "2026-03-09T10:00:00+01:00"},
    )
    given = answer_fits_the_form(application, reference, Step.OFFER, lambda d: forms.offer_form(["angelslo"], d))
    assert given["dwelling_reference"] == "VHE-7"


def test_a_declined_signing_is_read_with_its_reason(application: App, servers: dict[str, str]) -> None:
    casework = application.casework
    reference = to_nomination(casework)
    casework.propose_nomination(reference, 1, "domesta", "EMM-TP-01")
    casework.answer_nomination(reference, 1, NominationAnswer.ACCEPTED, "EMM-DOM-01")
    offer(casework, reference, 1)
    casework.answer_offer(reference, 1, OfferAnswer.ACCEPTED, "EMM-TB-01")
    casework.draw_up_lease(reference, 1, contract_form=ContractForm.REGULAR, temporary=False, decided_by="EMM-DOM-01")
    signing_id = deliver(application, reference, "send_for_signing")
    assert counterpart_answer(application, casework.view(reference)) is None  # sent, nobody signed yet
    declined = {"status": "geweigerd", "weigerreden": "Huurprijs klopt niet."}
    control(servers["esign"], f"ondertekeningen/{signing_id}/status", declined)
    given = answer_fits_the_form(application, reference, Step.SIGNING, forms.signing_form)
    assert given["result"] == "geweigerd" and given["decided_by"] == "api:e-ondertekening"
    # The service's free text stays there: only the result reaches the run.
    assert given == {"result": "geweigerd", "signed_on": None, "decided_by": "api:e-ondertekening"}
