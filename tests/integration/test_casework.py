"""The case commands on a real database (SQLite and PostgreSQL): the procedure, its side paths, replays."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.conftest import Clock
from tests.integration.helpers import offer, register, review, to_follow_up, to_nomination, to_offer, zrm
from weerthuis.casedb.models import Action, CaseMilestones, Nomination, Transition
from weerthuis.casedb.quota import ContingentExhausted, NeighbourhoodFull
from weerthuis.domain.milestones import first_days
from weerthuis.domain.procedure import Step
from weerthuis.domain.stages import Stage
from weerthuis.domain.vocabulary import (
    ContractForm,
    DeclineReason,
    NominationAnswer,
    OfferAnswer,
    ReadinessVerdict,
    RefusalReason,
    ReviewOutcome,
    SigningResult,
)
from weerthuis.service.casework import Casework
from weerthuis.service.errors import InvalidAnswer, StaleAnswer, UnknownDecider


def owed(casework: Casework, ref: str) -> list[str]:
    with casework._uow() as uow:
        return [
            a.key.split(":", 1)[1]
            for a in uow.session.execute(select(Action).order_by(Action.id)).scalars()
            if a.key.startswith(ref)
        ]


def test_a_case_runs_from_registration_to_its_first_review(any_casework: Casework) -> None:
    casework = any_casework
    ref = to_follow_up(casework)
    case = casework.view(ref)
    assert (case.stage, case.waiting_for, case.waiting_on) == (Stage.FOLLOW_UP, Step.REVIEW, "trajectbegeleider")
    # First review three months after support starts; due two weeks after that (region data).
    assert case.next_review_on == date(2026, 6, 2)
    assert case.due_on == date(2026, 6, 16)
    review(casework, ref, 1, ReviewOutcome.CONTINUE)
    case = casework.view(ref)
    assert case.reviews_held == 1 and case.next_review_on == date(2026, 9, 2)
    assert [line.event for line in case.history] == [
        "CaseRegistered",
        "AssessmentStarted",
        "AssessmentRecorded",
        "ReadinessApproved",
        "NominationProposed",
        "NominationAccepted",
        "OfferMade",
        "OfferAccepted",
        "LeaseDrawnUp",
        "LeaseSigned",
        "SupportArranged",
        "ReviewHeld",
    ]
    assert [line.decided_by for line in case.history][2:] == [
        "EMM-TB-01",
        "EMM-TP-01",
        "EMM-TP-01",
        "EMM-DOM-01",
        "EMM-DOM-01",
        "EMM-TB-01",
        "EMM-DOM-01",
        "EMM-DOM-01",
        "EMM-TB-01",
        "EMM-TB-01",
    ]
    assert owed(casework, ref) == [
        "registered:1:register_case",
        "readiness:1:set_status",
        "nomination:1:set_status",
        "nomination:1:submit_nomination",
        "offer:1:set_status",
        "tenancy:1:set_status",
        "tenancy:1:send_for_signing",
        "tenancy:1:register_lease",
        "tenancy:1:request_support",
        "support:1:set_status",
        "follow_up:1:set_status",
    ]


def test_a_declined_signing_draws_the_lease_up_again_and_sends_it_anew(casework: Casework) -> None:
    ref = to_offer(casework)
    offer(casework, ref, 1)
    casework.answer_offer(ref, 1, OfferAnswer.ACCEPTED, "EMM-TB-01")
    casework.draw_up_lease(ref, 1, contract_form=ContractForm.REGULAR, temporary=False, decided_by="EMM-DOM-01")
    assert casework.view(ref).waiting_for is Step.SIGNING
    # The e-signature service answers for the signers: declined, with its reason.
    casework.record_signing(ref, 1, result=SigningResult.DECLINED, signed_on=None, decided_by="api:e-ondertekening")
    case = casework.view(ref)
    assert (case.stage, case.attempt, case.waiting_for) == (Stage.TENANCY, 2, Step.LEASE)
    assert case.history[-1].reason == "geweigerd"
    casework.draw_up_lease(ref, 2, contract_form=ContractForm.THREE_PARTY, temporary=True, decided_by="EMM-DOM-01")
    casework.record_signing(
        ref, 2, result=SigningResult.SIGNED, signed_on=casework.today(), decided_by="api:e-ondertekening"
    )
    assert casework.view(ref).stage is Stage.SUPPORT
    signings = [key for key in owed(casework, ref) if key.endswith("send_for_signing")]
    assert signings == ["tenancy:1:send_for_signing", "tenancy:2:send_for_signing"]
    with casework._uow() as uow:
        payload = uow.session.execute(
            select(Action.payload).filter(Action.key.endswith("tenancy:2:register_lease"))
        ).scalar_one()
    assert payload["contract_form"] == ContractForm.THREE_PARTY.value
    assert payload["signed_on"] == casework.today().isoformat()


def test_a_system_answers_only_the_steps_its_api_answers(casework: Casework) -> None:
    ref = to_offer(casework)  # nominated to domesta, which has an API block in the region file
    made_by = {
        "dwelling_reference": "DOM-0815",
        "neighbourhood": "angelslo",
        "rent": Decimal("612.35"),
        "viewing_on": casework.today(),
    }
    with pytest.raises(UnknownDecider):
        casework.make_offer(ref, 1, **made_by, decided_by="api:lefier")  # another corporation's system
    casework.make_offer(ref, 1, **made_by, decided_by="api:domesta")
    assert casework.view(ref).history[-1].decided_by == "api:domesta"
    with pytest.raises(UnknownDecider):
        casework.answer_offer(ref, 1, OfferAnswer.ACCEPTED, "api:domesta")  # the client answers, not a system


def test_every_command_called_again_changes_nothing(any_casework: Casework) -> None:
    casework = any_casework
    ref = to_follow_up(casework)
    before = casework.view(ref)
    with casework._uow() as uow:
        actions_before = len(uow.session.execute(select(Action)).all())
    # What a replayed flow does: the same answers, for the same stage and attempt, once more.
    casework.start_assessment(ref)
    casework.record_assessment(ref, 1, zrm(casework.today()))
    casework.decide_readiness(ref, 1, ReadinessVerdict.READY, "EMM-TP-01")
    casework.propose_nomination(ref, 1, "domesta", "EMM-TP-01")
    casework.answer_nomination(ref, 1, NominationAnswer.ACCEPTED, "EMM-DOM-01")
    offer(casework, ref, 1)
    casework.answer_offer(ref, 1, OfferAnswer.ACCEPTED, "EMM-TB-01")
    after = casework.view(ref)
    assert after == before
    with casework._uow() as uow:
        assert len(uow.session.execute(select(Action)).all()) == actions_before
    assert casework.corporations_with_places("emmen")["domesta"] == 24


def test_an_answer_for_a_step_not_reached_is_a_bug_not_a_no_op(casework: Casework) -> None:
    ref = register(casework)
    casework.start_assessment(ref)
    with pytest.raises(StaleAnswer, match="wacht op assessment"):
        casework.decide_readiness(ref, 1, ReadinessVerdict.READY, "EMM-TP-01")


def test_not_yet_ready_is_reassessed_after_the_regions_period(casework: Casework, clock: Clock) -> None:
    ref = register(casework)
    casework.start_assessment(ref)
    casework.record_assessment(ref, 1, zrm(casework.today(), score=2))
    casework.decide_readiness(ref, 1, ReadinessVerdict.NOT_YET, "EMM-TP-02")
    case = casework.view(ref)
    assert (case.stage, case.attempt, case.waiting_for) == (Stage.READINESS, 2, Step.ASSESSMENT)
    assert case.due_on == casework.today() + timedelta(days=90)
    casework.record_assessment(ref, 2, zrm(casework.today(), score=4))
    casework.decide_readiness(ref, 2, ReadinessVerdict.READY, "EMM-TP-01")
    assert casework.view(ref).stage is Stage.NOMINATION
    with casework._uow() as uow:
        assert uow.session.execute(text("SELECT count(*) FROM assessments")).scalar_one() == 2


def test_only_the_regions_people_in_the_right_role_decide(casework: Casework) -> None:
    ref = register(casework)
    casework.start_assessment(ref)
    with pytest.raises(UnknownDecider, match="'EMM-TP-01' is geen trajectbegeleider"):
        casework.record_assessment(ref, 1, zrm(casework.today(), assessor="EMM-TP-01"))
    with pytest.raises(UnknownDecider, match="'FRL-TB-01' is geen trajectbegeleider"):
        casework.record_assessment(ref, 1, zrm(casework.today(), assessor="FRL-TB-01"))
    assert casework.view(ref).waiting_for is Step.ASSESSMENT


def test_a_consultant_answers_only_for_their_own_corporation(casework: Casework) -> None:
    ref = to_nomination(casework)
    casework.propose_nomination(ref, 1, "domesta", "EMM-TP-01")
    assert casework.deciders(casework.view(ref), Step.NOMINATION_RESPONSE) == ["EMM-DOM-01", "api:domesta"]
    with pytest.raises(UnknownDecider, match="werkt niet bij Domesta"):
        casework.answer_nomination(ref, 1, NominationAnswer.ACCEPTED, "EMM-LEF-01")


def test_a_declined_nomination_goes_to_the_next_corporation_and_frees_its_place(casework: Casework) -> None:
    ref = to_nomination(casework)
    casework.propose_nomination(ref, 1, "domesta", "EMM-TP-01")
    assert casework.corporations_with_places("emmen")["domesta"] == 24
    with pytest.raises(InvalidAnswer, match="reden"):
        casework.answer_nomination(ref, 1, NominationAnswer.DECLINED, "EMM-DOM-01")
    casework.answer_nomination(ref, 1, NominationAnswer.DECLINED, "EMM-DOM-01", DeclineReason.NO_SUITABLE_DWELLING)
    case = casework.view(ref)
    assert (case.stage, case.attempt, case.waiting_for) == (Stage.NOMINATION, 2, Step.NOMINATION_PROPOSAL)
    assert casework.corporations_with_places("emmen")["domesta"] == 25
    casework.propose_nomination(ref, 2, "lefier", "EMM-TP-01")
    assert casework.view(ref).corporation == "lefier"


def test_refusals_go_back_to_matching_until_priority_lapses(casework: Casework) -> None:
    ref = to_offer(casework)
    offer(casework, ref, 1)
    casework.answer_offer(ref, 1, OfferAnswer.REFUSED, "EMM-TB-01", RefusalReason.LOCATION)
    case = casework.view(ref)
    assert (case.stage, case.attempt, case.waiting_for, case.refusals) == (Stage.OFFER, 2, Step.OFFER, 1)
    offer(casework, ref, 2, neighbourhood="bargeres")
    casework.answer_offer(ref, 2, OfferAnswer.REFUSED, "EMM-TB-01", RefusalReason.RENT_TOO_HIGH)
    case = casework.view(ref)
    assert case.stage is Stage.WITHDRAWN and case.waiting_for is None
    assert case.history[-1].event == "PriorityLapsed"
    assert case.history[-1].reason == "voorrang vervallen na 2 weigeringen"
    # The contingent place goes back: this case will not be housed through it.
    assert casework.corporations_with_places("emmen")["domesta"] == 25


def test_withdrawn_at_readiness_ends_the_case(casework: Casework) -> None:
    ref = register(casework)
    casework.start_assessment(ref)
    casework.record_assessment(ref, 1, zrm(casework.today()))
    casework.decide_readiness(ref, 1, ReadinessVerdict.WITHDRAWN, "EMM-TP-01")
    case = casework.view(ref)
    assert case.stage is Stage.WITHDRAWN and not case.is_waiting


def test_a_temporary_lease_is_only_for_people_from_social_shelter(casework: Casework) -> None:
    from weerthuis.domain.vocabulary import InstitutionType

    ref = register(casework, institution=InstitutionType.SHELTERED_HOUSING)
    casework.start_assessment(ref)
    casework.record_assessment(ref, 1, zrm(casework.today()))
    casework.decide_readiness(ref, 1, ReadinessVerdict.READY, "EMM-TP-01")
    casework.propose_nomination(ref, 1, "lefier", "EMM-TP-01")
    casework.answer_nomination(ref, 1, NominationAnswer.ACCEPTED, "EMM-LEF-01")
    offer(casework, ref, 1, by="EMM-LEF-01")
    casework.answer_offer(ref, 1, OfferAnswer.ACCEPTED, "EMM-TB-01")
    with pytest.raises(InvalidAnswer, match="maatschappelijke opvang"):
        casework.draw_up_lease(ref, 1, contract_form=ContractForm.REGULAR, temporary=True, decided_by="EMM-LEF-01")


@pytest.mark.parametrize(
    ("outcome", "end"),
    [
        (ReviewOutcome.CLOSE_HOUSED, Stage.CLOSED),
        (ReviewOutcome.RELAPSE, Stage.RELAPSED),
        (ReviewOutcome.EVICTED, Stage.EVICTED),
        (ReviewOutcome.MOVED, Stage.MOVED),
    ],
)
def test_a_review_can_end_the_case_with_its_outcome(casework: Casework, outcome: ReviewOutcome, end: Stage) -> None:
    ref = to_follow_up(casework)
    review(casework, ref, 1, outcome)
    case = casework.view(ref)
    assert case.stage is end and case.history[-1].reason == outcome.value


def test_a_full_contingent_refuses_the_nomination_clearly(casework: Casework) -> None:
    with casework._uow() as uow:
        uow.session.execute(text("UPDATE contingents SET size = 0 WHERE corporation = 'woonservice'"))
        uow.commit()
    ref = to_nomination(casework)
    with pytest.raises(ContingentExhausted, match=r"contingent van Woonservice voor 2026 is op \(0 van 0"):
        casework.propose_nomination(ref, 1, "woonservice", "EMM-TP-01")
    assert casework.view(ref).waiting_for is Step.NOMINATION_PROPOSAL
    assert "woonservice" not in casework.corporations_with_places("emmen")


def test_a_neighbourhood_at_its_cap_takes_no_more_offers(casework: Casework) -> None:
    with casework._uow() as uow:
        uow.session.execute(text("UPDATE neighbourhood_quotas SET cap = 1 WHERE neighbourhood = 'emmerhout'"))
        uow.commit()
    first, second = to_offer(casework), to_offer(casework)
    offer(casework, first, 1, neighbourhood="emmerhout")
    with pytest.raises(NeighbourhoodFull, match="Emmerhout heeft het plafond voor 2026 bereikt"):
        offer(casework, second, 1, neighbourhood="emmerhout")
    # A refused offer gives the neighbourhood's place back.
    casework.answer_offer(first, 1, OfferAnswer.REFUSED, "EMM-TB-01", RefusalReason.NEIGHBOURHOOD)
    offer(casework, second, 1, neighbourhood="emmerhout")


def test_the_history_is_append_only(any_casework: Casework) -> None:
    ref = register(any_casework)
    with any_casework._uow() as uow, pytest.raises((IntegrityError, DBAPIError), match="append-only"):
        uow.session.execute(text("UPDATE transitions SET decided_by = 'iemand anders'"))
    with any_casework._uow() as uow, pytest.raises((IntegrityError, DBAPIError), match="append-only"):
        uow.session.execute(text("DELETE FROM transitions"))
    with any_casework._uow() as uow:
        assert uow.session.execute(select(Transition.decided_by)).scalars().all() == ["EMM-TB-01"]
        assert ref


def test_case_references_count_up_per_year(casework: Casework) -> None:
    assert [register(casework) for _ in range(3)] == ["WT-2026-0001", "WT-2026-0002", "WT-2026-0003"]


def test_nominations_keep_who_proposed_and_who_answered(casework: Casework) -> None:
    ref = to_offer(casework)
    with casework._uow() as uow:
        nomination = uow.session.execute(select(Nomination)).scalar_one()
        assert (nomination.proposed_by, nomination.answered_by, nomination.status) == (
            "EMM-TP-01",
            "EMM-DOM-01",
            "accepted",
        )
    assert ref


def test_history_times_read_back_in_dutch_time_on_every_database(any_casework: Casework, clock: Clock) -> None:
    ref = register(any_casework)
    line = any_casework.view(ref).history[0]
    assert line.at == clock() and line.at.utcoffset() == clock().utcoffset()
    assert f"{line.at:%H:%M}" == "09:30"


def test_each_milestone_keeps_the_first_day_it_was_reached(any_casework: Casework, clock: Clock) -> None:
    """Kept beside the case for the monitor: a second nomination or offer keeps the first day, a late evening counts
    on its Dutch day, and what is kept is what the history says."""
    casework = any_casework

    def milestones(ref: str) -> dict[str, date | None]:
        with casework._uow() as uow:
            row = uow.session.execute(
                select(CaseMilestones).where(CaseMilestones.case_id == uow.case(ref).id)
            ).scalar_one_or_none()
            return (
                {}
                if row is None
                else {k: v for k, v in vars(row).items() if k not in ("case_id", "_sa_instance_state")}
            )

    def later(days: int, hour: int = 10) -> None:
        clock.now = (clock.now + timedelta(days=days)).replace(hour=hour, minute=0)

    ref = register(casework)
    assert milestones(ref) == {}  # registration is the case's own day, not a milestone
    later(1)
    casework.start_assessment(ref)
    later(6)
    casework.record_assessment(ref, 1, zrm(casework.today()))
    later(1, hour=23)  # 23:00 Dutch time on 10 March: still 10 March
    casework.decide_readiness(ref, 1, ReadinessVerdict.READY, "EMM-TP-01")
    later(2)
    casework.propose_nomination(ref, 1, "domesta", "EMM-TP-01")
    later(5)
    casework.answer_nomination(ref, 1, NominationAnswer.DECLINED, "EMM-DOM-01", DeclineReason.NO_SUITABLE_DWELLING)
    later(3)
    casework.propose_nomination(ref, 2, "lefier", "EMM-TP-01")
    later(4)
    casework.answer_nomination(ref, 2, NominationAnswer.ACCEPTED, "EMM-LEF-01")
    assert milestones(ref) == {
        "readiness": date(2026, 3, 3),
        "nomination": date(2026, 3, 10),
        "nominated": date(2026, 3, 12),  # the first nomination, not the second of 20 March
        "offer": date(2026, 3, 24),
        "offered": None,
        "tenancy": None,
        "support": None,
        "follow_up": None,
        "transferred": None,
    }
    with casework._uow() as uow:
        history = uow.session.execute(
            select(Transition.event, Transition.at).where(Transition.case_id == uow.case(ref).id)
        ).all()
    assert {k: v for k, v in milestones(ref).items() if v is not None} == first_days(history)
