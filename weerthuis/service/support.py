"""Support command: support at home is arranged and the first review planned."""

from __future__ import annotations

from datetime import date

from weerthuis.casedb.models import (
    SupportArrangement,
)
from weerthuis.domain.calendar import add_months
from weerthuis.domain.moves import Move
from weerthuis.domain.procedure import Step
from weerthuis.domain.vocabulary import (
    WmoDecision,
)
from weerthuis.service.base import CaseworkBase
from weerthuis.service.errors import InvalidAnswer


class SupportCommands(CaseworkBase):
    def arrange_support(
        self,
        reference: str,
        attempt: int,
        *,
        wmo_decision: WmoDecision,
        provider: str,
        starts_on: date,
        plan_agreed: bool,
        decided_by: str,
    ) -> None:
        with self._uow() as uow:
            case = self._answering(uow, reference, attempt, Step.SUPPORT, decided_by)
            if case is None:
                return
            region = self.regions[case.region]
            if provider not in {p.code for p in region.care_providers}:
                raise InvalidAnswer(f"Zorgaanbieder '{provider}' werkt niet in regio {region.name}.")
            if not plan_agreed:
                raise InvalidAnswer("Begeleiding aan huis start pas met een afgesproken persoonlijk plan.")
            uow.session.add(
                SupportArrangement(
                    case_id=case.id,
                    wmo_decision=wmo_decision.value,
                    provider=provider,
                    starts_on=starts_on,
                    plan_agreed=plan_agreed,
                    recorded_by=decided_by,
                )
            )
            first_review = add_months(starts_on, region.follow_up_months[0])
            case.next_review_on = first_review
            uow.session.flush()
            self._apply(
                uow,
                case,
                Move.ARRANGE_SUPPORT,
                decided_by=decided_by,
                waiting_for=Step.REVIEW,
                due_on=first_review + region.due("review"),
            )
            uow.commit()
