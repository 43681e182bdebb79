"""The procedure, written down once: one row per step a case waits on, in the order a case meets them.

A row says in which stage the step is taken, which moves an answer to it may make (read against the table of
moves in `moves.py`), who decides it and for which organisation, how many days it may take (the key into a
region's `due_days`), its Dutch label, the milestone it reaches, whose system may answer it through an API, and
which mail asks for it. Everything else reads the procedure from here: the commands, the flows' gates, the
worklist, the reminders, the monitor's order of stages and the synthetic generator.

To add a step: a member of `Step`, a row here (its moves must be allowed in its stage), a field of the same name
as `due` in `config.regions.DueDays`, a command in `weerthuis.service`, and a gate with its form in `flows/gates`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from notifications.events import MailEvent
from weerthuis.domain.moves import MOVES, Move
from weerthuis.domain.stages import Stage
from weerthuis.domain.vocabulary import Role


class Step(StrEnum):
    ASSESSMENT = "assessment"
    READINESS_DECISION = "decision"
    NOMINATION_PROPOSAL = "proposal"
    NOMINATION_RESPONSE = "response"
    OFFER = "offer"
    OFFER_RESPONSE = "answer"
    LEASE = "lease"
    SIGNING = "signing"
    SUPPORT = "support"
    REVIEW = "review"
    ESCALATION = "escalation"
    OMKLAP = "omklap"


class DecidedFor(StrEnum):
    """For whom the deciders of a step work."""

    REGION = "region"  # anyone with the role in the case's region (a case manager: of the client's care provider)
    CORPORATION = "corporation"  # only the consultants of the corporation the case is nominated to


class Counterpart(StrEnum):
    """A connected system that may answer a step through its API instead of a person in a form."""

    CORPORATION = "corporation"  # the corporation the case is with
    ESIGN = "esign"  # the region's e-signature service
    CARE_PROVIDER = "care_provider"  # the client's care provider


@dataclass(frozen=True)
class StepRule:
    stage: Stage
    roles: tuple[Role, ...]  # who may decide; the first is who the case waits on
    moves: frozenset[Move]  # what an answer to the step may record
    due: str  # the region's due_days field
    label: str  # Dutch, for summaries, the worklist and mail
    decided_for: DecidedFor = DecidedFor.REGION
    counterpart: Counterpart | None = None
    asking_mail: MailEvent = MailEvent.DECISION_NEEDED
    milestone: tuple[str, Move] | None = None  # (milestone, the move that reaches it the first time)


def _moves(*moves: Move) -> frozenset[Move]:
    return frozenset(moves)


_ENDS = (Move.CLOSE_HOUSED, Move.RECORD_RELAPSE, Move.RECORD_EVICTION, Move.RECORD_MOVE_AWAY)

PROCEDURE: dict[Step, StepRule] = {
    Step.ASSESSMENT: StepRule(
        Stage.READINESS,
        (Role.CASE_MANAGER,),
        _moves(Move.RECORD_ASSESSMENT),
        "readiness_assessment",
        "ZRM-meting invullen",
    ),
    Step.READINESS_DECISION: StepRule(
        Stage.READINESS,
        (Role.COORDINATOR,),
        _moves(Move.APPROVE_READINESS, Move.POSTPONE_READINESS, Move.WITHDRAW),
        "readiness_decision",
        "besluit klaar voor uitstroom",
    ),
    Step.NOMINATION_PROPOSAL: StepRule(
        Stage.NOMINATION,
        (Role.COORDINATOR,),
        _moves(Move.PROPOSE_NOMINATION),
        "nomination_proposal",
        "voordracht aan een corporatie",
        milestone=("nominated", Move.PROPOSE_NOMINATION),
    ),
    Step.NOMINATION_RESPONSE: StepRule(
        Stage.NOMINATION,
        (Role.CORPORATION_CONSULTANT,),
        _moves(Move.ACCEPT_NOMINATION, Move.DECLINE_NOMINATION),
        "nomination_response",
        "reactie op de voordracht",
        decided_for=DecidedFor.CORPORATION,
        counterpart=Counterpart.CORPORATION,
        asking_mail=MailEvent.NOMINATION,
    ),
    Step.OFFER: StepRule(
        Stage.OFFER,
        (Role.CORPORATION_CONSULTANT,),
        _moves(Move.MAKE_OFFER),
        "offer",
        "woning aanbieden",
        decided_for=DecidedFor.CORPORATION,
        counterpart=Counterpart.CORPORATION,
        milestone=("offered", Move.MAKE_OFFER),
    ),
    Step.OFFER_RESPONSE: StepRule(
        Stage.OFFER,
        (Role.CASE_MANAGER,),
        _moves(Move.ACCEPT_OFFER, Move.REFUSE_OFFER, Move.LAPSE_PRIORITY),
        "offer_response",
        "reactie op het aanbod",
        asking_mail=MailEvent.OFFER,
    ),
    Step.LEASE: StepRule(
        Stage.TENANCY,
        (Role.CORPORATION_CONSULTANT,),
        _moves(Move.DRAW_UP_LEASE),
        "lease",
        "huurovereenkomst opstellen",
        decided_for=DecidedFor.CORPORATION,
    ),
    Step.SIGNING: StepRule(
        Stage.TENANCY,
        (Role.CORPORATION_CONSULTANT,),
        _moves(Move.SIGN_LEASE, Move.DECLINE_SIGNING),
        "signing",
        "huurovereenkomst laten ondertekenen",
        decided_for=DecidedFor.CORPORATION,
        counterpart=Counterpart.ESIGN,
    ),
    Step.SUPPORT: StepRule(
        Stage.SUPPORT,
        (Role.CASE_MANAGER, Role.WMO_CONSULTANT),
        _moves(Move.ARRANGE_SUPPORT),
        "support",
        "begeleiding aan huis regelen",
        counterpart=Counterpart.CARE_PROVIDER,
    ),
    Step.REVIEW: StepRule(
        Stage.FOLLOW_UP,
        (Role.CASE_MANAGER,),
        _moves(Move.HOLD_REVIEW, Move.RAISE_WARNING, Move.OPEN_ESCALATION, *_ENDS),
        "review",
        "nazorgmoment houden",
        asking_mail=MailEvent.FOLLOW_UP_DUE,
    ),
    Step.ESCALATION: StepRule(
        Stage.FOLLOW_UP,
        (Role.COORDINATOR,),
        _moves(Move.DECIDE_ESCALATION, *_ENDS[1:]),
        "escalation",
        "besluit bij rode kaart (risico op uitzetting)",
    ),
    Step.OMKLAP: StepRule(
        Stage.FOLLOW_UP,
        (Role.COORDINATOR,),
        _moves(Move.TRANSFER_LEASE, Move.EXTEND_GUIDANCE, Move.WITHDRAW, *_ENDS),
        "omklap",
        "omklap: huurcontract op eigen naam?",
        milestone=("transferred", Move.TRANSFER_LEASE),
    ),
}

# The stages a case enters after registration, in procedure order (the order of the rows).
STAGES: tuple[Stage, ...] = tuple(dict.fromkeys(rule.stage for rule in PROCEDURE.values()))
# Steps whose decider works for the corporation the case is with, not just anywhere in the region.
CORPORATION_STEPS = frozenset(step for step, rule in PROCEDURE.items() if rule.decided_for is DecidedFor.CORPORATION)


def steps_in(stage: Stage) -> tuple[Step, ...]:
    """The steps of one stage, in procedure order."""
    return tuple(step for step, rule in PROCEDURE.items() if rule.stage is stage)


def check(procedure: dict[Step, StepRule]) -> list[str]:
    """What is wrong with a procedure table (empty: nothing): every move of a step must be allowed in its stage."""
    wrong = []
    for step, rule in procedure.items():
        if not rule.roles:
            wrong.append(f"{step.value}: niemand beslist")
        for move in sorted(rule.moves):
            if rule.stage not in MOVES[move].sources:
                wrong.append(f"{step.value}: {move.value} kan niet in fase {rule.stage.value}")
        if rule.milestone is not None and rule.milestone[1] not in rule.moves:
            wrong.append(f"{step.value}: mijlpaal {rule.milestone[0]} via een zet die de stap niet maakt")
    return wrong
