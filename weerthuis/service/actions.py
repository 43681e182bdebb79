"""The bookkeeping of answers and actions: refused answers, delivered and refused actions, settled problems."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from weerthuis.casedb.models import (
    Action,
    Case,
    Offer,
    RejectedAnswer,
)
from weerthuis.domain.stages import Stage
from weerthuis.domain.vocabulary import (
    ProblemDecision,
    Role,
)
from weerthuis.service.base import CaseworkBase
from weerthuis.service.errors import UnknownDecider
from weerthuis.service.views import Problem


class Bookkeeping(CaseworkBase):
    def pending_actions(self, reference: str) -> list[str]:
        with self._uow() as uow:
            case = uow.case(reference)
            return list(
                uow.session.execute(
                    select(Action.key).filter_by(case_id=case.id, status="pending").order_by(Action.id)
                ).scalars()
            )

    def action(self, key: str) -> tuple[str, str, dict[str, Any]]:
        with self._uow() as uow:
            action = uow.session.execute(select(Action).filter_by(key=key)).scalar_one()
            return action.system, action.operation, dict(action.payload)

    def reject_answer(self, reference: str, gate_key: str, reason: str) -> None:
        with self._uow() as uow:
            case = uow.case(reference, lock=True)
            exists = uow.session.execute(
                select(RejectedAnswer.id).filter_by(case_id=case.id, gate_key=gate_key)
            ).scalar_one_or_none()
            if exists is None:
                uow.session.add(RejectedAnswer(case_id=case.id, gate_key=gate_key, reason=reason[:400], at=self.now()))
            uow.commit()

    def action_done(self, key: str, receipt: str | None = None) -> None:
        """The counterpart took the action; `receipt` is its id of what the action made."""
        with self._uow() as uow:
            action = uow.session.execute(select(Action).filter_by(key=key).with_for_update()).scalar_one()
            if action.status != "done":
                action.status, action.done_at, action.tries = "done", self.now(), action.tries + 1
                action.receipt = receipt[:120] if receipt else None
            uow.commit()

    def receipt(self, reference: str, operation: str, where: tuple[Stage, int] | None = None) -> str | None:
        """The counterpart's id of what the case's action made: the one owed at `where` (stage, attempt), or the
        latest done one of its kind. None: not done yet, or settled by hand."""
        with self._uow() as uow:
            case = uow.case(reference)
            query = select(Action.receipt).filter_by(case_id=case.id, operation=operation, status="done")
            if where is not None:
                query = query.filter_by(key=f"{reference}:{where[0].value}:{where[1]}:{operation}")
            return uow.session.execute(query.order_by(Action.id.desc()).limit(1)).scalar_one_or_none()

    def offered_dwellings(self, reference: str) -> set[str]:
        """The dwellings offered to this case so far (an offer read from a corporation's API is taken once)."""
        with self._uow() as uow:
            case = uow.case(reference)
            return set(uow.session.execute(select(Offer.dwelling_reference).filter_by(case_id=case.id)).scalars())

    def action_failed(self, key: str, error: str) -> None:
        with self._uow() as uow:
            action = uow.session.execute(select(Action).filter_by(key=key).with_for_update()).scalar_one()
            action.tries += 1
            action.last_error = error[:400]
            uow.commit()

    def action_error(self, key: str) -> str | None:
        with self._uow() as uow:
            return uow.session.execute(select(Action.last_error).filter_by(key=key)).scalar_one()

    def action_refused(self, key: str, reason: str) -> None:
        """The counterpart refused (or stayed away after every retry): the action waits for a coordinator."""
        with self._uow() as uow:
            action = uow.session.execute(select(Action).filter_by(key=key).with_for_update()).scalar_one()
            if action.status == "pending":
                action.status, action.last_error = "refused", reason[:400]
            uow.commit()

    def refused_actions(self, reference: str) -> list[Problem]:
        """What the case could not deliver and waits on a coordinator for, oldest first."""
        with self._uow() as uow:
            case = uow.case(reference)
            rows = uow.session.execute(
                select(Action).filter_by(case_id=case.id, status="refused").order_by(Action.id)
            ).scalars()
            return [Problem(a.id, a.key, a.system, a.operation, a.tries, a.last_error or "") for a in rows]

    def settle_problem(self, key: str, decision: ProblemDecision, decided_by: str) -> None:
        """A coordinator's answer to a refused action: try it again, or it was done by hand."""
        with self._uow() as uow:
            action = uow.session.execute(select(Action).filter_by(key=key).with_for_update()).scalar_one()
            case = uow.session.get_one(Case, action.case_id)
            person = self.regions[case.region].person(decided_by)
            if person is None or person.role is not Role.COORDINATOR:
                raise UnknownDecider(f"'{decided_by}' is geen {Role.COORDINATOR.label} in regio {case.region}.")
            if action.status != "refused":
                return  # answered already (a replay)
            if decision is ProblemDecision.RETRY:
                action.status = "pending"
            else:
                action.status, action.done_at = "done", self.now()
            action.settled_by = decided_by
            uow.commit()
