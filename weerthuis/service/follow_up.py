"""Follow-up commands: the reviews after the keys, the red card's escalation and the omklap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import select

from weerthuis.casedb.models import (
    Lease,
    Review,
    ReviewSignals,
    SupportArrangement,
)
from weerthuis.domain import rules
from weerthuis.domain.calendar import add_months
from weerthuis.domain.moves import Move
from weerthuis.domain.procedure import Step
from weerthuis.domain.rules import END_OF_ESCALATION, END_OF_OMKLAP
from weerthuis.domain.vocabulary import (
    CaseOutcome,
    ContractForm,
    EscalationDecision,
    LivingSituation,
    OmklapDecision,
    ReviewOutcome,
)
from weerthuis.service.base import CaseworkBase
from weerthuis.service.errors import InvalidAnswer


class FollowUpCommands(CaseworkBase):
    def hold_review(
        self,
        reference: str,
        attempt: int,
        number: int,
        *,
        held_on: date,
        living_situation: str,
        rent_arrears: bool,
        nuisance: bool,
        support_reached: bool,
        outcome: ReviewOutcome,
        decided_by: str,
        signals: tuple[str, ...] = (),
    ) -> None:
        """A review held. `signals` are what the corporation and the care provider reported since the last one
        (weerthuis.domain.follow_up); with the review they earn a card: yellow warns and brings the next review
        closer, red waits on the coordinator. After the last review of the guided period comes the omklap."""
        with self._uow() as uow:
            case = self._open(uow, reference, attempt, Step.REVIEW)
            if case is None:
                return
            done = uow.session.execute(select(Review.id).filter_by(case_id=case.id, number=number)).scalar_one_or_none()
            if done is not None:
                return
            self._check_decider(uow.session, case, Step.REVIEW, decided_by)
            if held_on > self.today():
                raise InvalidAnswer("De datum van het nazorgmoment ligt in de toekomst.")
            region = self.regions[case.region]
            support = uow.session.execute(select(SupportArrangement).filter_by(case_id=case.id)).scalar_one()
            lease = uow.session.execute(select(Lease).filter_by(case_id=case.id)).scalar_one()
            review = rules.Review(
                number=number,
                held_on=held_on,
                living_situation=LivingSituation(living_situation),
                rent_arrears=rent_arrears,
                nuisance=nuisance,
                support_reached=support_reached,
                outcome=outcome,
                signals=signals,
            )
            plan = rules.FollowUpPlan(
                support_started_on=support.starts_on,
                review_months=tuple(region.follow_up_months),
                warning_review_months=region.warning_review_months,
                lease_in_own_name=lease.contract_form == ContractForm.REGULAR.value,  # nothing to flip
            )
            after = rules.after_review(review, plan)
            uow.session.add(
                Review(
                    case_id=case.id,
                    number=number,
                    due_on=case.next_review_on or held_on,
                    held_on=held_on,
                    living_situation=living_situation,
                    rent_arrears=rent_arrears,
                    nuisance=nuisance,
                    support_reached=support_reached,
                    outcome=outcome.value,
                    recorded_by=decided_by,
                    signals=",".join(signals)[:200],
                    card=after.card.value if after.card else None,
                )
            )
            uow.session.flush()
            if outcome is ReviewOutcome.CONTINUE:
                case.next_review_on = after.next_review_on
            for move, waiting in after.moves:
                due = (
                    case.next_review_on + region.due("review")
                    if waiting is Step.REVIEW and case.next_review_on
                    else None
                )
                self._apply(
                    uow, case, move, decided_by=decided_by, reason=after.reason, waiting_for=waiting, due_on=due
                )
            if after.end is not None:
                self._end(uow, case, after.end, decided_by=decided_by, reason=after.reason)
            uow.commit()

    def decide_escalation(self, reference: str, attempt: int, decision: EscalationDecision, decided_by: str) -> None:
        """The coordinator's decision on a red card: extra effort and follow-up goes on, or the case ends."""
        with self._uow() as uow:
            case = self._answering(uow, reference, attempt, Step.ESCALATION, decided_by)
            if case is None:
                return
            why = decision.value
            if decision is EscalationDecision.CONTINUE:
                region = self.regions[case.region]
                due = (case.next_review_on or self.today()) + region.due("review")
                self._apply(
                    uow,
                    case,
                    Move.DECIDE_ESCALATION,
                    decided_by=decided_by,
                    reason=why,
                    waiting_for=Step.REVIEW,
                    due_on=due,
                )
            else:
                self._apply(uow, case, Move.DECIDE_ESCALATION, decided_by=decided_by, reason=why)
                self._end(uow, case, END_OF_ESCALATION[decision], decided_by=decided_by, reason=why)
            uow.commit()

    def decide_omklap(
        self,
        reference: str,
        attempt: int,
        decision: OmklapDecision,
        decided_by: str,
        outcome: CaseOutcome | None = None,
    ) -> None:
        """The end of the guided period: flip the lease to the client's own name (housed), extend the guidance by
        the region's months (another review), or end the case with its outcome."""
        with self._uow() as uow:
            case = self._answering(uow, reference, attempt, Step.OMKLAP, decided_by)
            if case is None:
                return
            region = self.regions[case.region]
            if decision is OmklapDecision.TRANSFER:
                self._apply(uow, case, Move.TRANSFER_LEASE, decided_by=decided_by, reason=decision.value)
                self._end(uow, case, Move.CLOSE_HOUSED, decided_by=decided_by, reason=decision.value)
            elif decision is OmklapDecision.EXTEND:
                case.next_review_on = add_months(self.today(), region.extension_months)
                self._apply(
                    uow,
                    case,
                    Move.EXTEND_GUIDANCE,
                    decided_by=decided_by,
                    reason=f"{region.extension_months} maanden",
                    waiting_for=Step.REVIEW,
                    due_on=case.next_review_on + region.due("review"),
                )
            else:
                if outcome is None:
                    raise InvalidAnswer("Kies bij beëindigen de uitkomst van de zaak.")
                if outcome is CaseOutcome.WITHDRAWN:
                    self._withdraw(uow, case, decided_by, outcome.value)
                else:
                    self._end(uow, case, END_OF_OMKLAP[outcome], decided_by=decided_by, reason=outcome.value)
            uow.commit()

    def review_signals(
        self, reference: str, number: int, gather: Callable[[], tuple[str, ...] | None]
    ) -> tuple[tuple[str, ...], bool]:
        """The signals of review `number`, gathered once (`gather`; None: the counterparts could not be read) and
        kept; afterwards, and on every replay, the kept ones. Returns the signals and whether they could be read."""
        with self._uow() as uow:
            case = uow.case(reference)
            kept = uow.session.execute(
                select(ReviewSignals).filter_by(case_id=case.id, number=number)
            ).scalar_one_or_none()
            if kept is not None:
                return tuple(s for s in kept.signals.split(",") if s), kept.read
        found = gather()
        with self._uow() as uow:
            case = uow.case(reference, lock=True)
            kept = uow.session.execute(
                select(ReviewSignals).filter_by(case_id=case.id, number=number)
            ).scalar_one_or_none()
            if kept is None:
                kept = ReviewSignals(
                    case_id=case.id,
                    number=number,
                    signals=",".join(found or ())[:200],
                    read=found is not None,
                    at=self.now(),
                )
                uow.session.add(kept)
                uow.commit()
            return tuple(s for s in kept.signals.split(",") if s), kept.read
