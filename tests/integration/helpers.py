"""Registering and advancing cases through the commands, for tests that start mid-procedure."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from weerthuis.casedb.models import Client
from weerthuis.domain.vocabulary import (
    ContractForm,
    InstitutionType,
    NominationAnswer,
    OfferAnswer,
    ReadinessVerdict,
    ReviewOutcome,
    SigningResult,
    WmoDecision,
)
from weerthuis.domain.zrm import ZrmAssessment, ZrmDomain
from weerthuis.service.casework import Casework


def register(
    casework: Casework,
    region: str = "emmen",
    institution: InstitutionType = InstitutionType.SOCIAL_SHELTER,
    name: str = "Test Cliënt",
) -> str:
    provider, by = ("leger-des-heils", "EMM-TB-01") if region == "emmen" else ("zienn", "FRL-TB-01")
    return casework.register(
        region=region,
        institution_type=institution,
        care_provider=provider,
        origin_municipality="Emmen",
        registration_reason="dakloos",
        region_tie=True,
        household_size=1,
        housing_wishes="",
        registered_by=by,
        client=Client(full_name=name),
    )


def zrm(on: date, assessor: str = "EMM-TB-01", score: int = 4) -> ZrmAssessment:
    return ZrmAssessment(on, assessor, {d: score for d in ZrmDomain}, True, True, True)


def to_nomination(casework: Casework, region: str = "emmen") -> str:
    ref = register(casework, region)
    casework.start_assessment(ref)
    assessor, coordinator = ("EMM-TB-01", "EMM-TP-01") if region == "emmen" else ("FRL-TB-01", "FRL-TP-01")
    casework.record_assessment(ref, 1, zrm(casework.today(), assessor))
    casework.decide_readiness(ref, 1, ReadinessVerdict.READY, coordinator)
    return ref


def to_offer(casework: Casework, corporation: str = "domesta", consultant: str = "EMM-DOM-01") -> str:
    ref = to_nomination(casework)
    casework.propose_nomination(ref, 1, corporation, "EMM-TP-01")
    casework.answer_nomination(ref, 1, NominationAnswer.ACCEPTED, consultant)
    return ref


def offer(casework: Casework, ref: str, attempt: int, neighbourhood: str = "angelslo", by: str = "EMM-DOM-01") -> None:
    casework.make_offer(
        ref,
        attempt,
        dwelling_reference=f"VHE-{attempt}",
        neighbourhood=neighbourhood,
        rent=Decimal("612.40"),
        viewing_on=casework.today() + timedelta(days=3),
        decided_by=by,
    )


def sign_lease(
    casework: Casework,
    ref: str,
    attempt: int = 1,
    by: str = "EMM-DOM-01",
    form: ContractForm = ContractForm.THREE_PARTY,
) -> None:
    """The consultant draws up a lease (three-party and temporary unless said otherwise); it is signed today."""
    temporary = form is not ContractForm.REGULAR
    casework.draw_up_lease(ref, attempt, contract_form=form, temporary=temporary, decided_by=by)
    casework.record_signing(ref, attempt, result=SigningResult.SIGNED, signed_on=casework.today(), decided_by=by)


def to_follow_up(casework: Casework, form: ContractForm = ContractForm.THREE_PARTY) -> str:
    ref = to_offer(casework)
    offer(casework, ref, 1)
    casework.answer_offer(ref, 1, OfferAnswer.ACCEPTED, "EMM-TB-01")
    sign_lease(casework, ref, form=form)
    casework.arrange_support(
        ref,
        1,
        wmo_decision=WmoDecision.GRANTED,
        provider="leger-des-heils",
        starts_on=casework.today(),
        plan_agreed=True,
        decided_by="EMM-TB-01",
    )
    return ref


def review(casework: Casework, ref: str, number: int, outcome: ReviewOutcome) -> None:
    casework.hold_review(
        ref,
        1,
        number,
        held_on=casework.today(),
        living_situation="gaat goed",
        rent_arrears=False,
        nuisance=False,
        support_reached=True,
        outcome=outcome,
        decided_by="EMM-TB-01",
    )
