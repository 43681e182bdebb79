"""Synthetic cases for the demo and the benchmarks: N consistent histories across regions and stages.

Obviously fake: clients are "Proefpersoon 000042" without BSN, birth date or contact details, and references run in
the made-up years 9000 and up (WT-9000-0001 … WT-9000-9999, WT-9001-0001, …): the pattern WT-jjjj-nnnn holds at
100,000 cases and they never collide with the numbers `weerthuis register` hands out.

Each case walks the procedure as the commands record it (moves, events, stages and attempts, who decided and what
the case waits on; assessments, nominations, offers, the lease, support and reviews), with a fair share declined,
refused, lapsed, withdrawn, evicted and relapsed, yellow and red cards at follow-up and the omklap at its end.
Contingents and neighbourhood caps of the regions given are respected: a case that finds no place waits, as it
would. No actions or mail are owed, so nothing is ever sent on behalf of a fake case.

Written with bulk inserts (SQLAlchemy Core, lists of dicts) in chunks, so 100,000 cases take seconds.
"""

from __future__ import annotations

import argparse
import random
import sys
from bisect import bisect
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.engine import Connection

from config.regions import Region
from weerthuis.casedb.models import (
    Assessment,
    Case,
    CaseMilestones,
    Client,
    Contingent,
    Lease,
    NeighbourhoodQuota,
    Nomination,
    Offer,
    Review,
    SupportArrangement,
    Transition,
)
from weerthuis.casedb.quota import HOLDING
from weerthuis.domain.calendar import AMSTERDAM, add_months
from weerthuis.domain.milestones import MILESTONES, first_days
from weerthuis.domain.moves import MOVES, Event, Move
from weerthuis.domain.procedure import PROCEDURE, Step
from weerthuis.domain.stages import Stage
from weerthuis.domain.vocabulary import (
    Card,
    CaseOutcome,
    ContractForm,
    DeclineReason,
    EscalationDecision,
    InstitutionType,
    LivingSituation,
    OmklapDecision,
    RefusalReason,
    ReviewOutcome,
    Role,
    WmoDecision,
)
from weerthuis.domain.zrm import ZrmDomain
from weerthuis.service.base import SYSTEM

T = TypeVar("T")
FIRST_YEAR = 9000  # references WT-9000-0001 onwards: a made-up year per 9,999 synthetic cases
PER_YEAR = 9999
CHUNK = 2000
SIGNING_DECLINES = ("geweigerd", "verlopen")
REGISTRATION_REASONS = (
    "dakloos na huisuitzetting",
    "relatiebreuk",
    "uit detentie",
    "na opname",
    "beschermd wonen, klaar voor zelfstandigheid",
)


class _Mix(Generic[T]):
    """Values drawn with fixed relative weights."""

    def __init__(self, weighted: dict[T, int]) -> None:
        self.values = list(weighted)
        self.bounds = list(accumulate(weighted.values()))

    def pick(self, rng: random.Random) -> T:
        return self.values[bisect(self.bounds, rng.random() * self.bounds[-1])]


DECLINES = _Mix({r.value: w for r, w in zip(DeclineReason, (5, 3, 2, 1, 1), strict=True)})
REFUSALS = _Mix({r.value: w for r, w in zip(RefusalReason, (5, 4, 3, 3, 1, 2), strict=True)})
CONTRACT_FORMS = _Mix(
    {ContractForm.REGULAR.value: 35, ContractForm.THREE_PARTY.value: 45, ContractForm.INTERMEDIARY.value: 20}
)
WMO_DECISIONS = _Mix({WmoDecision.GRANTED.value: 80, WmoDecision.APPLIED.value: 15, WmoDecision.NOT_NEEDED.value: 5})
HOUSEHOLDS = _Mix({1: 75, 2: 15, 3: 7, 4: 3})
# Follow-up, per review: most go on; now and then a relapse or a move; a yellow card in some 7 %, a red one in 3 %
# (a pilot reported yellow cards for 7 % of cases and evictions for 4 %).
REVIEW_OUTCOMES = _Mix(
    {ReviewOutcome.CONTINUE.value: 970, ReviewOutcome.RELAPSE.value: 20, ReviewOutcome.MOVED.value: 10}
)
CARDS = _Mix({"": 90, Card.YELLOW.value: 7, Card.RED.value: 3})
ESCALATION_DECISIONS = _Mix(
    {
        EscalationDecision.CONTINUE.value: 45,
        EscalationDecision.EVICTED.value: 35,
        EscalationDecision.RELAPSE.value: 15,
        EscalationDecision.MOVED.value: 5,
    }
)
OMKLAP_DECISIONS = _Mix(
    {OmklapDecision.TRANSFER.value: 85, OmklapDecision.EXTEND.value: 10, OmklapDecision.END.value: 5}
)
END_OF = {
    ReviewOutcome.RELAPSE.value: Move.RECORD_RELAPSE,
    ReviewOutcome.MOVED.value: Move.RECORD_MOVE_AWAY,
    EscalationDecision.EVICTED.value: Move.RECORD_EVICTION,
    EscalationDecision.RELAPSE.value: Move.RECORD_RELAPSE,
    EscalationDecision.MOVED.value: Move.RECORD_MOVE_AWAY,
}


def synthetic_reference(number: int) -> str:
    """The reference of the `number`-th synthetic case (0-based): WT-9000-0001, …, WT-9000-9999, WT-9001-0001."""
    block, rest = divmod(number, PER_YEAR)
    return f"WT-{FIRST_YEAR + block:04d}-{rest + 1:04d}"


def scaled(regions: Mapping[str, Region], factor: float) -> dict[str, Region]:
    """The regions with `factor` times their contingents, and neighbourhood caps that together carry at least those
    contingents (in the shipped example files they carry far fewer). For benchmarks: the region files stay as they are.
    """
    result = {}
    for code, region in regions.items():
        contingent = sum(c.contingent for c in region.corporations)
        caps = sum(n.yearly_cap for n in region.neighbourhoods) or 1
        cap_factor = factor * max(1.0, contingent / caps)
        result[code] = region.model_copy(
            update={
                "yearly_homes_cap": None
                if region.yearly_homes_cap is None
                else round(region.yearly_homes_cap * factor),
                "corporations": [
                    c.model_copy(update={"contingent": round(c.contingent * factor)}) for c in region.corporations
                ],
                "neighbourhoods": [
                    n.model_copy(update={"yearly_cap": round(n.yearly_cap * cap_factor) + 1})
                    for n in region.neighbourhoods
                ],
            }
        )
    return result


class _Places:
    """Contingent places and neighbourhood caps per (region, code, year): what is left, as the quota code counts."""

    def __init__(self, sizes: dict[tuple[str, str, int], int], held: Counter[tuple[str, str, int]]) -> None:
        self.sizes, self.held = sizes, held

    def claim(
        self, rng: random.Random, region: str, codes: Sequence[str], year: int, avoid: str | None = None
    ) -> str | None:
        """A code with a place left that year (chosen weighted by places left), now claimed; None if all are full."""
        left = [(c, self.sizes.get((region, c, year), 0) - self.held[(region, c, year)]) for c in codes if c != avoid]
        left = [(c, n) for c, n in left if n > 0]
        if not left:
            return None
        code = rng.choices([c for c, _ in left], weights=[n for _, n in left])[0]
        self.held[(region, code, year)] += 1
        return code

    def release(self, region: str, code: str, year: int) -> None:
        self.held[(region, code, year)] -= 1


@dataclass
class _People:
    """Who decides in a region, and how many days each step they take may last."""

    case_managers: list[str]
    coordinators: list[str]
    consultants: dict[str, list[str]]
    dues: dict[Step, timedelta]

    @classmethod
    def of(cls, region: Region) -> _People:
        return cls(
            [p.code for p in region.people_with(Role.CASE_MANAGER)],
            [p.code for p in region.people_with(Role.COORDINATOR)],
            {
                c.code: [p.code for p in region.people_with(Role.CORPORATION_CONSULTANT, c.code)]
                for c in region.corporations
            },
            {
                step: region.due(rule.due)
                for step, rule in PROCEDURE.items()
                if rule.due in type(region.due_days).model_fields
            },
        )


# Plain strings of the enums, looked up once: enum `.value` is slow in the loop that writes 100,000 cases.
_VALUE: dict[str, str] = {member: member.value for kind in (Stage, Step, Move, Event) for member in kind}
_WAITING_ROLE = {step: rule.roles[0].value for step, rule in PROCEDURE.items()}
_ZRM_COLUMNS = [domain.value for domain in ZrmDomain]


class _Waits(Exception):
    """The next event would happen after now: the case waits where it is."""


@dataclass
class _Story:
    """One case's history as it is written: the case row, its transitions and the rows of its other tables."""

    region: Region
    now: datetime
    at: datetime
    case: dict[str, Any]
    transitions: list[dict[str, Any]] = field(default_factory=list)
    assessments: list[dict[str, Any]] = field(default_factory=list)
    nominations: list[dict[str, Any]] = field(default_factory=list)
    offers: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    support: dict[str, Any] | None = None
    lease: dict[str, Any] | None = None
    dues: dict[Step, timedelta] = field(default_factory=dict)
    entries: Counter[Stage] = field(default_factory=lambda: Counter({Stage.REGISTERED: 1}))

    def later(self, rng: random.Random, low: float, high: float) -> None:
        """Move the clock on by `low`–`high` days (and up to two hours); raises _Waits past now."""
        moment = self.at + timedelta(days=int(low + rng.random() * (high - low)), minutes=1 + int(rng.random() * 120))
        if moment > self.now:
            raise _Waits
        self.at = moment

    def record(
        self,
        move: str,
        event: str,
        decided_by: str,
        *,
        to: Stage | None = None,
        reason: str = "",
        then: Step | None = None,
        waiting_on: str | None = None,
    ) -> None:
        """Append a transition as the commands record it; `then` is the step the case waits on afterwards."""
        case = self.case
        from_stage, from_attempt = case["stage"], case["stage_attempt"]
        if to is None:
            attempt = from_attempt
        else:
            self.entries[to] += 1
            attempt = self.entries[to]
            case["stage"], case["stage_attempt"], case["stage_since"] = _VALUE[to], attempt, self.at
        self.transitions.append(
            {
                "seq": len(self.transitions) + 1,
                "move": _VALUE.get(move, move),
                "event": _VALUE.get(event, event),
                "from_stage": from_stage,
                "from_attempt": from_attempt,
                "answered_step": case["waiting_for"],
                "to_stage": case["stage"],
                "attempt": attempt,
                "decided_by": decided_by,
                "at": self.at,
                "reason": reason,
            }
        )
        if then is None:
            case["waiting_for"] = case["waiting_on"] = case["due_on"] = None
        else:
            case["waiting_for"] = _VALUE[then]
            case["waiting_on"] = waiting_on or _WAITING_ROLE[then]
            case["due_on"] = self.at.date() + self.dues[then]


def _live(story: _Story, rng: random.Random, places: _Places, people: _People) -> None:
    """Walk one case through the procedure until it ends (_Ended, or a plain return) or waits on its next step."""
    story.later(rng, 0, 3)
    story.record(Move.START_ASSESSMENT, Event.ASSESSMENT_STARTED, SYSTEM, to=Stage.READINESS, then=Step.ASSESSMENT)
    _readiness(story, rng, people)
    corporation, consultant = _nomination(story, rng, places, people)
    _offer(story, rng, places, people, corporation, consultant)
    form = _tenancy(story, rng, corporation, consultant)
    _support(story, rng, people, support_linked=form != ContractForm.REGULAR.value)


def _readiness(story: _Story, rng: random.Random, people: _People) -> None:
    """A ZRM, then the coordinator's verdict; not yet ready means a re-assessment after the region's wait."""
    region, manager = story.region, story.case["registered_by"]
    for round_ in range(1, 4):
        story.later(rng, 5, 21)
        ready = rng.random() < (0.72 if round_ < 3 else 0.85)
        story.assessments.append(_assessment(rng, story, manager, ready))
        story.record(Move.RECORD_ASSESSMENT, Event.ASSESSMENT_RECORDED, manager, then=Step.READINESS_DECISION)
        story.later(rng, 1, 7)
        coordinator = rng.choice(people.coordinators)
        if ready:
            story.record(
                Move.APPROVE_READINESS,
                Event.READINESS_APPROVED,
                coordinator,
                to=Stage.NOMINATION,
                then=Step.NOMINATION_PROPOSAL,
            )
            return
        if round_ == 3 or rng.random() < 0.3:
            reason = "teruggetrokken bij beoordeling woonvaardigheid"
            story.record(Move.WITHDRAW, Event.CASE_WITHDRAWN, coordinator, to=Stage.WITHDRAWN, reason=reason)
            raise _Ended
        story.record(
            Move.POSTPONE_READINESS,
            Event.READINESS_POSTPONED,
            coordinator,
            to=Stage.READINESS,
            reason=f"herbeoordeling na {region.reassessment_days} dagen",
            then=Step.ASSESSMENT,
        )
        story.case["due_on"] = story.at.date() + timedelta(days=region.reassessment_days)
        story.later(rng, region.reassessment_days - 5, region.reassessment_days + 10)


def _nomination(story: _Story, rng: random.Random, places: _Places, people: _People) -> tuple[str, str]:
    """To a corporation with a contingent place left this year; a decline gives the place back. Returns the
    corporation that accepted, and its consultant."""
    code = story.region.code
    corporations = [c.code for c in story.region.corporations]
    declined: str | None = None
    while True:
        _maybe_withdraw(story, rng, people, places)
        story.later(rng, 1, 10)
        corporation = places.claim(rng, code, corporations, story.at.year, avoid=declined)
        if corporation is None:  # every contingent is used: wait for next year's
            story.at = max(story.at, datetime(story.at.year + 1, 1, 2, 9, tzinfo=AMSTERDAM))
            story.later(rng, 0, 14)
            corporation = places.claim(rng, code, corporations, story.at.year)
            if corporation is None:
                raise _Waits
        coordinator, consultant = rng.choice(people.coordinators), rng.choice(people.consultants[corporation])
        nomination = {
            "attempt": story.case["stage_attempt"],
            "region": code,
            "corporation": corporation,
            "year": story.at.year,
            "status": "proposed",
            "proposed_by": coordinator,
            "proposed_at": story.at,
            "answered_by": None,
            "answered_at": None,
            "decline_reason": None,
        }
        story.nominations.append(nomination)
        story.record(
            Move.PROPOSE_NOMINATION,
            Event.NOMINATION_PROPOSED,
            coordinator,
            reason=f"voorgedragen aan {corporation}",
            then=Step.NOMINATION_RESPONSE,
            waiting_on=corporation,
        )
        story.later(rng, 2, 12)
        nomination.update(answered_by=consultant, answered_at=story.at)
        if rng.random() < 0.85:
            nomination["status"] = "accepted"
            story.record(
                Move.ACCEPT_NOMINATION,
                Event.NOMINATION_ACCEPTED,
                consultant,
                to=Stage.OFFER,
                then=Step.OFFER,
                waiting_on=corporation,
            )
            return corporation, consultant
        reason = DECLINES.pick(rng)
        nomination.update(status="declined", decline_reason=reason)
        places.release(code, corporation, nomination["year"])
        declined = corporation
        story.record(
            Move.DECLINE_NOMINATION,
            Event.NOMINATION_DECLINED,
            consultant,
            to=Stage.NOMINATION,
            reason=reason,
            then=Step.NOMINATION_PROPOSAL,
        )


def _offer(
    story: _Story, rng: random.Random, places: _Places, people: _People, corporation: str, consultant: str
) -> None:
    """A dwelling in a neighbourhood under its yearly cap; refused up to the region's limit, then priority lapses."""
    region, code, manager = story.region, story.region.code, story.case["registered_by"]
    neighbourhoods = [n.code for n in region.neighbourhoods]
    while True:
        _maybe_withdraw(story, rng, people, places)
        story.later(rng, 7, 60)
        neighbourhood = places.claim(rng, code, neighbourhoods, story.at.year)
        if neighbourhood is None:  # every neighbourhood carries its yearly cap: wait for next year
            story.at = max(story.at, datetime(story.at.year + 1, 1, 2, 9, tzinfo=AMSTERDAM))
            story.later(rng, 0, 30)
            neighbourhood = places.claim(rng, code, neighbourhoods, story.at.year)
            if neighbourhood is None:
                raise _Waits
        dwelling = f"SYN-{rng.randrange(100_000):05d}"
        offer = {
            "attempt": story.case["stage_attempt"],
            "region": code,
            "corporation": corporation,
            "dwelling_reference": dwelling,
            "neighbourhood": neighbourhood,
            "year": story.at.year,
            "rent": Decimal(rng.randrange(45_000, 80_000)) / 100,
            "viewing_on": story.at.date() + timedelta(days=rng.randint(2, 6)),
            "offered_by": consultant,
            "offered_at": story.at,
            "answer": None,
            "refusal_reason": None,
            "answered_by": None,
            "answered_at": None,
        }
        story.offers.append(offer)
        story.record(
            Move.MAKE_OFFER,
            Event.OFFER_MADE,
            consultant,
            reason=f"woning {dwelling} in {neighbourhood}",
            then=Step.OFFER_RESPONSE,
        )
        story.later(rng, 3, 9)
        offer.update(answered_by=manager, answered_at=story.at)
        if rng.random() < 0.72:
            offer["answer"] = "accepted"
            story.record(
                Move.ACCEPT_OFFER,
                Event.OFFER_ACCEPTED,
                manager,
                to=Stage.TENANCY,
                then=Step.LEASE,
                waiting_on=corporation,
            )
            return
        reason = REFUSALS.pick(rng)
        offer.update(answer="refused", refusal_reason=reason)
        places.release(code, neighbourhood, offer["year"])
        story.case["refusals"] += 1
        if story.case["refusals"] >= region.refusal_limit:
            story.record(Move.REFUSE_OFFER, Event.OFFER_REFUSED, manager, to=Stage.OFFER, reason=reason)
            _release_nominations(story, places)
            lapsed = f"voorrang vervallen na {story.case['refusals']} weigeringen"
            story.record(Move.LAPSE_PRIORITY, Event.PRIORITY_LAPSED, SYSTEM, to=Stage.WITHDRAWN, reason=lapsed)
            raise _Ended
        story.record(
            Move.REFUSE_OFFER,
            Event.OFFER_REFUSED,
            manager,
            to=Stage.OFFER,
            reason=reason,
            then=Step.OFFER,
            waiting_on=corporation,
        )


def _tenancy(story: _Story, rng: random.Random, corporation: str, consultant: str) -> str:
    """The lease is drawn up and sent for signing; a declined or expired signing means drawing it up again.
    Returns the contract form."""
    form = CONTRACT_FORMS.pick(rng)
    temporary = story.case["institution_type"] == InstitutionType.SOCIAL_SHELTER.value and rng.random() < 0.5
    while True:
        story.later(rng, 3, 14)
        story.lease = {
            "corporation": corporation,
            "contract_form": form,
            "temporary": temporary,
            "ends_on": None,
            "signed_on": None,
            "recorded_by": consultant,
        }
        story.record(
            Move.DRAW_UP_LEASE, Event.LEASE_DRAWN_UP, consultant, reason=form, then=Step.SIGNING, waiting_on=corporation
        )
        story.later(rng, 2, 10)
        if rng.random() < 0.94:
            signed_on = story.at.date()
            story.lease.update(signed_on=signed_on, ends_on=add_months(signed_on, 24) if temporary else None)
            story.record(
                Move.SIGN_LEASE, Event.LEASE_SIGNED, consultant, to=Stage.SUPPORT, reason=form, then=Step.SUPPORT
            )
            return form
        story.record(
            Move.DECLINE_SIGNING,
            Event.SIGNING_DECLINED,
            consultant,
            to=Stage.TENANCY,
            reason=rng.choice(SIGNING_DECLINES),
            then=Step.LEASE,
            waiting_on=corporation,
        )


def _support(story: _Story, rng: random.Random, people: _People, support_linked: bool) -> None:
    """Support at home arranged, then follow-up until the guided period ends."""
    story.later(rng, 5, 25)
    starts_on = story.at.date() + timedelta(days=rng.randint(0, 14))
    manager = story.case["registered_by"]
    story.support = {
        "wmo_decision": WMO_DECISIONS.pick(rng),
        "provider": story.case["care_provider"],
        "starts_on": starts_on,
        "plan_agreed": True,
        "recorded_by": manager,
    }
    story.case["next_review_on"] = add_months(starts_on, story.region.follow_up_months[0])
    story.record(Move.ARRANGE_SUPPORT, Event.SUPPORT_ARRANGED, manager, to=Stage.FOLLOW_UP, then=Step.REVIEW)
    story.case["due_on"] = story.case["next_review_on"] + story.region.due("review")
    _follow_up(story, rng, people, starts_on, support_linked)


def _follow_up(story: _Story, rng: random.Random, people: _People, starts_on: date, support_linked: bool) -> None:
    """Reviews at the region's months, as the commands hold them: a yellow card warns and brings the next review
    closer, a red card waits on the coordinator's decision; after the last review the omklap, or the end."""
    region, manager = story.region, story.case["registered_by"]
    months = region.follow_up_months
    while True:
        number = len(story.reviews) + 1
        review_on = story.case["next_review_on"] + timedelta(days=rng.randint(0, 10))
        story.at = max(datetime.combine(review_on, time(10), tzinfo=AMSTERDAM), story.at + timedelta(minutes=1))
        if story.at > story.now:
            raise _Waits
        outcome, card = REVIEW_OUTCOMES.pick(rng), CARDS.pick(rng) or None
        if outcome != ReviewOutcome.CONTINUE.value:
            card = None
        _review(story, rng, outcome, card)
        if outcome != ReviewOutcome.CONTINUE.value:
            story.record(Move.HOLD_REVIEW, Event.REVIEW_HELD, manager, reason=outcome)
            _end(story, END_OF[outcome], manager, outcome)
            return
        regular = add_months(starts_on, months[number]) if number < len(months) else None
        closer = add_months(story.at.date(), region.warning_review_months)
        if card == Card.RED.value:
            story.case["next_review_on"] = min(d for d in (regular, closer) if d is not None)
            story.record(Move.HOLD_REVIEW, Event.REVIEW_HELD, manager, reason=outcome)
            story.record(Move.OPEN_ESCALATION, Event.ESCALATION_OPENED, manager, reason=outcome, then=Step.ESCALATION)
            story.later(rng, 2, 10)
            decision, coordinator = ESCALATION_DECISIONS.pick(rng), rng.choice(people.coordinators)
            if decision != EscalationDecision.CONTINUE.value:
                story.record(Move.DECIDE_ESCALATION, Event.ESCALATION_DECIDED, coordinator, reason=decision)
                _end(story, END_OF[decision], coordinator, decision)
                return
            story.record(
                Move.DECIDE_ESCALATION, Event.ESCALATION_DECIDED, coordinator, reason=decision, then=Step.REVIEW
            )
        elif regular is None:  # the end of the guided period
            story.case["next_review_on"] = None
            waiting = Step.OMKLAP if support_linked else None
            story.record(Move.HOLD_REVIEW, Event.REVIEW_HELD, manager, reason=outcome, then=waiting)
            if card == Card.YELLOW.value:
                story.record(Move.RAISE_WARNING, Event.WARNING_RAISED, manager, reason=outcome, then=waiting)
            if not support_linked:  # a lease in the client's own name already: nothing to flip
                _end(story, Move.CLOSE_HOUSED, manager, outcome)
                return
            story.later(rng, 3, 20)
            decision, coordinator = OMKLAP_DECISIONS.pick(rng), rng.choice(people.coordinators)
            if decision == OmklapDecision.TRANSFER.value:
                story.record(Move.TRANSFER_LEASE, Event.LEASE_TRANSFERRED, coordinator, reason=decision)
                _end(story, Move.CLOSE_HOUSED, coordinator, decision)
                return
            if decision == OmklapDecision.END.value:
                _end(story, Move.CLOSE_HOUSED, coordinator, CaseOutcome.HOUSED.value)
                return
            story.case["next_review_on"] = add_months(story.at.date(), region.extension_months)
            reason = f"{region.extension_months} maanden"
            story.record(Move.EXTEND_GUIDANCE, Event.GUIDANCE_EXTENDED, coordinator, reason=reason, then=Step.REVIEW)
        else:
            story.case["next_review_on"] = min(regular, closer) if card == Card.YELLOW.value else regular
            story.record(Move.HOLD_REVIEW, Event.REVIEW_HELD, manager, reason=outcome, then=Step.REVIEW)
            if card == Card.YELLOW.value:
                story.record(Move.RAISE_WARNING, Event.WARNING_RAISED, manager, reason=outcome, then=Step.REVIEW)
        # As the commands keep it: the case waits on the next review, due some days after it.
        story.case["due_on"] = story.case["next_review_on"] + region.due("review")


def _end(story: _Story, move: Move, decided_by: str, reason: str) -> None:
    story.case["next_review_on"] = None
    target = MOVES[move].target
    assert target is not None
    story.record(move, MOVES[move].event, decided_by, to=target, reason=reason)


def _review(story: _Story, rng: random.Random, outcome: str, card: str | None) -> None:
    trouble = outcome != ReviewOutcome.CONTINUE.value or card == Card.RED.value
    worried = trouble or card == Card.YELLOW.value
    story.reviews.append(
        {
            "number": len(story.reviews) + 1,
            "due_on": story.case["next_review_on"] or story.at.date(),
            "held_on": story.at.date(),
            "living_situation": (
                LivingSituation.SERIOUS if trouble else LivingSituation.CONCERNS if worried else LivingSituation.GOOD
            ).value,
            "rent_arrears": worried and rng.random() < 0.6,
            "nuisance": trouble and rng.random() < 0.5,
            "support_reached": not trouble,
            "outcome": outcome,
            "recorded_by": story.case["registered_by"],
            "signals": f"huurachterstand:{card}" if card else "",
            "card": card,
        }
    )


def _assessment(rng: random.Random, story: _Story, assessor: str, ready: bool) -> dict[str, Any]:
    low = 3 if ready else 1
    return {
        "attempt": story.case["stage_attempt"],
        "assessed_on": story.at.date(),
        "assessor": assessor,
        "recorded_at": story.at,
        "ambulant_support_indication": rng.random() < 0.8,
        "can_live_alone_with_support": ready,
        "region_tie": story.case["region_tie"],
        **{domain: low + int(rng.random() * (6 - low)) for domain in _ZRM_COLUMNS},
    }


def _maybe_withdraw(story: _Story, rng: random.Random, people: _People, places: _Places) -> None:
    """Now and then a case is withdrawn while it waits (contact lost, another solution found)."""
    if rng.random() < 0.015:
        story.later(rng, 1, 30)
        _release_nominations(story, places)
        story.record(
            Move.WITHDRAW,
            Event.CASE_WITHDRAWN,
            rng.choice(people.coordinators),
            to=Stage.WITHDRAWN,
            reason="contact verloren",
        )
        raise _Ended


class _Ended(Exception):
    """The case reached an end stage."""


def _release_nominations(story: _Story, places: _Places) -> None:
    """A case that will not be housed through its nomination gives the contingent place back."""
    for nomination in story.nominations:
        if nomination["status"] in HOLDING:
            nomination["status"] = "released"
            places.release(nomination["region"], nomination["corporation"], nomination["year"])
    for offer in story.offers:
        if offer["answer"] is None:
            places.release(offer["region"], offer["neighbourhood"], offer["year"])


@dataclass(frozen=True)
class Generated:
    """What `generate` wrote: counts only."""

    cases: int
    transitions: int
    by_stage: dict[str, int]


def generate(
    engine: Engine,
    n: int,
    *,
    seed: int,
    regions: Mapping[str, Region],
    today: date,
    years: int = 3,
) -> Generated:
    """Write `n` synthetic cases registered over the `years` before `today` into the case database."""
    rng = random.Random(seed)
    codes = sorted(regions)
    weights = [sum(c.contingent for c in regions[code].corporations) or 1 for code in codes]
    people = {code: _People.of(regions[code]) for code in codes}
    now = datetime.combine(today, time(0), tzinfo=AMSTERDAM) - timedelta(minutes=1)
    first = now - timedelta(days=365 * years)
    span = (now - first).total_seconds()
    registered = sorted(first + timedelta(seconds=rng.uniform(0, span)) for _ in range(n))
    with engine.begin() as connection:
        places = _places(connection, regions, range(first.year, today.year + 2))
        offset = connection.execute(
            select(func.count()).select_from(Case).where(Case.reference >= synthetic_reference(0))
        ).scalar_one()
    by_stage: Counter[str] = Counter()
    transitions = 0
    for chunk_start in range(0, n, CHUNK):
        stories = []
        for i in range(chunk_start, min(n, chunk_start + CHUNK)):
            code = rng.choices(codes, weights=weights)[0]
            story = _register(rng, regions[code], people[code], synthetic_reference(offset + i), registered[i], now)
            with suppress(_Waits, _Ended):  # the case waits on its next step, or has ended
                _live(story, rng, places, people[code])
            stories.append(story)
            by_stage[story.case["stage"]] += 1
            transitions += len(story.transitions)
        with engine.begin() as connection:
            _write(connection, stories, offset + chunk_start)
    return Generated(n, transitions, dict(by_stage))


def _register(
    rng: random.Random, region: Region, people: _People, reference: str, at: datetime, now: datetime
) -> _Story:
    at = datetime.combine(at.date(), time(8 + rng.randrange(9), rng.randrange(60)), tzinfo=AMSTERDAM)
    at = min(at, now)
    manager = rng.choice(people.case_managers)
    institution = InstitutionType.SOCIAL_SHELTER if rng.random() < 0.6 else InstitutionType.SHELTERED_HOUSING
    case = {
        "reference": reference,
        "region": region.code,
        "institution_type": institution.value,
        "care_provider": rng.choice(region.care_providers).code,
        "origin_municipality": "Synthetisch",
        "registration_reason": rng.choice(REGISTRATION_REASONS),
        "region_tie": rng.random() < 0.9,
        "household_size": HOUSEHOLDS.pick(rng),
        "housing_wishes": "",
        "registered_by": manager,
        "registered_at": at,
        "stage": Stage.REGISTERED.value,
        "stage_attempt": 1,
        "stage_since": at,
        "waiting_on": None,
        "waiting_for": None,
        "due_on": None,
        "refusals": 0,
        "next_review_on": None,
        "flow_run_id": None,
    }
    story = _Story(region=region, now=now, at=at, case=case, dues=people.dues)
    story.record("register", Event.CASE_REGISTERED, manager)
    return story


def _places(connection: Connection, regions: Mapping[str, Region], years: range) -> _Places:
    """Contingent and cap rows for every year the cases may use (made from the region files where missing),
    with the places already held by cases in the database."""
    sizes: dict[tuple[str, str, int], int] = {}
    for model, code_column, size_column in (
        (Contingent, Contingent.corporation, Contingent.size),
        (NeighbourhoodQuota, NeighbourhoodQuota.neighbourhood, NeighbourhoodQuota.cap),
    ):
        existing = {
            (r, c, y): s
            for r, c, y, s in connection.execute(
                select(model.region, code_column, model.year, size_column).where(model.region.in_(list(regions)))
            )
        }
        missing = []
        for region in regions.values():
            items = (
                [(c.code, c.contingent) for c in region.corporations]
                if model is Contingent
                else [(n.code, n.yearly_cap) for n in region.neighbourhoods]
            )
            for year in years:
                for code, size in items:
                    key = (region.code, code, year)
                    if key not in existing:
                        existing[key] = size
                        missing.append(
                            {"region": region.code, code_column.key: code, "year": year, size_column.key: size}
                        )
        if missing:
            connection.execute(insert(model), missing)
        sizes.update(existing)
    held: Counter[tuple[str, str, int]] = Counter()
    for r, c, y, count in connection.execute(
        select(Nomination.region, Nomination.corporation, Nomination.year, func.count())
        .where(Nomination.status.in_(HOLDING))
        .group_by(Nomination.region, Nomination.corporation, Nomination.year)
    ):
        held[(r, c, y)] += count
    for r, c, y, count in connection.execute(
        select(Offer.region, Offer.neighbourhood, Offer.year, func.count())
        .where(Offer.answer.is_(None) | (Offer.answer == "accepted"))
        .group_by(Offer.region, Offer.neighbourhood, Offer.year)
    ):
        held[(r, c, y)] += count
    return _Places(sizes, held)


def _write(connection: Connection, stories: list[_Story], first_number: int) -> None:
    """Insert one chunk of stories: clients and cases first (for their ids), then everything that points at them."""
    clients = [
        {"full_name": f"Proefpersoon {first_number + i + 1:06d}", "consent_on": story.case["registered_at"].date()}
        for i, story in enumerate(stories)
    ]
    client_ids = _insert(connection, Client, clients, ids=True)
    cases = [{**story.case, "client_id": cid} for story, cid in zip(stories, client_ids, strict=True)]
    case_ids = _insert(connection, Case, cases, ids=True)
    for model, rows_of in (
        (Transition, lambda s: s.transitions),
        (Assessment, lambda s: s.assessments),
        (Nomination, lambda s: s.nominations),
        (Offer, lambda s: s.offers),
        (Review, lambda s: s.reviews),
        (Lease, lambda s: [s.lease] if s.lease else []),
        (SupportArrangement, lambda s: [s.support] if s.support else []),
    ):
        rows = [{**row, "case_id": cid} for story, cid in zip(stories, case_ids, strict=True) for row in rows_of(story)]
        if rows:
            _insert(connection, model, rows)
    # The milestone days the commands keep beside each case that reached one, from the history just written.
    reached = [
        (cid, first_days((t["event"], t["at"]) for t in story.transitions))
        for story, cid in zip(stories, case_ids, strict=True)
    ]
    nothing = dict.fromkeys(MILESTONES)
    rows = [{"case_id": cid, **nothing, **days} for cid, days in reached if days]
    if rows:
        _insert(connection, CaseMilestones, rows)


def _insert(connection: Connection, model: Any, rows: list[dict[str, Any]], ids: bool = False) -> list[int]:
    """Bulk insert without SQLAlchemy's per-row work (most of the time otherwise): COPY on PostgreSQL, executemany of
    values converted by the column types' own bind processors on SQLite. Returns the new ids when asked."""
    table, postgresql = model.__table__, connection.dialect.name == "postgresql"
    new_ids: list[int] = []
    if ids and not postgresql:
        statement = insert(model).returning(model.id, sort_by_parameter_order=True)
        return list(connection.execute(statement, rows).scalars())
    if ids:
        sequence = f"nextval(pg_get_serial_sequence('{table.name}', 'id'))"
        series = text(f"SELECT {sequence} FROM generate_series(1, :n)")
        new_ids = list(connection.execute(series, {"n": len(rows)}).scalars())
        rows = [{"id": new_id, **row} for new_id, row in zip(new_ids, rows, strict=True)]
    columns = list(rows[0])
    names = ", ".join(columns)
    driver = connection.connection.driver_connection  # the DBAPI connection, inside this transaction
    assert driver is not None
    if postgresql:
        with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[column] for column in columns])
        return new_ids
    values = []
    for column in columns:
        to_sql = table.c[column].type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
        values.append([row[column] if to_sql is None else to_sql(row[column]) for row in rows])
    marks = ", ".join("?" * len(columns))
    driver.cursor().executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", zip(*values, strict=True))
    return new_ids


def run(args: argparse.Namespace) -> int:
    """Fill the case database of the settings (WEERTHUIS_…) with synthetic cases and print what was written."""
    from config.regions import load_regions
    from config.settings import Settings
    from weerthuis.casedb.engine import make_engine
    from weerthuis.casedb.migrate import upgrade

    settings = Settings()
    regions = load_regions(settings.regions_dir)
    unknown = sorted(set(args.regio or []) - set(regions))
    if unknown:
        print(f"Fout: onbekende regio {', '.join(unknown)}; bekend: {', '.join(sorted(regions))}.", file=sys.stderr)
        return 2
    chosen = {code: regions[code] for code in args.regio} if args.regio else regions
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        generated = generate(
            engine, args.cases, seed=args.seed, regions=chosen, today=datetime.now(AMSTERDAM).date(), years=args.years
        )
    finally:
        engine.dispose()
    stages = ", ".join(f"{Stage(s).label} {n}" for s, n in sorted(generated.by_stage.items(), key=lambda i: -i[1]))
    print(f"{generated.cases} synthetische zaken met {generated.transitions} overgangen geschreven: {stages}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    from weerthuis.monitor.command import synthetic_arguments

    parser = argparse.ArgumentParser(prog="python -m weerthuis.synthetic", description=__doc__.splitlines()[0])
    synthetic_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
