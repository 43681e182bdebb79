"""What a connected counterpart's system answered for the step a case waits on, as the answer to that step's form.

Four steps can be answered by another system instead of a person: the corporation answers a nomination and
offers a dwelling, the e-signature service reports the signed (or declined) lease, and the care provider confirms
the start of support once the municipality's Wmo decision is granted. Each reader asks the counterpart under the
receipt of the action that started it (the nomination's id, the signing's id, the support request's id) and
gives the form's answer, decided by "api:<code>", or None while there is nothing to take yet.

Only codes, dates and amounts reach the answer: it becomes the run's input in Prefect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from weerthuis.bootstrap import App
from weerthuis.domain.calendar import AMSTERDAM
from weerthuis.domain.procedure import Step
from weerthuis.domain.rules import CaseParties, counterpart_decider
from weerthuis.domain.stages import Stage
from weerthuis.domain.vocabulary import NominationAnswer, SigningResult, WmoDecision
from weerthuis.service.base import connected
from weerthuis.service.views import CaseView

Answer = dict[str, Any]


def _nomination_answer(application: App, case: CaseView, decided_by: str) -> Answer | None:
    nomination_id = application.casework.receipt(case.reference, "submit_nomination", (Stage.NOMINATION, case.attempt))
    if nomination_id is None or case.corporation is None:
        return None
    found = application.corporation.nomination(case.corporation, nomination_id)
    if found["answer"] is None:
        return None
    answer: Answer = {"answer": found["answer"].value, "decided_by": decided_by}
    if found["answer"] is NominationAnswer.DECLINED:
        answer["decline_reason"] = found["decline_reason"].value
    return answer


def _offer(application: App, case: CaseView, decided_by: str) -> Answer | None:
    nomination_id = application.casework.receipt(case.reference, "submit_nomination")  # the accepted one
    if nomination_id is None or case.corporation is None:
        return None
    taken = application.casework.offered_dwellings(case.reference)
    offers = application.corporation.offers(case.corporation, nomination_id)
    fresh = [offer for offer in offers if offer["dwelling_reference"] not in taken]
    if not fresh:
        return None
    offer = fresh[0]
    return {
        "dwelling_reference": offer["dwelling_reference"],
        "neighbourhood": offer["neighbourhood"],
        "rent": float(offer["rent"]),
        "viewing_on": offer["viewing_at"].astimezone(AMSTERDAM).date().isoformat(),
        "decided_by": decided_by,
    }


def _signing(application: App, case: CaseView, decided_by: str) -> Answer | None:
    signing_id = application.casework.receipt(case.reference, "send_for_signing", (Stage.TENANCY, case.attempt))
    if signing_id is None:
        return None
    found = application.esign.signing_status(case.region, signing_id)
    status = str(found["status"])
    if status == "sent":
        return None
    if status == "signed":
        signed_on = found["signed_at"].astimezone(AMSTERDAM).date().isoformat()
        return {"result": SigningResult.SIGNED.value, "signed_on": signed_on, "decided_by": decided_by}
    # Declined or expired: the service's own words stay there (free text never goes into Prefect).
    result = SigningResult.DECLINED if status == "declined" else SigningResult.EXPIRED
    return {"result": result.value, "signed_on": None, "decided_by": decided_by}


def _support(application: App, case: CaseView, decided_by: str) -> Answer | None:
    request_id = application.casework.receipt(case.reference, "request_support")
    if request_id is None:
        return None
    provider = case.care_provider
    found = application.care_provider.support_request(provider, request_id)
    if not found["confirmed"]:
        return None  # not answered yet, or refused: then the case manager arranges it by the form
    wmo = application.care_provider.wmo_decision(provider, case.reference)
    if wmo is None or wmo["decision"] is not WmoDecision.GRANTED:
        return None  # support at home starts on a granted Wmo decision; otherwise a person decides
    return {
        "wmo_decision": WmoDecision.GRANTED.value,
        "provider": provider,
        "starts_on": found["confirmed_start"].isoformat(),
        # The provider confirms a start only with a personal plan agreed with the client (care-api.yaml).
        "plan_agreed": "ja",
        "decided_by": decided_by,
    }


READERS: dict[Step, Callable[[App, CaseView, str], Answer | None]] = {
    Step.NOMINATION_RESPONSE: _nomination_answer,
    Step.OFFER: _offer,
    Step.SIGNING: _signing,
    Step.SUPPORT: _support,
}


def counterpart_answer(application: App, case: CaseView) -> Answer | None:
    """The answer a connected system gave for the step the case waits on; None if none is connected or it has
    not answered yet. Reading is safe to repeat: nothing changes until the answer is given to the run."""
    step = case.waiting_for
    read = READERS.get(step) if step else None
    if read is None or step is None:
        return None
    parties = CaseParties(case.corporation, case.care_provider)
    decided_by = counterpart_decider(step, parties, connected(application.regions[case.region]))
    return None if decided_by is None else read(application, case, decided_by)
