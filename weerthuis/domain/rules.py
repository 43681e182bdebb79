"""The procedure's rules that are not moves: who may decide, and what a review, an escalation or an omklap leads to.

Pure functions of what the case database and the region's file hold; the commands in `weerthuis.service` read
and write, these decide. Tested without a database (tests/unit/test_rules.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from weerthuis.domain.calendar import add_months
from weerthuis.domain.follow_up import card_for, in_words
from weerthuis.domain.moves import Move
from weerthuis.domain.procedure import PROCEDURE, Counterpart, DecidedFor, Step
from weerthuis.domain.vocabulary import (
    Card,
    CaseOutcome,
    EscalationDecision,
    LivingSituation,
    ReviewOutcome,
    Role,
)

# A step a connected counterpart answers through its API is decided by "api:<its code>".
API_DECIDER = "api:"
ESIGN_CODE = "e-ondertekening"


class Staff(Protocol):
    """Someone in a region's file (config.regions.Person)."""

    @property
    def code(self) -> str: ...
    @property
    def role(self) -> Role: ...
    @property
    def organisation(self) -> str: ...


@dataclass(frozen=True)
class Connected:
    """Which counterparts of a region answer steps through their API: corporations and care providers by code."""

    corporations: frozenset[str] = frozenset()
    care_providers: frozenset[str] = frozenset()
    esign: bool = False


@dataclass(frozen=True)
class CaseParties:
    """The organisations a case is with: the corporation it is nominated to (if any) and the client's provider."""

    corporation: str | None
    care_provider: str


def decider_organisation(step: Step, role: Role, parties: CaseParties) -> str | None:
    """The organisation a decider of this step in this role must work for; None: anywhere in the region."""
    if PROCEDURE[step].decided_for is DecidedFor.CORPORATION:
        return parties.corporation
    if role is Role.CASE_MANAGER:
        return parties.care_provider
    return None


def counterpart_decider(step: Step, parties: CaseParties, connected: Connected) -> str | None:
    """The code under which a counterpart's system answers this step for a case ("api:domesta"), if it can."""
    counterpart = PROCEDURE[step].counterpart
    if counterpart is Counterpart.CORPORATION and parties.corporation in connected.corporations:
        return f"{API_DECIDER}{parties.corporation}"
    if counterpart is Counterpart.ESIGN and connected.esign:
        return f"{API_DECIDER}{ESIGN_CODE}"
    if counterpart is Counterpart.CARE_PROVIDER and parties.care_provider in connected.care_providers:
        return f"{API_DECIDER}{parties.care_provider}"
    return None


def deciders(step: Step, people: Iterable[Staff], parties: CaseParties, connected: Connected) -> list[str]:
    """Codes of the people who may take this step for this case, in the order of the step's roles, and of the
    counterpart's system if its API answers the step: a corporation's consultant only for the cases with that
    corporation, a case manager only for the clients of their own care provider, coordinators and Wmo
    consultants anywhere in their region."""
    staff = list(people)
    chosen = [
        person.code
        for role in PROCEDURE[step].roles
        for person in staff
        if person.role is role and _works_for(person, decider_organisation(step, role, parties))
    ]
    system = counterpart_decider(step, parties, connected)
    return chosen + ([system] if system else [])


def _works_for(person: Staff, organisation: str | None) -> bool:
    return organisation is None or person.organisation == organisation


# How a case ends when a review, an escalation or an omklap ends it.
END_OF_REVIEW: dict[ReviewOutcome, Move] = {
    ReviewOutcome.CLOSE_HOUSED: Move.CLOSE_HOUSED,
    ReviewOutcome.RELAPSE: Move.RECORD_RELAPSE,
    ReviewOutcome.EVICTED: Move.RECORD_EVICTION,
    ReviewOutcome.MOVED: Move.RECORD_MOVE_AWAY,
}
END_OF_ESCALATION: dict[EscalationDecision, Move] = {
    EscalationDecision.RELAPSE: Move.RECORD_RELAPSE,
    EscalationDecision.EVICTED: Move.RECORD_EVICTION,
    EscalationDecision.MOVED: Move.RECORD_MOVE_AWAY,
}
END_OF_OMKLAP: dict[CaseOutcome, Move] = {
    CaseOutcome.HOUSED: Move.CLOSE_HOUSED,
    CaseOutcome.RELAPSE: Move.RECORD_RELAPSE,
    CaseOutcome.EVICTED: Move.RECORD_EVICTION,
    CaseOutcome.MOVED: Move.RECORD_MOVE_AWAY,
    # WITHDRAWN: withdrawn like any case (its contingent place is given back), not a move of this table
}


@dataclass(frozen=True)
class Review:
    """What the case manager recorded at review `number`, and the signals read from the counterparts."""

    number: int
    held_on: date
    living_situation: LivingSituation
    rent_arrears: bool
    nuisance: bool
    support_reached: bool
    outcome: ReviewOutcome
    signals: tuple[str, ...] = ()


@dataclass(frozen=True)
class FollowUpPlan:
    """The guided period the review falls in: when support started, the region's review months (counted from
    support's start), how much closer a yellow card brings the next review, and whether the lease is already in
    the client's own name (then there is no omklap to decide)."""

    support_started_on: date
    review_months: tuple[int, ...]
    warning_review_months: int
    lease_in_own_name: bool


@dataclass(frozen=True)
class AfterReview:
    """What a review leads to. `moves` are recorded in order, each leaving the case waiting on its step (None:
    on nobody); then `end`, if the case ends. `next_review_on` is the review now planned (None: none)."""

    card: Card | None
    moves: tuple[tuple[Move, Step | None], ...]
    end: Move | None
    next_review_on: date | None
    reason: str


def after_review(review: Review, plan: FollowUpPlan) -> AfterReview:
    """A review earns a card (red escalates to the coordinator, yellow warns and brings the next review closer);
    after the last review of the guided period comes the omklap, unless the lease is already in the client's name
    (then the case closes housed). An outcome other than "nazorg loopt door" ends the case."""
    card = card_for(
        review.signals,
        living_situation=review.living_situation,
        rent_arrears=review.rent_arrears,
        nuisance=review.nuisance,
        support_reached=review.support_reached,
    )
    if review.outcome is not ReviewOutcome.CONTINUE:
        reason = review.outcome.value
        return AfterReview(card, ((Move.HOLD_REVIEW, None),), END_OF_REVIEW[review.outcome], None, reason)
    months = plan.review_months
    regular = add_months(plan.support_started_on, months[review.number]) if review.number < len(months) else None
    closer = add_months(review.held_on, plan.warning_review_months)
    reason = review.outcome.value
    if review.signals:
        reason = f"{reason}; signalen: {in_words(','.join(review.signals))}"
    moves: tuple[tuple[Move, Step | None], ...]
    if card is Card.RED:
        moves = ((Move.HOLD_REVIEW, None), (Move.OPEN_ESCALATION, Step.ESCALATION))
        return AfterReview(card, moves, None, min(d for d in (regular, closer) if d is not None), reason)
    warned = card is Card.YELLOW
    if regular is None:  # the end of the guided period: the lease in the client's own name, more guidance, or the end
        waiting = None if plan.lease_in_own_name else Step.OMKLAP
        moves = ((Move.HOLD_REVIEW, waiting),) + (((Move.RAISE_WARNING, waiting),) if warned else ())
        return AfterReview(card, moves, Move.CLOSE_HOUSED if plan.lease_in_own_name else None, None, reason)
    moves = ((Move.HOLD_REVIEW, Step.REVIEW),) + (((Move.RAISE_WARNING, Step.REVIEW),) if warned else ())
    return AfterReview(card, moves, None, min(regular, closer) if warned else regular, reason)


def reviews_ahead(
    held: int, next_review_on: date | None, support_started_on: date, review_months: tuple[int, ...]
) -> list[tuple[int, date]]:
    """The reviews still ahead, (number, date), nearest first: the planned next one (perhaps brought closer by a
    card), then the regular ones of the region's months. [] when none is planned (the case ends, or the omklap)."""
    if next_review_on is None:
        return []
    later = [(n, add_months(support_started_on, review_months[n - 1])) for n in range(held + 2, len(review_months) + 1)]
    return [(held + 1, next_review_on), *later]
