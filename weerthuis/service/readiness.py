"""Readiness commands: the assessment starts, the ZRM is recorded, the coordinator decides."""

from __future__ import annotations

from datetime import timedelta

from weerthuis.casedb.models import (
    Assessment,
)
from weerthuis.domain.moves import Move
from weerthuis.domain.procedure import Step
from weerthuis.domain.stages import Stage
from weerthuis.domain.vocabulary import (
    ReadinessVerdict,
)
from weerthuis.domain.zrm import ZrmAssessment
from weerthuis.service.base import SYSTEM, CaseworkBase
from weerthuis.service.errors import InvalidAnswer


class ReadinessCommands(CaseworkBase):
    def start_assessment(self, reference: str) -> None:
        """The flow picked the case up: readiness assessment starts and the case manager is asked for a ZRM."""
        with self._uow() as uow:
            case = uow.case(reference, lock=True)
            if case.stage != Stage.REGISTERED.value:
                return
            self._apply(uow, case, Move.START_ASSESSMENT, decided_by=SYSTEM, waiting_for=Step.ASSESSMENT)
            uow.commit()

    def record_assessment(self, reference: str, attempt: int, zrm: ZrmAssessment) -> None:
        with self._uow() as uow:
            case = self._answering(uow, reference, attempt, Step.ASSESSMENT, zrm.assessor)
            if case is None:
                return
            if zrm.assessed_on > self.today():
                raise InvalidAnswer("De datum van de ZRM-meting ligt in de toekomst.")
            uow.session.add(
                Assessment(
                    case_id=case.id,
                    attempt=attempt,
                    assessed_on=zrm.assessed_on,
                    assessor=zrm.assessor,
                    recorded_at=self.now(),
                    ambulant_support_indication=zrm.ambulant_support_indication,
                    can_live_alone_with_support=zrm.can_live_alone_with_support,
                    region_tie=zrm.region_tie,
                    **{domain.value: score for domain, score in zrm.scores.items()},
                )
            )
            self._apply(
                uow,
                case,
                Move.RECORD_ASSESSMENT,
                decided_by=zrm.assessor,
                waiting_for=Step.READINESS_DECISION,
            )
            uow.commit()

    def decide_readiness(self, reference: str, attempt: int, verdict: ReadinessVerdict, decided_by: str) -> None:
        with self._uow() as uow:
            case = self._answering(uow, reference, attempt, Step.READINESS_DECISION, decided_by)
            if case is None:
                return
            if verdict is ReadinessVerdict.READY:
                self._apply(
                    uow,
                    case,
                    Move.APPROVE_READINESS,
                    decided_by=decided_by,
                    waiting_for=Step.NOMINATION_PROPOSAL,
                )
            elif verdict is ReadinessVerdict.NOT_YET:
                region = self.regions[case.region]
                self._apply(
                    uow,
                    case,
                    Move.POSTPONE_READINESS,
                    decided_by=decided_by,
                    waiting_for=Step.ASSESSMENT,
                    reason=f"herbeoordeling na {region.reassessment_days} dagen",
                    due_on=self.today() + timedelta(days=region.reassessment_days),
                )
            else:
                self._withdraw(uow, case, decided_by, "teruggetrokken bij beoordeling woonvaardigheid")
            uow.commit()
