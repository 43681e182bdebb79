"""The one table of allowed moves between stages, and the transition function that applies it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from weerthuis.domain.stages import ACTIVE_STAGES, HOUSING_STAGES, Stage


class Move(StrEnum):
    """A command that changes (or re-enters) a case's stage."""

    START_ASSESSMENT = "start_assessment"
    APPROVE_READINESS = "approve_readiness"
    POSTPONE_READINESS = "postpone_readiness"
    ACCEPT_NOMINATION = "accept_nomination"
    DECLINE_NOMINATION = "decline_nomination"
    ACCEPT_OFFER = "accept_offer"
    REFUSE_OFFER = "refuse_offer"
    LAPSE_PRIORITY = "lapse_priority"
    SIGN_LEASE = "sign_lease"
    DECLINE_SIGNING = "decline_signing"
    ARRANGE_SUPPORT = "arrange_support"
    CLOSE_HOUSED = "close_housed"
    RECORD_RELAPSE = "record_relapse"
    RECORD_EVICTION = "record_eviction"
    RECORD_MOVE_AWAY = "record_move_away"
    WITHDRAW = "withdraw"
    # Steps recorded within a stage: the case stays where it is.
    RECORD_ASSESSMENT = "record_assessment"
    PROPOSE_NOMINATION = "propose_nomination"
    MAKE_OFFER = "make_offer"
    DRAW_UP_LEASE = "draw_up_lease"
    HOLD_REVIEW = "hold_review"
    RAISE_WARNING = "raise_warning"
    OPEN_ESCALATION = "open_escalation"
    DECIDE_ESCALATION = "decide_escalation"
    TRANSFER_LEASE = "transfer_lease"
    EXTEND_GUIDANCE = "extend_guidance"


class Event(StrEnum):
    """What happened to a case, in the past tense; the history and the side-effect table speak in these."""

    CASE_REGISTERED = "CaseRegistered"
    ASSESSMENT_STARTED = "AssessmentStarted"
    ASSESSMENT_RECORDED = "AssessmentRecorded"
    READINESS_APPROVED = "ReadinessApproved"
    READINESS_POSTPONED = "ReadinessPostponed"
    NOMINATION_PROPOSED = "NominationProposed"
    NOMINATION_ACCEPTED = "NominationAccepted"
    NOMINATION_DECLINED = "NominationDeclined"
    OFFER_MADE = "OfferMade"
    OFFER_ACCEPTED = "OfferAccepted"
    OFFER_REFUSED = "OfferRefused"
    PRIORITY_LAPSED = "PriorityLapsed"
    LEASE_DRAWN_UP = "LeaseDrawnUp"
    SIGNING_DECLINED = "SigningDeclined"
    LEASE_SIGNED = "LeaseSigned"
    SUPPORT_ARRANGED = "SupportArranged"
    REVIEW_HELD = "ReviewHeld"
    WARNING_RAISED = "WarningRaised"
    ESCALATION_OPENED = "EscalationOpened"
    ESCALATION_DECIDED = "EscalationDecided"
    LEASE_TRANSFERRED = "LeaseTransferred"
    GUIDANCE_EXTENDED = "GuidanceExtended"
    CASE_CLOSED = "CaseClosed"
    CASE_RELAPSED = "CaseRelapsed"
    TENANT_EVICTED = "TenantEvicted"
    CLIENT_MOVED_AWAY = "ClientMovedAway"
    CASE_WITHDRAWN = "CaseWithdrawn"


EVENT_LABELS: dict[Event, str] = {
    Event.CASE_REGISTERED: "aangemeld",
    Event.ASSESSMENT_STARTED: "beoordeling gestart",
    Event.ASSESSMENT_RECORDED: "ZRM-meting vastgelegd",
    Event.READINESS_APPROVED: "klaar voor uitstroom",
    Event.READINESS_POSTPONED: "nog niet klaar",
    Event.NOMINATION_PROPOSED: "voorgedragen",
    Event.NOMINATION_ACCEPTED: "voordracht geaccepteerd",
    Event.NOMINATION_DECLINED: "voordracht afgewezen",
    Event.OFFER_MADE: "woning aangeboden",
    Event.OFFER_ACCEPTED: "aanbod geaccepteerd",
    Event.OFFER_REFUSED: "aanbod geweigerd",
    Event.PRIORITY_LAPSED: "voorrang vervallen",
    Event.LEASE_DRAWN_UP: "huurovereenkomst opgesteld en ter ondertekening verstuurd",
    Event.SIGNING_DECLINED: "ondertekening geweigerd of verlopen",
    Event.LEASE_SIGNED: "huurovereenkomst getekend",
    Event.SUPPORT_ARRANGED: "begeleiding aan huis geregeld",
    Event.REVIEW_HELD: "nazorgmoment gehouden",
    Event.WARNING_RAISED: "gele kaart: waarschuwing",
    Event.ESCALATION_OPENED: "rode kaart: escalatie naar de coördinator",
    Event.ESCALATION_DECIDED: "besluit op de escalatie",
    Event.LEASE_TRANSFERRED: "omklap: huurcontract op eigen naam",
    Event.GUIDANCE_EXTENDED: "begeleiding verlengd",
    Event.CASE_CLOSED: "afgesloten: gehuisvest",
    Event.CASE_RELAPSED: "teruggevallen",
    Event.TENANT_EVICTED: "ontruimd",
    Event.CLIENT_MOVED_AWAY: "verhuisd naar andere regio",
    Event.CASE_WITHDRAWN: "teruggetrokken",
}


@dataclass(frozen=True)
class Rule:
    sources: frozenset[Stage]
    target: Stage | None  # None: a step recorded within the stage, which keeps the case where it is
    event: Event


def _from(*stages: Stage) -> frozenset[Stage]:
    return frozenset(stages)


MOVES: dict[Move, Rule] = {
    Move.START_ASSESSMENT: Rule(_from(Stage.REGISTERED), Stage.READINESS, Event.ASSESSMENT_STARTED),
    Move.APPROVE_READINESS: Rule(_from(Stage.READINESS), Stage.NOMINATION, Event.READINESS_APPROVED),
    # Not yet ready: the case re-enters readiness and is re-assessed after the region's period.
    Move.POSTPONE_READINESS: Rule(_from(Stage.READINESS), Stage.READINESS, Event.READINESS_POSTPONED),
    Move.ACCEPT_NOMINATION: Rule(_from(Stage.NOMINATION), Stage.OFFER, Event.NOMINATION_ACCEPTED),
    # Declined: the case re-enters nomination and goes to the next corporation.
    Move.DECLINE_NOMINATION: Rule(_from(Stage.NOMINATION), Stage.NOMINATION, Event.NOMINATION_DECLINED),
    Move.ACCEPT_OFFER: Rule(_from(Stage.OFFER), Stage.TENANCY, Event.OFFER_ACCEPTED),
    # Refused: back to matching for another dwelling, until the region's refusal limit.
    Move.REFUSE_OFFER: Rule(_from(Stage.OFFER), Stage.OFFER, Event.OFFER_REFUSED),
    Move.LAPSE_PRIORITY: Rule(_from(Stage.OFFER), Stage.WITHDRAWN, Event.PRIORITY_LAPSED),
    Move.SIGN_LEASE: Rule(_from(Stage.TENANCY), Stage.SUPPORT, Event.LEASE_SIGNED),
    # Not signed (declined, or the signing expired): the lease is drawn up again in a new attempt.
    Move.DECLINE_SIGNING: Rule(_from(Stage.TENANCY), Stage.TENANCY, Event.SIGNING_DECLINED),
    Move.ARRANGE_SUPPORT: Rule(_from(Stage.SUPPORT), Stage.FOLLOW_UP, Event.SUPPORT_ARRANGED),
    Move.CLOSE_HOUSED: Rule(_from(Stage.FOLLOW_UP), Stage.CLOSED, Event.CASE_CLOSED),
    Move.RECORD_EVICTION: Rule(_from(Stage.FOLLOW_UP), Stage.EVICTED, Event.TENANT_EVICTED),
    Move.RECORD_MOVE_AWAY: Rule(_from(Stage.FOLLOW_UP), Stage.MOVED, Event.CLIENT_MOVED_AWAY),
    Move.RECORD_RELAPSE: Rule(HOUSING_STAGES, Stage.RELAPSED, Event.CASE_RELAPSED),
    Move.WITHDRAW: Rule(ACTIVE_STAGES, Stage.WITHDRAWN, Event.CASE_WITHDRAWN),
    Move.RECORD_ASSESSMENT: Rule(_from(Stage.READINESS), None, Event.ASSESSMENT_RECORDED),
    Move.PROPOSE_NOMINATION: Rule(_from(Stage.NOMINATION), None, Event.NOMINATION_PROPOSED),
    Move.MAKE_OFFER: Rule(_from(Stage.OFFER), None, Event.OFFER_MADE),
    Move.DRAW_UP_LEASE: Rule(_from(Stage.TENANCY), None, Event.LEASE_DRAWN_UP),
    Move.HOLD_REVIEW: Rule(_from(Stage.FOLLOW_UP), None, Event.REVIEW_HELD),
    Move.RAISE_WARNING: Rule(_from(Stage.FOLLOW_UP), None, Event.WARNING_RAISED),
    Move.OPEN_ESCALATION: Rule(_from(Stage.FOLLOW_UP), None, Event.ESCALATION_OPENED),
    Move.DECIDE_ESCALATION: Rule(_from(Stage.FOLLOW_UP), None, Event.ESCALATION_DECIDED),
    Move.TRANSFER_LEASE: Rule(_from(Stage.FOLLOW_UP), None, Event.LEASE_TRANSFERRED),
    Move.EXTEND_GUIDANCE: Rule(_from(Stage.FOLLOW_UP), None, Event.GUIDANCE_EXTENDED),
}


class IllegalMove(Exception):
    """A move the table does not allow from the case's current stage."""

    def __init__(self, reference: str, stage: Stage, move: Move) -> None:
        allowed = ", ".join(sorted(m.value for m in allowed_moves(stage))) or "geen"
        super().__init__(
            f"Zaak {reference}: '{move.value}' is niet toegestaan in fase {stage.value} ({stage.label}); "
            f"toegestaan: {allowed}"
        )
        self.reference = reference
        self.stage = stage
        self.move = move


def enters_stage(move: Move) -> bool:
    """True for moves that (re-)enter a stage, false for steps recorded within one."""
    return MOVES[move].target is not None


def allowed_moves(stage: Stage) -> frozenset[Move]:
    """Every move the table allows from this stage."""
    return frozenset(move for move, rule in MOVES.items() if stage in rule.sources)


def can(stage: Stage, move: Move) -> bool:
    return stage in MOVES[move].sources


@dataclass(frozen=True)
class Transition:
    """One row of a case's history: an allowed move, who decided it and why."""

    reference: str
    move: Move
    event: Event
    from_stage: Stage
    to_stage: Stage
    attempt: int
    decided_by: str
    at: datetime
    reason: str = ""


def transition(
    reference: str,
    stage: Stage,
    move: Move,
    *,
    entries: dict[Stage, int],
    decided_by: str,
    at: datetime,
    reason: str = "",
) -> Transition:
    """Apply `move` to a case in `stage`; `entries` counts how often the case entered each stage so far.

    Entering a stage (again) starts a new attempt there; a step within the stage keeps the current attempt.
    """
    if not can(stage, move):
        raise IllegalMove(reference, stage, move)
    rule = MOVES[move]
    target = stage if rule.target is None else rule.target
    attempt = entries.get(stage, 1) if rule.target is None else entries.get(target, 0) + 1
    return Transition(
        reference=reference,
        move=move,
        event=rule.event,
        from_stage=stage,
        to_stage=target,
        attempt=attempt,
        decided_by=decided_by,
        at=at,
        reason=reason,
    )


def after_refusal(refusals_so_far: int, limit: int) -> Move:
    """The move a refused offer makes: back to matching, or the priority lapses at the region's limit."""
    return Move.LAPSE_PRIORITY if refusals_so_far + 1 >= limit else Move.REFUSE_OFFER
