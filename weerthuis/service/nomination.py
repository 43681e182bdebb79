"""Nomination commands: a coordinator nominates to a corporation (claiming a contingent place); it answers."""

from __future__ import annotations

from weerthuis.casedb import quota
from weerthuis.casedb.models import (
    Nomination,
)
from weerthuis.domain.moves import Move
from weerthuis.domain.procedure import Step
from weerthuis.domain.vocabulary import (
    DeclineReason,
    NominationAnswer,
)
from weerthuis.service.base import CaseworkBase
from weerthuis.service.effects import (
    current_row,
)
from weerthuis.service.errors import InvalidAnswer


class NominationCommands(CaseworkBase):
    def propose_nomination(self, reference: str, attempt: int, corporation: str, decided_by: str) -> None:
        """Nominate the case to a corporation, claiming a place in its contingent or refusing clearly."""
        with self._uow() as uow:
            case = self._answering(uow, reference, attempt, Step.NOMINATION_PROPOSAL, decided_by)
            if case is None:
                return
            region = self.regions[case.region]
            if corporation not in {c.code for c in region.corporations}:
                raise InvalidAnswer(f"Corporatie '{corporation}' werkt niet in regio {region.name}.")
            year = self.today().year
            quota.claim_contingent_place(uow.session, region, corporation, year)
            uow.session.add(
                Nomination(
                    case_id=case.id,
                    attempt=attempt,
                    region=region.code,
                    corporation=corporation,
                    year=year,
                    status="proposed",
                    proposed_by=decided_by,
                    proposed_at=self.now(),
                )
            )
            uow.session.flush()
            self._apply(
                uow,
                case,
                Move.PROPOSE_NOMINATION,
                decided_by=decided_by,
                waiting_for=Step.NOMINATION_RESPONSE,
                reason=f"voorgedragen aan {corporation}",
            )
            uow.commit()

    def answer_nomination(
        self,
        reference: str,
        attempt: int,
        answer: NominationAnswer,
        decided_by: str,
        reason: DeclineReason | None = None,
    ) -> None:
        with self._uow() as uow:
            case = self._answering(uow, reference, attempt, Step.NOMINATION_RESPONSE, decided_by)
            if case is None:
                return
            nomination = current_row(uow.session, Nomination, case)
            nomination.answered_by, nomination.answered_at = decided_by, self.now()
            if answer is NominationAnswer.ACCEPTED:
                nomination.status = "accepted"
                self._apply(uow, case, Move.ACCEPT_NOMINATION, decided_by=decided_by, waiting_for=Step.OFFER)
            else:
                if reason is None:
                    raise InvalidAnswer("Geef bij een afwijzing de reden op.")
                nomination.status, nomination.decline_reason = "declined", reason.value
                self._apply(
                    uow,
                    case,
                    Move.DECLINE_NOMINATION,
                    decided_by=decided_by,
                    reason=reason.value,
                    waiting_for=Step.NOMINATION_PROPOSAL,
                )
            uow.commit()
