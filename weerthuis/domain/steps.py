"""The waiting steps: which human decision a case waits on, in which stage, from which roles."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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


@dataclass(frozen=True)
class StepRule:
    stage: Stage
    roles: tuple[Role, ...]
    due: str  # the region's due_days field
    label: str  # Dutch, for summaries and mail


STEPS: dict[Step, StepRule] = {
    Step.ASSESSMENT: StepRule(Stage.READINESS, (Role.CASE_MANAGER,), "readiness_assessment", "ZRM-meting invullen"),
    Step.READINESS_DECISION: StepRule(
        Stage.READINESS, (Role.COORDINATOR,), "readiness_decision", "besluit klaar voor uitstroom"
    ),
    Step.NOMINATION_PROPOSAL: StepRule(
        Stage.NOMINATION, (Role.COORDINATOR,), "nomination_proposal", "voordracht aan een corporatie"
    ),
    Step.NOMINATION_RESPONSE: StepRule(
        Stage.NOMINATION, (Role.CORPORATION_CONSULTANT,), "nomination_response", "reactie op de voordracht"
    ),
    Step.OFFER: StepRule(Stage.OFFER, (Role.CORPORATION_CONSULTANT,), "offer", "woning aanbieden"),
    Step.OFFER_RESPONSE: StepRule(Stage.OFFER, (Role.CASE_MANAGER,), "offer_response", "reactie op het aanbod"),
    Step.LEASE: StepRule(Stage.TENANCY, (Role.CORPORATION_CONSULTANT,), "lease", "huurovereenkomst opstellen"),
    Step.SIGNING: StepRule(
        Stage.TENANCY, (Role.CORPORATION_CONSULTANT,), "signing", "huurovereenkomst laten ondertekenen"
    ),
    Step.SUPPORT: StepRule(
        Stage.SUPPORT, (Role.CASE_MANAGER, Role.WMO_CONSULTANT), "support", "begeleiding aan huis regelen"
    ),
    Step.REVIEW: StepRule(Stage.FOLLOW_UP, (Role.CASE_MANAGER,), "review", "nazorgmoment houden"),
    Step.ESCALATION: StepRule(
        Stage.FOLLOW_UP, (Role.COORDINATOR,), "escalation", "besluit bij rode kaart (risico op uitzetting)"
    ),
    Step.OMKLAP: StepRule(Stage.FOLLOW_UP, (Role.COORDINATOR,), "omklap", "omklap: huurcontract op eigen naam?"),
}

# Steps whose decider works for the corporation the case is with, not just anywhere in the region.
CORPORATION_STEPS = frozenset({Step.NOMINATION_RESPONSE, Step.OFFER, Step.LEASE, Step.SIGNING})
