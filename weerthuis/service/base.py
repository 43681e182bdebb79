"""What every command shares: the clock, the unit of work, recording a move with what it owes, and who may decide."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.regions import Region
from weerthuis import mailing
from weerthuis.casedb import quota
from weerthuis.casedb.models import (
    Action,
    Case,
    CaseMilestones,
    Lease,
    Nomination,
    Transition,
)
from weerthuis.casedb.uow import UnitOfWork
from weerthuis.domain import milestones
from weerthuis.domain.calendar import AMSTERDAM
from weerthuis.domain.moves import MOVES, Event, Move, enters_stage, transition
from weerthuis.domain.procedure import CORPORATION_STEPS, PROCEDURE, Step
from weerthuis.domain.rules import CaseParties, Connected, counterpart_decider, decider_organisation
from weerthuis.domain.stages import Stage
from weerthuis.service.effects import (
    EVENT_ACTIONS,
    STATUS_ACTION,
)
from weerthuis.service.errors import StaleAnswer, UnknownDecider


def corporation_of(session: Session, case: Case) -> str:
    return (
        session.execute(
            select(Nomination.corporation)
            .filter_by(case_id=case.id, status="accepted")
            .order_by(Nomination.attempt.desc())
            .limit(1)
        ).scalar_one_or_none()
        or session.execute(
            select(Nomination.corporation)
            .filter_by(case_id=case.id, status="proposed")
            .order_by(Nomination.attempt.desc())
            .limit(1)
        ).scalar_one()
    )


SYSTEM = "systeem"


def connected(region: Region) -> Connected:
    """Which of the region's counterparts answer steps through their API (those with a block configured)."""
    return Connected(
        corporations=frozenset(c.code for c in region.corporations if c.api_block),
        care_providers=frozenset(p.code for p in region.care_providers if p.api_block),
        esign=bool(region.esign_block),
    )


class CaseworkBase:
    """What every command shares: the clock, the unit of work, and recording a move with what it owes."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        regions: dict[str, Region],
        clock: Callable[[], datetime] = lambda: datetime.now(AMSTERDAM),
        ui_url: str | None = None,
    ) -> None:
        self._sessions = sessions
        self.regions = regions
        self._clock = clock
        self.ui_url = ui_url  # for links in mail

    def now(self) -> datetime:
        return self._clock()

    def today(self) -> date:
        return self._clock().astimezone(AMSTERDAM).date()

    def _uow(self) -> UnitOfWork:
        return UnitOfWork(self._sessions)

    def _apply(
        self,
        uow: UnitOfWork,
        case: Case,
        move: Move,
        *,
        decided_by: str,
        reason: str = "",
        waiting_for: Step | None = None,
        due_on: date | None = None,
    ) -> None:
        """Record a move from the table, what the case now waits on, and the side effects it owes."""
        session = uow.session
        rows = session.execute(select(Transition.move, Transition.to_stage).filter_by(case_id=case.id)).all()
        entries = Counter(Stage(to) for mv, to in rows if mv in set(Move) and enters_stage(Move(mv)))
        entries[Stage.REGISTERED] = 1
        step = transition(
            case.reference,
            Stage(case.stage),
            move,
            entries=entries,
            decided_by=decided_by,
            at=self.now(),
            reason=reason,
        )
        from_attempt = case.stage_attempt
        session.add(
            Transition(
                case_id=case.id,
                seq=len(rows) + 1,
                move=move.value,
                event=step.event.value,
                from_stage=step.from_stage.value,
                from_attempt=case.stage_attempt,
                answered_step=case.waiting_for,
                to_stage=step.to_stage.value,
                attempt=step.attempt,
                decided_by=decided_by,
                at=step.at,
                reason=reason[:400],
            )
        )
        self._reach_milestones(session, case, step.event, step.at)
        case.stuck_run = case.stuck_reason = case.stuck_since = None  # it moves again
        if MOVES[move].target is not None:
            case.stage, case.stage_attempt, case.stage_since = step.to_stage.value, step.attempt, step.at
        region = self.regions[case.region]
        case.waiting_for = waiting_for.value if waiting_for else None
        if waiting_for is None:
            case.waiting_on, case.due_on = None, None
        else:
            rule = PROCEDURE[waiting_for]
            organisation = None
            if waiting_for in CORPORATION_STEPS:
                organisation = corporation_of(session, case)
            case.waiting_on = organisation or rule.roles[0].value
            case.due_on = due_on or self.today() + region.due(rule.due)
        session.flush()
        # Keyed by where the event happened; the status report by the stage the case entered.
        for system, operation, payload in EVENT_ACTIONS.get(step.event, []):
            where = f"{step.from_stage.value}:{from_attempt}"
            self._owe(session, case, where, system, operation, payload(session, case))
        if MOVES[move].target is not None:
            where = f"{case.stage}:{case.stage_attempt}"
            status = {"reference": case.reference, "region": case.region, "stage": case.stage}
            self._owe(session, case, where, *STATUS_ACTION, status)
        mailing.mail_for_transition(session, case, region, step.event, now=self.now(), ui_url=self.ui_url)

    @staticmethod
    def _reach_milestones(session: Session, case: Case, event: Event, at: datetime) -> None:
        """Keep the first day of each milestone this event reaches, beside the case (the monitor reads it there)."""
        reached = milestones.reached_by(event)
        if not reached:
            return
        row = session.get(CaseMilestones, case.id)
        if row is None:
            row = CaseMilestones(case_id=case.id)
            session.add(row)
        for name in reached:
            if getattr(row, name) is None:
                setattr(row, name, milestones.dutch_day(at))

    def _owe(
        self, session: Session, case: Case, where: str, system: str, operation: str, payload: dict[str, Any]
    ) -> None:
        key = f"{case.reference}:{where}:{operation}"
        if session.execute(select(Action.id).filter_by(key=key)).scalar_one_or_none() is None:
            session.add(
                Action(
                    case_id=case.id,
                    key=key,
                    system=system,
                    operation=operation,
                    payload=payload,
                    status="pending",
                    created_at=self.now(),
                )
            )

    def _open(self, uow: UnitOfWork, reference: str, attempt: int, step: Step) -> Case | None:
        """The locked case if it still waits on this step (in the step's stage, as the procedure table says, and
        this attempt there); None if the answer was already taken (a replay)."""
        stage = PROCEDURE[step].stage
        case = uow.case(reference, lock=True)
        if (case.stage, case.stage_attempt) == (stage.value, attempt) and case.waiting_for == step.value:
            return case
        answered = uow.session.execute(
            select(Transition.id).filter_by(
                case_id=case.id, from_stage=stage.value, from_attempt=attempt, answered_step=step.value
            )
        ).first()
        if answered is None:
            raise StaleAnswer(
                f"Zaak {reference} staat in {case.stage} poging {case.stage_attempt} en wacht op "
                f"{case.waiting_for}, niet op {step.value} in {stage.value} poging {attempt}."
            )
        return None

    def _answering(self, uow: UnitOfWork, reference: str, attempt: int, step: Step, decided_by: str) -> Case | None:
        """The locked case for an answer to `step` by `decided_by`, who must be allowed to take it; None if the
        answer was already taken (a replay)."""
        case = self._open(uow, reference, attempt, step)
        if case is not None:
            self._check_decider(uow.session, case, step, decided_by)
        return case

    def _check_decider(self, session: Session, case: Case, step: Step, code: str) -> None:
        """The person must have the step's role in the case's region and work for the organisation the rule of
        who decides names (weerthuis.domain.rules: the case's corporation, the client's care provider), or be the
        counterpart's system that answers the step."""
        region = self.regions[case.region]
        parties = CaseParties(corporation_of(session, case) if step in CORPORATION_STEPS else None, case.care_provider)
        if code == counterpart_decider(step, parties, connected(region)):
            return
        person = region.person(code)
        roles = PROCEDURE[step].roles
        if person is None or person.role not in roles:
            raise UnknownDecider(f"'{code}' is geen {' of '.join(r.label for r in roles)} in regio {region.name}.")
        organisation = decider_organisation(step, person.role, parties)
        if organisation is not None and person.organisation != organisation:
            names = {c.code: c.name for c in region.corporations} | {p.code: p.name for p in region.care_providers}
            raise UnknownDecider(f"'{code}' werkt niet bij {names.get(organisation, organisation)}.")

    def _end(self, uow: UnitOfWork, case: Case, move: Move, *, decided_by: str, reason: str) -> None:
        case.next_review_on = None
        self._apply(uow, case, move, decided_by=decided_by, reason=reason)

    def _withdraw(self, uow: UnitOfWork, case: Case, decided_by: str, reason: str) -> None:
        self._release_places(uow.session, case)
        self._apply(uow, case, Move.WITHDRAW, decided_by=decided_by, reason=reason)

    def _release_places(self, session: Session, case: Case) -> None:
        """Give back the contingent place of a case that will not be housed through it."""
        has_lease = session.execute(select(Lease.id).filter_by(case_id=case.id)).scalar_one_or_none()
        if has_lease is not None:
            return
        for nomination in session.execute(
            select(Nomination).filter_by(case_id=case.id).where(Nomination.status.in_(quota.HOLDING))
        ).scalars():
            nomination.status = "released"
