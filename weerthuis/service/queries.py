"""Reading cases: the view Prefect gets, who may decide, the waiting cases, the reviews ahead."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from weerthuis.casedb import quota
from weerthuis.casedb.models import (
    Action,
    Case,
    CaseDatabase,
    Nomination,
    RejectedAnswer,
    Review,
    SupportArrangement,
    Transition,
)
from weerthuis.domain import rules
from weerthuis.domain.procedure import Step
from weerthuis.domain.rules import CaseParties
from weerthuis.domain.stages import Stage
from weerthuis.domain.zrm import ZrmAssessment, ZrmDomain
from weerthuis.service.base import CaseworkBase, connected
from weerthuis.service.effects import (
    latest_assessment_row,
    problem_text,
)
from weerthuis.service.views import CaseView, HistoryLine, local


class Queries(CaseworkBase):
    def view(self, reference: str) -> CaseView:
        with self._uow() as uow:
            case = uow.case(reference)
            rows = uow.session.execute(select(Transition).filter_by(case_id=case.id).order_by(Transition.seq)).scalars()
            nomination = uow.session.execute(
                select(Nomination.corporation)
                .filter_by(case_id=case.id)
                .where(Nomination.status.in_(quota.HOLDING))
                .order_by(Nomination.attempt.desc())
                .limit(1)
            ).scalar_one_or_none()
            reviews = uow.session.execute(
                select(func.count()).select_from(Review).filter_by(case_id=case.id)
            ).scalar_one()
            problem = uow.session.execute(
                select(Action.system, Action.last_error)
                .filter_by(case_id=case.id, status="refused")
                .order_by(Action.id)
                .limit(1)
            ).first()
            return CaseView(
                reference=case.reference,
                region=case.region,
                institution_type=case.institution_type,
                care_provider=case.care_provider,
                stage=Stage(case.stage),
                attempt=case.stage_attempt,
                stage_since=local(case.stage_since),
                waiting_for=Step(case.waiting_for) if case.waiting_for else None,
                waiting_on=case.waiting_on,
                due_on=case.due_on,
                refusals=case.refusals,
                corporation=nomination,
                reviews_held=reviews,
                next_review_on=case.next_review_on,
                flow_run_id=case.flow_run_id,
                problem=problem_text(*problem) if problem else None,
                stuck=case.stuck_reason,
                history=tuple(
                    HistoryLine(local(r.at), r.event, Stage(r.from_stage), Stage(r.to_stage), r.decided_by, r.reason)
                    for r in rows
                ),
            )

    def references(self) -> list[str]:
        with self._uow() as uow:
            return list(uow.session.execute(select(Case.reference).order_by(Case.id)).scalars())

    def corporations_with_places(self, region_code: str) -> dict[str, int]:
        """Corporations with contingent places left this year, and how many."""
        region = self.regions[region_code]
        with self._uow() as uow:
            left = quota.places_left(uow.session, region, self.today().year)
        return {code: n for code, n in left.items() if n > 0}

    def deciders(self, view: CaseView, step: Step) -> list[str]:
        """Codes of the people who may take this step for this case, and of the counterpart's system if its API
        answers the step: a corporation's consultant only for the cases with that corporation, a case manager
        only for the clients of their own care provider, coordinators and Wmo consultants in their region."""
        region = self.regions[view.region]
        return rules.deciders(step, region.people, CaseParties(view.corporation, view.care_provider), connected(region))

    def latest_assessment(self, reference: str) -> ZrmAssessment | None:
        """The case's last scored ZRM, as the coordinator decides on it."""
        with self._uow() as uow:
            found = latest_assessment_row(uow.session, uow.case(reference))
            if found is None:
                return None
            return ZrmAssessment(
                assessed_on=found.assessed_on,
                assessor=found.assessor,
                scores={domain: getattr(found, domain.value) for domain in ZrmDomain},
                ambulant_support_indication=found.ambulant_support_indication,
                can_live_alone_with_support=found.can_live_alone_with_support,
                region_tie=found.region_tie,
            )

    def rejection(self, reference: str, gate_key: str) -> str | None:
        """Why an earlier answer to this form was refused, if it was."""
        with self._uow() as uow:
            case = uow.case(reference)
            return uow.session.execute(
                select(RejectedAnswer.reason).filter_by(case_id=case.id, gate_key=gate_key)
            ).scalar_one_or_none()

    def waiting_cases(self) -> list[CaseView]:
        """Every case that waits on someone, oldest due date first."""
        with self._uow() as uow:
            references = (
                uow.session.execute(
                    select(Case.reference).where(Case.waiting_for.is_not(None)).order_by(Case.due_on, Case.reference)
                )
                .scalars()
                .all()
            )
        return [self.view(reference) for reference in references]

    def database_id(self) -> str:
        """This case database's identity (made once by migration 0009): the runs `weerthuis start` makes carry it,
        and a run attached to a case is checked against it."""
        with self._uow() as uow:
            return uow.session.execute(select(CaseDatabase.database_id)).scalar_one()

    def last_review_on(self, reference: str) -> date:
        """The day of the last review held, or the day support started: signals are read from then on."""
        with self._uow() as uow:
            case = uow.case(reference)
            held = uow.session.execute(select(func.max(Review.held_on)).filter_by(case_id=case.id)).scalar_one()
            if held is not None:
                return held
            return uow.session.execute(select(SupportArrangement.starts_on).filter_by(case_id=case.id)).scalar_one()

    def review_plan(self, reference: str) -> list[tuple[int, date]]:
        """The reviews still ahead of a case in follow-up, (number, date), nearest first; [] once it has ended."""
        with self._uow() as uow:
            case = uow.case(reference)
            if case.stage != Stage.FOLLOW_UP.value or case.next_review_on is None:
                return []
            held = uow.session.execute(select(func.count()).select_from(Review).filter_by(case_id=case.id)).scalar_one()
            months = tuple(self.regions[case.region].follow_up_months)
            starts_on = uow.session.execute(
                select(SupportArrangement.starts_on).filter_by(case_id=case.id)
            ).scalar_one()
            return rules.reviews_ahead(held, case.next_review_on, starts_on, months)
