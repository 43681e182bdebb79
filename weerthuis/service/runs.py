"""Which run carries a case, runs that keep crashing, and the daily reminders."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from notifications.events import MailEvent
from weerthuis import mailing
from weerthuis.casedb.models import (
    Case,
)
from weerthuis.domain.procedure import Step
from weerthuis.domain.stages import Stage
from weerthuis.domain.vocabulary import (
    Role,
)
from weerthuis.service.base import CaseworkBase


class RunBookkeeping(CaseworkBase):
    def attach_run(self, reference: str, flow_run_id: str) -> None:
        """Remember which flow run carries the case (a case has one outflow run)."""
        with self._uow() as uow:
            case = uow.case(reference, lock=True)
            if case.flow_run_id != flow_run_id:
                case.flow_run_id = flow_run_id
                uow.commit()

    def await_review_in(self, reference: str, flow_run_id: str) -> None:
        """Hand a case in follow-up to the scheduled run of its next review: the case page, the worklist and the
        mail that asks for the review link to that run (not to the run that planned it), and that mail goes now."""
        with self._uow() as uow:
            case = uow.case(reference, lock=True)
            if case.stage != Stage.FOLLOW_UP.value or case.waiting_for != Step.REVIEW.value:
                return
            case.flow_run_id = flow_run_id
            mailing.ask_for_decision(uow.session, case, self.regions[case.region], now=self.now(), ui_url=self.ui_url)
            uow.commit()

    def mark_stuck(self, reference: str, flow_run_id: str, reason: str) -> bool:
        """The case's run keeps crashing: say so on the case and mail the region's coordinators once (per run).
        False if it was marked for this run already."""
        with self._uow() as uow:
            case = uow.case(reference)
            if case.stuck_run == flow_run_id:
                return False
            case.stuck_run, case.stuck_reason, case.stuck_since = flow_run_id, reason[:400], self.now()
            region = self.regions[case.region]
            mailing.queue(
                uow.session,
                case,
                region,
                MailEvent.CASE_STUCK,
                region.people_with(Role.COORDINATOR),
                key=f"{reference}:vastgelopen:{flow_run_id}",
                now=self.now(),
                ui_url=self.ui_url,
                extra={"stuck_reason": reason},
            )
            uow.commit()
        return True

    def send_reminders(self, today: date | None = None) -> dict[str, int]:
        """Queue the reminders and escalations every waiting case has earned by `today`: case → mails queued."""
        today = today or self.today()
        queued: dict[str, int] = {}
        with self._uow() as uow:
            references = (
                uow.session.execute(
                    select(Case.reference).where(Case.waiting_for.is_not(None)).order_by(Case.reference)
                )
                .scalars()
                .all()
            )
        for reference in references:
            with self._uow() as uow:
                case = uow.case(reference, lock=True)
                count = mailing.remind(
                    uow.session, case, self.regions[case.region], today, now=self.now(), ui_url=self.ui_url
                )
                uow.commit()
            if count:
                queued[reference] = count
        return queued
