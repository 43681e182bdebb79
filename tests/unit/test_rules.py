"""The procedure's rules, without a database: who may decide, what a review leads to, the reviews ahead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from weerthuis.domain.moves import Move
from weerthuis.domain.procedure import Step
from weerthuis.domain.rules import (
    AfterReview,
    CaseParties,
    Connected,
    FollowUpPlan,
    Review,
    after_review,
    counterpart_decider,
    deciders,
    reviews_ahead,
)
from weerthuis.domain.vocabulary import Card, LivingSituation, ReviewOutcome, Role


@dataclass(frozen=True)
class Someone:
    code: str
    role: Role
    organisation: str


STAFF = [
    Someone("EMM-TP-01", Role.COORDINATOR, "transferpunt"),
    Someone("EMM-TB-01", Role.CASE_MANAGER, "leger-des-heils"),
    Someone("EMM-TB-02", Role.CASE_MANAGER, "ggz-drenthe"),
    Someone("EMM-WC-01", Role.CORPORATION_CONSULTANT, "domesta"),
    Someone("EMM-WC-02", Role.CORPORATION_CONSULTANT, "lefier"),
    Someone("EMM-WMO-01", Role.WMO_CONSULTANT, "gemeente-emmen"),
]
WITH_DOMESTA = CaseParties(corporation="domesta", care_provider="leger-des-heils")
NOTHING_CONNECTED = Connected()


def test_a_corporation_step_is_decided_only_by_that_corporations_consultants() -> None:
    assert deciders(Step.OFFER, STAFF, WITH_DOMESTA, NOTHING_CONNECTED) == ["EMM-WC-01"]


def test_a_case_manager_decides_only_for_clients_of_their_own_care_provider() -> None:
    assert deciders(Step.ASSESSMENT, STAFF, WITH_DOMESTA, NOTHING_CONNECTED) == ["EMM-TB-01"]
    # Support at home: the case manager first, then any Wmo consultant of the region.
    assert deciders(Step.SUPPORT, STAFF, WITH_DOMESTA, NOTHING_CONNECTED) == ["EMM-TB-01", "EMM-WMO-01"]


def test_coordinators_decide_anywhere_in_their_region() -> None:
    assert deciders(Step.READINESS_DECISION, STAFF, WITH_DOMESTA, NOTHING_CONNECTED) == ["EMM-TP-01"]


def test_a_connected_counterpart_answers_its_own_steps_only() -> None:
    connected = Connected(corporations=frozenset({"domesta"}), care_providers=frozenset({"ggz-drenthe"}), esign=True)
    assert deciders(Step.OFFER, STAFF, WITH_DOMESTA, connected) == ["EMM-WC-01", "api:domesta"]
    assert counterpart_decider(Step.SIGNING, WITH_DOMESTA, connected) == "api:e-ondertekening"
    # The client's provider has no API here (only ggz-drenthe has): the case manager answers support.
    assert counterpart_decider(Step.SUPPORT, WITH_DOMESTA, connected) is None
    assert counterpart_decider(Step.LEASE, WITH_DOMESTA, connected) is None  # no system draws up a lease
    with_lefier = CaseParties(corporation="lefier", care_provider="ggz-drenthe")
    assert counterpart_decider(Step.NOMINATION_RESPONSE, with_lefier, connected) is None
    assert counterpart_decider(Step.SUPPORT, with_lefier, connected) == "api:ggz-drenthe"


EMMEN = FollowUpPlan(
    support_started_on=date(2026, 1, 15),
    review_months=(3, 6, 12, 24),
    warning_review_months=1,
    lease_in_own_name=False,
)


def review(number: int = 1, *, outcome: ReviewOutcome = ReviewOutcome.CONTINUE, **worries: object) -> Review:
    facts: dict[str, object] = {
        "living_situation": LivingSituation.GOOD,
        "rent_arrears": False,
        "nuisance": False,
        "support_reached": True,
        **worries,
    }
    return Review(number=number, held_on=date(2026, 4, 15), outcome=outcome, **facts)  # type: ignore[arg-type]


def test_a_quiet_review_plans_the_next_regular_one() -> None:
    after = after_review(review(1), EMMEN)
    assert after == AfterReview(None, ((Move.HOLD_REVIEW, Step.REVIEW),), None, date(2026, 7, 15), "nazorg loopt door")


def test_a_yellow_card_warns_and_brings_the_next_review_closer() -> None:
    after = after_review(review(1, rent_arrears=True), EMMEN)
    assert after.card is Card.YELLOW
    assert after.moves == ((Move.HOLD_REVIEW, Step.REVIEW), (Move.RAISE_WARNING, Step.REVIEW))
    assert after.next_review_on == date(2026, 5, 15)  # one month after the review, before the regular 15 July


def test_a_red_card_waits_on_the_coordinator() -> None:
    after = after_review(review(2, signals=("overlast:rood",)), EMMEN)
    assert after.card is Card.RED
    assert after.moves == ((Move.HOLD_REVIEW, None), (Move.OPEN_ESCALATION, Step.ESCALATION))
    assert after.reason == "nazorg loopt door; signalen: overlast (rood)"


def test_after_the_last_review_comes_the_omklap_or_with_a_lease_in_own_name_the_end() -> None:
    last = after_review(review(4), EMMEN)
    assert (last.moves, last.end, last.next_review_on) == (((Move.HOLD_REVIEW, Step.OMKLAP),), None, None)
    own_name = FollowUpPlan(EMMEN.support_started_on, EMMEN.review_months, 1, lease_in_own_name=True)
    closed = after_review(review(4), own_name)
    assert (closed.moves, closed.end) == (((Move.HOLD_REVIEW, None),), Move.CLOSE_HOUSED)


@pytest.mark.parametrize(
    ("outcome", "end"),
    [
        (ReviewOutcome.CLOSE_HOUSED, Move.CLOSE_HOUSED),
        (ReviewOutcome.RELAPSE, Move.RECORD_RELAPSE),
        (ReviewOutcome.EVICTED, Move.RECORD_EVICTION),
        (ReviewOutcome.MOVED, Move.RECORD_MOVE_AWAY),
    ],
)
def test_an_ending_outcome_ends_the_case(outcome: ReviewOutcome, end: Move) -> None:
    after = after_review(review(2, outcome=outcome), EMMEN)
    assert (after.moves, after.end, after.next_review_on) == (((Move.HOLD_REVIEW, None),), end, None)


def test_the_reviews_ahead_start_with_the_planned_one() -> None:
    ahead = reviews_ahead(1, date(2026, 5, 15), EMMEN.support_started_on, EMMEN.review_months)
    assert ahead == [(2, date(2026, 5, 15)), (3, date(2027, 1, 15)), (4, date(2028, 1, 15))]
    assert reviews_ahead(4, None, EMMEN.support_started_on, EMMEN.review_months) == []
