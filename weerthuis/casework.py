"""Commands on a case. Each opens a unit of work, checks the table of moves and the guard, records, commits.

Every command names the stage and attempt it answers for. Called again for a decision already taken (a replayed
flow), it changes nothing: that is what makes the re-entrant flow safe. Side effects owed to other systems are
written as `actions` rows in the same transaction as the event that causes them (EVENT_ACTIONS); tasks deliver them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config.regions import Region
from notifications.events import MailEvent
from weerthuis import mailing
from weerthuis.casedb import quota
from weerthuis.casedb.models import (
    Action,
    Assessment,
    Case,
    CaseDatabase,
    CaseMilestones,
    Client,
    Lease,
    Nomination,
    Offer,
    PersonalDataAccess,
    RejectedAnswer,
    Review,
    ReviewSignals,
    SupportArrangement,
    Transition,
)
from weerthuis.casedb.quota import Refused
from weerthuis.casedb.uow import UnitOfWork
from weerthuis.domain import milestones
from weerthuis.domain.follow_up import card_for, in_words
from weerthuis.domain.moves import MOVES, Event, Move, enters_stage, transition
from weerthuis.domain.stages import Stage
from weerthuis.domain.steps import CORPORATION_STEPS, STEPS, Step
from weerthuis.domain.vocabulary import (
    Card,
    CaseOutcome,
    ContractForm,
    DeclineReason,
    EscalationDecision,
    InstitutionType,
    LivingSituation,
    NominationAnswer,
    OfferAnswer,
    OmklapDecision,
    ProblemDecision,
    ReadinessVerdict,
    RefusalReason,
    ReviewOutcome,
    Role,
    SigningResult,
    WmoDecision,
)
from weerthuis.domain.zrm import ZrmAssessment, ZrmDomain

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
SYSTEM = "systeem"


class UnknownDecider(Refused):
    pass


class InvalidAnswer(Refused):
    pass


class SameBsn(Refused):
    """A registration whose BSN an earlier case already has; registered only when asked again explicitly."""

    def __init__(self, cases: list[tuple[str, Stage]]) -> None:
        self.cases = cases
        self.listed = ", ".join(
            f"{ref} ({'afgesloten' if stage.is_final else 'open'}, {stage.label})" for ref, stage in cases
        )
        super().__init__(f"Dit BSN staat al bij zaak {self.listed}; niet opnieuw aangemeld.")


class StaleAnswer(RuntimeError):
    """An answer for a stage or attempt the case has already left: a bug in the caller, never silently applied."""


class CaseStillOpen(Refused):
    """Erasing the personal data of a case that has not ended; done only when forced."""

    def __init__(self, reference: str, stage: Stage) -> None:
        self.reference, self.stage = reference, stage
        super().__init__(
            f"Zaak {reference} is nog open ({stage.label}); persoonsgegevens worden pas gewist als de zaak is "
            "beëindigd."
        )


# What an erased name and free text of the registration read afterwards (their columns are NOT NULL or shown).
ERASED = "[gewist]"


class PersonalDataUse(StrEnum):
    """What was done with a client's personal data, as the access log records it."""

    SHOW = "show"
    EXPORT = "export"  # no export exists yet; the log's vocabulary has room for one
    ERASE = "erase"

    @property
    def label(self) -> str:
        """The Dutch word the access log prints."""
        return USE_LABELS[self]


USE_LABELS = {PersonalDataUse.SHOW: "inzage", PersonalDataUse.EXPORT: "export", PersonalDataUse.ERASE: "gewist"}


@dataclass(frozen=True)
class PersonalData:
    """A client's personal data as registered (BSN still encrypted), for the one person who opened it."""

    reference: str
    full_name: str | None
    bsn_encrypted: bytes | None
    date_of_birth: date | None
    phone: str | None
    email: str | None
    origin_municipality: str
    registration_reason: str
    housing_wishes: str
    consent_on: date | None
    erased_at: datetime | None


@dataclass(frozen=True)
class AccessLine:
    """One entry of the personal data access log; `at` in UTC."""

    at: datetime
    reference: str
    what: PersonalDataUse
    accessed_by: str
    os_user: str | None
    purpose: str


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    event: str
    from_stage: Stage
    to_stage: Stage
    decided_by: str
    reason: str


@dataclass(frozen=True)
class Problem:
    """An action the case could not deliver: which system refused what, how often tried, and why."""

    id: int
    key: str
    system: str
    operation: str
    tries: int
    reason: str


@dataclass(frozen=True)
class CaseView:
    """What Prefect-facing code may know of a case: references, stages, dates, codes. No personal data."""

    reference: str
    region: str
    institution_type: str
    care_provider: str
    stage: Stage
    attempt: int
    stage_since: datetime
    waiting_for: Step | None
    waiting_on: str | None
    due_on: date | None
    refusals: int
    corporation: str | None
    reviews_held: int
    next_review_on: date | None
    history: tuple[HistoryLine, ...]
    flow_run_id: str | None = None
    # An action another system refused, waiting on a coordinator: "zaaksysteem: …reason…".
    problem: str | None = None
    # The case's run keeps crashing and the recovery gave up: why, for the coordinator.
    stuck: str | None = None

    @property
    def is_waiting(self) -> bool:
        return self.waiting_for is not None


def gate_key(case: CaseView) -> str:
    """A stable key per decision: stage, attempt and step (plus the review's number in follow-up).

    Prefect stores the form under this key and accepts only lowercase letters, digits and dashes in it.
    """
    assert case.waiting_for is not None
    key = f"{case.stage.value}-{case.attempt}-{case.waiting_for.value}".replace("_", "-")
    if case.waiting_for is Step.REVIEW:
        return f"{key}-{case.reviews_held + 1}"
    # An escalation or the omklap follows the review held last: `follow-up-1-escalation-2`.
    return f"{key}-{case.reviews_held}" if case.waiting_for in (Step.ESCALATION, Step.OMKLAP) else key


def local(moment: datetime) -> datetime:
    """A stored moment in Dutch time (SQLite gives it back without a zone, PostgreSQL in the session's zone)."""
    return moment.replace(tzinfo=AMSTERDAM) if moment.tzinfo is None else moment.astimezone(AMSTERDAM)


def utc(moment: datetime) -> datetime:
    """A moment of the access log in UTC (SQLite gives it back without a zone; it was written in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


# Each event's side effects: (system, operation, payload builder). Stage changes also report the new status to
# the municipality's case system; the payloads carry only what the receiving party needs.
Payload = Callable[[Session, Case], dict[str, Any]]


def _case_payload(session: Session, case: Case) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "region": case.region,
        "institution_type": case.institution_type,
        "case_manager": case.registered_by,
    }


def _nomination_payload(session: Session, case: Case) -> dict[str, Any]:
    nomination = _current(session, Nomination, case)
    assessment = _latest_assessment(session, case)
    return {
        "reference": case.reference,
        "corporation": nomination.corporation,
        "household_size": case.household_size,
        "ambulant_support": bool(assessment and assessment.ambulant_support_indication),
        "care_provider": case.care_provider,
    }


def _lease_payload(session: Session, case: Case) -> dict[str, Any]:
    lease = session.execute(select(Lease).filter_by(case_id=case.id)).scalar_one()
    offer = session.execute(select(Offer).filter_by(case_id=case.id, answer="accepted")).scalar_one()
    return {
        "reference": case.reference,
        "region": case.region,
        "corporation": lease.corporation,
        "dwelling_reference": offer.dwelling_reference,
        "contract_form": lease.contract_form,
        "temporary": lease.temporary,
        "signed_on": lease.signed_on.isoformat() if lease.signed_on else None,
    }


def _support_request_payload(session: Session, case: Case) -> dict[str, Any]:
    """Support at home is asked for as soon as the lease is signed, from the keys on; the Wmo decision follows."""
    lease = session.execute(select(Lease).filter_by(case_id=case.id)).scalar_one()
    assert lease.signed_on is not None
    return {
        "reference": case.reference,
        "provider": case.care_provider,
        "starts_on": lease.signed_on.isoformat(),
        "wmo_decision": WmoDecision.APPLIED.value,
    }


EVENT_ACTIONS: dict[Event, list[tuple[str, str, Payload]]] = {
    Event.ASSESSMENT_STARTED: [("municipality", "register_case", _case_payload)],
    Event.NOMINATION_PROPOSED: [("corporation", "submit_nomination", _nomination_payload)],
    Event.LEASE_DRAWN_UP: [("esign", "send_for_signing", _lease_payload)],
    Event.LEASE_SIGNED: [
        ("corporation", "register_lease", _lease_payload),
        ("care_provider", "request_support", _support_request_payload),
    ],
}
STATUS_ACTION = ("municipality", "set_status")
SYSTEM_LABELS = {
    "municipality": "zaaksysteem",
    "corporation": "corporatie",
    "care_provider": "zorgaanbieder",
    "esign": "e-ondertekening",
}
# A step a connected counterpart answers through its API is decided by "api:<its code>".
API_DECIDER = "api:"
ESIGN_CODE = "e-ondertekening"


def counterpart_decider(region: Region, step: Step, corporation: str | None, provider: str) -> str | None:
    """The code under which a counterpart's system answers this step for a case ("api:domesta"), if it can."""
    if step in (Step.NOMINATION_RESPONSE, Step.OFFER) and corporation and region.corporation(corporation).api_block:
        return f"{API_DECIDER}{corporation}"
    if step is Step.SIGNING and region.esign_block:
        return f"{API_DECIDER}{ESIGN_CODE}"
    if step is Step.SUPPORT and any(p.code == provider and p.api_block for p in region.care_providers):
        return f"{API_DECIDER}{provider}"
    return None


def _problem_text(system: str, reason: str | None) -> str:
    """`zaaksysteem: POST zaken geweigerd (400): …`, naming the system once."""
    label, reason = SYSTEM_LABELS.get(system, system), reason or "onbekende fout"
    return reason if reason.startswith(f"{label}:") else f"{label}: {reason}"


def _current(session: Session, model: type[Nomination] | type[Offer], case: Case) -> Any:
    return session.execute(select(model).filter_by(case_id=case.id, attempt=case.stage_attempt)).scalar_one()


def _cases_with_bsn(session: Session, digest: str) -> list[tuple[str, Stage]]:
    """The cases (reference, stage) of clients with this BSN digest, not erased, oldest first."""
    rows = session.execute(
        select(Case.reference, Case.stage)
        .join(Client, Case.client_id == Client.id)
        .where(Client.bsn_digest == digest, Client.erased_at.is_(None))
        .order_by(Case.id)
    )
    return [(reference, Stage(stage)) for reference, stage in rows]


def _latest_assessment(session: Session, case: Case) -> Assessment | None:
    return session.execute(
        select(Assessment).filter_by(case_id=case.id).order_by(Assessment.attempt.desc()).limit(1)
    ).scalar_one_or_none()


def _decider_organisation(view: CaseView, step: Step, role: Role) -> str | None:
    """The organisation a decider of this step must work for, if the step is not the whole region's."""
    if step in CORPORATION_STEPS:
        return view.corporation
    if role is Role.CASE_MANAGER:
        return view.care_provider
    return None


class Casework:
    """The case database's commands and queries, for one set of regions."""

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

    # Queries ------------------------------------------------------------------------------------------------

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
                problem=_problem_text(*problem) if problem else None,
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
        people = [
            p.code
            for role in STEPS[step].roles
            for p in region.people_with(role, _decider_organisation(view, step, role))
        ]
        system = counterpart_decider(region, step, view.corporation, view.care_provider)
        return people + ([system] if system else [])

    def latest_assessment(self, reference: str) -> ZrmAssessment | None:
        """The case's last scored ZRM, as the coordinator decides on it."""
        with self._uow() as uow:
            found = _latest_assessment(uow.session, uow.case(reference))
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

    # Bookkeeping of answers and actions ------------------------------------------------------------------------

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

    # Registration (outside Prefect: personal data enters here) -------------------------------------------------

    def register(
        self,
        *,
        region: str,
        institution_type: InstitutionType,
        care_provider: str,
        origin_municipality: str,
        registration_reason: str,
        region_tie: bool,
        household_size: int,
        housing_wishes: str,
        registered_by: str,
        client: Client,
        allow_same_bsn: bool = False,
    ) -> str:
        """Register a client and open their case in stage `registered`; returns the new case reference.

        A client whose BSN (by `bsn_digest`) an earlier case already has, open or closed, is refused with SameBsn
        unless `allow_same_bsn`: the same person is registered twice only on purpose.
        """
        config = self.regions.get(region)
        if config is None:
            raise InvalidAnswer(f"Onbekende regio '{region}'; bekend: {', '.join(sorted(self.regions))}.")
        if care_provider not in {p.code for p in config.care_providers}:
            raise InvalidAnswer(f"Zorgaanbieder '{care_provider}' werkt niet in regio {config.name}.")
        person = config.person(registered_by)
        if person is None or person.role not in (Role.CASE_MANAGER, Role.COORDINATOR):
            raise UnknownDecider(f"'{registered_by}' is geen trajectbegeleider of coördinator in {config.name}.")
        if not 1 <= household_size <= 12:
            raise InvalidAnswer("Huishoudgrootte moet tussen 1 en 12 liggen.")
        now = self.now()
        with self._uow() as uow:
            if client.bsn_digest and not allow_same_bsn:
                same = _cases_with_bsn(uow.session, client.bsn_digest)
                if same:
                    raise SameBsn(same)
            year = now.year
            count = uow.session.execute(
                select(func.count()).select_from(Case).where(Case.reference.like(f"WT-{year}-%"))
            ).scalar_one()
            reference = f"WT-{year}-{count + 1:04d}"
            uow.session.add(client)
            uow.session.flush()
            case = Case(
                reference=reference,
                region=region,
                client_id=client.id,
                institution_type=institution_type.value,
                care_provider=care_provider,
                origin_municipality=origin_municipality,
                registration_reason=registration_reason,
                region_tie=region_tie,
                household_size=household_size,
                housing_wishes=housing_wishes,
                registered_by=registered_by,
                registered_at=now,
                stage=Stage.REGISTERED.value,
                stage_attempt=1,
                stage_since=now,
            )
            uow.session.add(case)
            uow.session.flush()
            uow.session.add(
                Transition(
                    case_id=case.id,
                    seq=1,
                    move="register",
                    event=Event.CASE_REGISTERED.value,
                    from_stage=Stage.REGISTERED.value,
                    from_attempt=1,
                    to_stage=Stage.REGISTERED.value,
                    attempt=1,
                    decided_by=registered_by,
                    at=now,
                    reason="",
                )
            )
            uow.commit()
            return reference

    # Personal data (outside Prefect: only the command line opens it, and every opening is logged) --------------

    def open_personal_data(
        self, reference: str, *, requested_by: str, purpose: str, os_user: str | None = None
    ) -> PersonalData:
        """The client's personal data for a case manager or coordinator of the case's region, who says what for;
        logged in the same transaction. Nothing is logged once the data is erased (nothing personal is left)."""
        purpose = purpose.strip()
        if not purpose:
            raise InvalidAnswer("Geef op waarvoor u de persoonsgegevens inziet (--purpose).")
        with self._uow() as uow:
            case = uow.case(reference)
            self._check_staff(case, requested_by, (Role.CASE_MANAGER, Role.COORDINATOR))
            client = uow.session.get_one(Client, case.client_id)
            data = PersonalData(
                reference=case.reference,
                full_name=client.full_name,
                bsn_encrypted=client.bsn_encrypted,
                date_of_birth=client.date_of_birth,
                phone=client.phone,
                email=client.email,
                origin_municipality=case.origin_municipality,
                registration_reason=case.registration_reason,
                housing_wishes=case.housing_wishes,
                consent_on=client.consent_on,
                erased_at=local(client.erased_at) if client.erased_at else None,
            )
            if client.erased_at is None:
                self._log_access(uow.session, case, PersonalDataUse.SHOW, requested_by, purpose, os_user)
                uow.commit()
            return data

    def erase_client(
        self, reference: str, *, decided_by: str, reason: str, force: bool = False, os_user: str | None = None
    ) -> bool:
        """Erase the client's personal data and keep the case, its history and all the monitor counts.

        Erased: name (to ERASED), BSN ciphertext and digest, birth date, phone, e-mail, and the registration's free
        text (origin, reason, wishes; to ERASED). Kept: every code, date and count, the history, the milestones, the
        outbox (its mails carry no personal data, see weerthuis.mailing). Only a coordinator of the case's region
        erases, only once the case has ended unless `force` (CaseStillOpen). The erasure is logged with who, when
        and why. Returns False, changing and logging nothing, if the data was erased already.
        """
        reason = reason.strip()
        if not reason:
            raise InvalidAnswer("Geef de reden op waarom de persoonsgegevens worden gewist.")
        with self._uow() as uow:
            case = uow.case(reference, lock=True)
            self._check_staff(case, decided_by, (Role.COORDINATOR,))
            client = uow.session.get_one(Client, case.client_id)
            if client.erased_at is not None:
                return False
            stage = Stage(case.stage)
            if not stage.is_final and not force:
                raise CaseStillOpen(case.reference, stage)
            client.full_name, client.bsn_encrypted, client.bsn_digest = ERASED, None, None
            client.date_of_birth, client.phone, client.email = None, None, None
            client.erased_at = self.now()
            case.origin_municipality = case.registration_reason = case.housing_wishes = ERASED
            why = reason if stage.is_final else f"{reason} (zaak nog open: {stage.label})"
            self._log_access(uow.session, case, PersonalDataUse.ERASE, decided_by, why, os_user)
            uow.commit()
            return True

    def access_log(self, reference: str | None = None) -> list[AccessLine]:
        """Who opened or erased personal data, when and for what, oldest first: of one case, or of every case."""
        with self._uow() as uow:
            query = (
                select(PersonalDataAccess, Case.reference)
                .join(Case, PersonalDataAccess.case_id == Case.id)
                .order_by(PersonalDataAccess.at, PersonalDataAccess.id)
            )
            if reference is not None:
                query = query.where(PersonalDataAccess.case_id == uow.case(reference).id)
            return [
                AccessLine(utc(row.at), ref, PersonalDataUse(row.what), row.accessed_by, row.os_user, row.purpose)
                for row, ref in uow.session.execute(query).tuples()
            ]

    def _log_access(
        self, session: Session, case: Case, what: PersonalDataUse, by: str, purpose: str, os_user: str | None
    ) -> None:
        session.add(
            PersonalDataAccess(
                case_id=case.id,
                at=self.now().astimezone(UTC),
                accessed_by=by,
                os_user=os_user[:64] if os_user else None,
                what=what.value,
                purpose=purpose[:400],
            )
        )

    def _check_staff(self, case: Case, code: str, roles: tuple[Role, ...]) -> None:
        """The person must have one of these roles in the case's region."""
        region = self.regions[case.region]
        person = region.person(code)
        if person is None or person.role not in roles:
            raise UnknownDecider(f"'{code}' is geen {' of '.join(r.label for r in roles)} in regio {region.name}.")

    # The procedure ---------------------------------------------------------------------------------------------

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
            rule = STEPS[waiting_for]
            organisation = None
            if waiting_for in CORPORATION_STEPS:
                organisation = _current_corporation(session, case)
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

    def _open(self, uow: UnitOfWork, reference: str, stage: Stage, attempt: int, step: Step) -> Case | None:
        """The locked case if it still waits on this step; None if the answer was already taken (a replay)."""
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

    def _check_decider(self, session: Session, case: Case, step: Step, code: str) -> None:
        """The person must have the step's role in the case's region, and work for the case's corporation
        where the step is the corporation's."""
        region = self.regions[case.region]
        corporation = _current_corporation(session, case) if step in CORPORATION_STEPS else None
        if code == counterpart_decider(region, step, corporation, case.care_provider):
            return
        person = region.person(code)
        roles = STEPS[step].roles
        if person is None or person.role not in roles:
            raise UnknownDecider(f"'{code}' is geen {' of '.join(r.label for r in roles)} in regio {region.name}.")
        if step in CORPORATION_STEPS:
            corporation = _current_corporation(session, case)
            if person.organisation != corporation:
                raise UnknownDecider(f"'{code}' werkt niet bij {region.corporation(corporation).name}.")

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

    def database_id(self) -> str:
        """This case database's identity (made once by migration 0009): the runs `weerthuis start` makes carry it,
        and a run attached to a case is checked against it."""
        with self._uow() as uow:
            return uow.session.execute(select(CaseDatabase.database_id)).scalar_one()

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
            case = self._open(uow, reference, Stage.READINESS, attempt, Step.ASSESSMENT)
            if case is None:
                return
            self._check_decider(uow.session, case, Step.ASSESSMENT, zrm.assessor)
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
            case = self._open(uow, reference, Stage.READINESS, attempt, Step.READINESS_DECISION)
            if case is None:
                return
            self._check_decider(uow.session, case, Step.READINESS_DECISION, decided_by)
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

    def propose_nomination(self, reference: str, attempt: int, corporation: str, decided_by: str) -> None:
        """Nominate the case to a corporation, claiming a place in its contingent or refusing clearly."""
        with self._uow() as uow:
            case = self._open(uow, reference, Stage.NOMINATION, attempt, Step.NOMINATION_PROPOSAL)
            if case is None:
                return
            self._check_decider(uow.session, case, Step.NOMINATION_PROPOSAL, decided_by)
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
            case = self._open(uow, reference, Stage.NOMINATION, attempt, Step.NOMINATION_RESPONSE)
            if case is None:
                return
            nomination = _current(uow.session, Nomination, case)
            self._check_decider(uow.session, case, Step.NOMINATION_RESPONSE, decided_by)
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

    def make_offer(
        self,
        reference: str,
        attempt: int,
        *,
        dwelling_reference: str,
        neighbourhood: str,
        rent: Decimal,
        viewing_on: date,
        decided_by: str,
    ) -> None:
        """A consultant offers a dwelling; the neighbourhood's yearly cap is claimed in the same transaction."""
        with self._uow() as uow:
            case = self._open(uow, reference, Stage.OFFER, attempt, Step.OFFER)
            if case is None:
                return
            corporation = _current_corporation(uow.session, case)
            self._check_decider(uow.session, case, Step.OFFER, decided_by)
            region = self.regions[case.region]
            if neighbourhood not in {n.code for n in region.neighbourhoods}:
                raise InvalidAnswer(f"Wijk '{neighbourhood}' hoort niet bij regio {region.name}.")
            if viewing_on < self.today():
                raise InvalidAnswer("De bezichtigingsdatum ligt in het verleden.")
            year = self.today().year
            quota.claim_neighbourhood_place(uow.session, region, neighbourhood, year)
            uow.session.add(
                Offer(
                    case_id=case.id,
                    attempt=attempt,
                    region=region.code,
                    corporation=corporation,
                    dwelling_reference=dwelling_reference,
                    neighbourhood=neighbourhood,
                    year=year,
                    rent=rent,
                    viewing_on=viewing_on,
                    offered_by=decided_by,
                    offered_at=self.now(),
                )
            )
            uow.session.flush()
            self._apply(
                uow,
                case,
                Move.MAKE_OFFER,
                decided_by=decided_by,
                waiting_for=Step.OFFER_RESPONSE,
                reason=f"woning {dwelling_reference} in {neighbourhood}",
            )
            uow.commit()

    def answer_offer(
        self,
        reference: str,
        attempt: int,
        answer: OfferAnswer,
        decided_by: str,
        reason: RefusalReason | None = None,
    ) -> None:
        with self._uow() as uow:
            case = self._open(uow, reference, Stage.OFFER, attempt, Step.OFFER_RESPONSE)
            if case is None:
                return
            self._check_decider(uow.session, case, Step.OFFER_RESPONSE, decided_by)
            offer = _current(uow.session, Offer, case)
            offer.answered_by, offer.answered_at = decided_by, self.now()
            if answer is OfferAnswer.ACCEPTED:
                offer.answer = "accepted"
                self._apply(uow, case, Move.ACCEPT_OFFER, decided_by=decided_by, waiting_for=Step.LEASE)
                uow.commit()
                return
            if reason is None:
                raise InvalidAnswer("Geef bij een weigering de reden op.")
            offer.answer, offer.refusal_reason = "refused", reason.value
            region = self.regions[case.region]
            case.refusals += 1
            if case.refusals >= region.refusal_limit:
                self._apply(uow, case, Move.REFUSE_OFFER, decided_by=decided_by, reason=reason.value)
                self._release_places(uow.session, case)
                self._apply(
                    uow,
                    case,
                    Move.LAPSE_PRIORITY,
                    decided_by=SYSTEM,
                    reason=f"voorrang vervallen na {case.refusals} weigeringen",
                )
            else:
                self._apply(
                    uow,
                    case,
                    Move.REFUSE_OFFER,
                    decided_by=decided_by,
                    reason=reason.value,
                    waiting_for=Step.OFFER,
                )
            uow.commit()

    def draw_up_lease(
        self,
        reference: str,
        attempt: int,
        *,
        contract_form: ContractForm,
        temporary: bool,
        decided_by: str,
    ) -> None:
        """The corporation drew up the lease; it goes out for signing (by the e-signature service, or on paper)."""
        with self._uow() as uow:
            case = self._open(uow, reference, Stage.TENANCY, attempt, Step.LEASE)
            if case is None:
                return
            corporation = _current_corporation(uow.session, case)
            self._check_decider(uow.session, case, Step.LEASE, decided_by)
            if temporary and case.institution_type != InstitutionType.SOCIAL_SHELTER.value:
                raise InvalidAnswer(
                    "Een tijdelijk huurcontract mag alleen voor wie uit de maatschappelijke opvang komt."
                )
            lease = uow.session.execute(select(Lease).filter_by(case_id=case.id)).scalar_one_or_none()
            if lease is None:  # drawn up again after a declined signing: the same lease row, redrawn
                lease = Lease(case_id=case.id)
                uow.session.add(lease)
            lease.corporation, lease.contract_form, lease.temporary = corporation, contract_form.value, temporary
            lease.signed_on, lease.ends_on, lease.recorded_by = None, None, decided_by
            uow.session.flush()
            self._apply(
                uow,
                case,
                Move.DRAW_UP_LEASE,
                decided_by=decided_by,
                waiting_for=Step.SIGNING,
                reason=contract_form.value,
            )
            uow.commit()

    def record_signing(
        self,
        reference: str,
        attempt: int,
        *,
        result: SigningResult,
        signed_on: date | None,
        decided_by: str,
    ) -> None:
        """The lease was signed by everyone (the case goes on to support at home), or it was not: declined or
        expired, and the lease is drawn up again."""
        with self._uow() as uow:
            case = self._open(uow, reference, Stage.TENANCY, attempt, Step.SIGNING)
            if case is None:
                return
            self._check_decider(uow.session, case, Step.SIGNING, decided_by)
            lease = uow.session.execute(select(Lease).filter_by(case_id=case.id)).scalar_one()
            if result is SigningResult.SIGNED:
                if signed_on is None:
                    raise InvalidAnswer("Geef de datum van ondertekening op.")
                if signed_on > self.today():
                    raise InvalidAnswer("De ondertekeningsdatum ligt in de toekomst.")
                lease.signed_on = signed_on
                # A temporary lease for someone from MO runs at most two years (since 1 July 2024).
                lease.ends_on = add_months(signed_on, 24) if lease.temporary else None
                uow.session.flush()
                self._apply(
                    uow,
                    case,
                    Move.SIGN_LEASE,
                    decided_by=decided_by,
                    waiting_for=Step.SUPPORT,
                    reason=lease.contract_form,
                )
            else:
                self._apply(
                    uow, case, Move.DECLINE_SIGNING, decided_by=decided_by, waiting_for=Step.LEASE, reason=result.value
                )
            uow.commit()

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
            case = self._open(uow, reference, Stage.SUPPORT, attempt, Step.SUPPORT)
            if case is None:
                return
            self._check_decider(uow.session, case, Step.SUPPORT, decided_by)
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
            case = self._open(uow, reference, Stage.FOLLOW_UP, attempt, Step.REVIEW)
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
            card = card_for(
                signals,
                living_situation=LivingSituation(living_situation),
                rent_arrears=rent_arrears,
                nuisance=nuisance,
                support_reached=support_reached,
            )
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
                    card=card.value if card else None,
                )
            )
            uow.session.flush()
            if outcome is not ReviewOutcome.CONTINUE:
                self._apply(uow, case, Move.HOLD_REVIEW, decided_by=decided_by, reason=outcome.value)
                self._end(uow, case, END_OF_REVIEW[outcome], decided_by=decided_by, reason=outcome.value)
                uow.commit()
                return
            months = region.follow_up_months
            regular = add_months(support.starts_on, months[number]) if number < len(months) else None
            closer = add_months(held_on, region.warning_review_months)
            why = f"{outcome.value}; signalen: {in_words(','.join(signals))}" if signals else outcome.value
            if card is Card.RED:
                case.next_review_on = min(d for d in (regular, closer) if d is not None)
                self._apply(uow, case, Move.HOLD_REVIEW, decided_by=decided_by, reason=why)
                self._apply(
                    uow, case, Move.OPEN_ESCALATION, decided_by=decided_by, reason=why, waiting_for=Step.ESCALATION
                )
            elif regular is None:
                # The end of the guided period: the lease in the client's own name, more guidance, or the end.
                case.next_review_on = None
                lease = uow.session.execute(select(Lease).filter_by(case_id=case.id)).scalar_one()
                in_own_name = lease.contract_form == ContractForm.REGULAR.value  # nothing to flip
                waiting = None if in_own_name else Step.OMKLAP
                self._apply(uow, case, Move.HOLD_REVIEW, decided_by=decided_by, reason=why, waiting_for=waiting)
                if card is Card.YELLOW:
                    self._apply(uow, case, Move.RAISE_WARNING, decided_by=decided_by, reason=why, waiting_for=waiting)
                if in_own_name:
                    self._end(uow, case, Move.CLOSE_HOUSED, decided_by=decided_by, reason=why)
            else:
                case.next_review_on = min(regular, closer) if card is Card.YELLOW else regular
                due = case.next_review_on + region.due("review")
                for move in (Move.HOLD_REVIEW, Move.RAISE_WARNING) if card is Card.YELLOW else (Move.HOLD_REVIEW,):
                    self._apply(uow, case, move, decided_by=decided_by, reason=why, waiting_for=Step.REVIEW, due_on=due)
            uow.commit()

    def decide_escalation(self, reference: str, attempt: int, decision: EscalationDecision, decided_by: str) -> None:
        """The coordinator's decision on a red card: extra effort and follow-up goes on, or the case ends."""
        with self._uow() as uow:
            case = self._open(uow, reference, Stage.FOLLOW_UP, attempt, Step.ESCALATION)
            if case is None:
                return
            self._check_decider(uow.session, case, Step.ESCALATION, decided_by)
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
            case = self._open(uow, reference, Stage.FOLLOW_UP, attempt, Step.OMKLAP)
            if case is None:
                return
            self._check_decider(uow.session, case, Step.OMKLAP, decided_by)
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

    def _end(self, uow: UnitOfWork, case: Case, move: Move, *, decided_by: str, reason: str) -> None:
        case.next_review_on = None
        self._apply(uow, case, move, decided_by=decided_by, reason=reason)

    def last_review_on(self, reference: str) -> date:
        """The day of the last review held, or the day support started: signals are read from then on."""
        with self._uow() as uow:
            case = uow.case(reference)
            held = uow.session.execute(select(func.max(Review.held_on)).filter_by(case_id=case.id)).scalar_one()
            if held is not None:
                return held
            return uow.session.execute(select(SupportArrangement.starts_on).filter_by(case_id=case.id)).scalar_one()

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

    def review_plan(self, reference: str) -> list[tuple[int, date]]:
        """The reviews still ahead of a case in follow-up, (number, date), nearest first; [] once it has ended."""
        with self._uow() as uow:
            case = uow.case(reference)
            if case.stage != Stage.FOLLOW_UP.value or case.next_review_on is None:
                return []
            held = uow.session.execute(select(func.count()).select_from(Review).filter_by(case_id=case.id)).scalar_one()
            months = self.regions[case.region].follow_up_months
            starts_on = uow.session.execute(
                select(SupportArrangement.starts_on).filter_by(case_id=case.id)
            ).scalar_one()
            later = [(n, add_months(starts_on, months[n - 1])) for n in range(held + 2, len(months) + 1)]
            return [(held + 1, case.next_review_on), *later]

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


END_OF_REVIEW: dict[ReviewOutcome, Move] = {
    ReviewOutcome.CLOSE_HOUSED: Move.CLOSE_HOUSED,
    ReviewOutcome.RELAPSE: Move.RECORD_RELAPSE,
    ReviewOutcome.EVICTED: Move.RECORD_EVICTION,
    ReviewOutcome.MOVED: Move.RECORD_MOVE_AWAY,
}
END_OF_ESCALATION: dict[EscalationDecision, Move] = {
    EscalationDecision.RELAPSE: Move.RECORD_RELAPSE,
    EscalationDecision.EVICTED: Move.RECORD_EVICTION,
    EscalationDecision.MOVED: Move.RECORD_MOVE_AWAY,
}
END_OF_OMKLAP: dict[CaseOutcome, Move] = {
    CaseOutcome.HOUSED: Move.CLOSE_HOUSED,
    CaseOutcome.RELAPSE: Move.RECORD_RELAPSE,
    CaseOutcome.EVICTED: Move.RECORD_EVICTION,
    CaseOutcome.MOVED: Move.RECORD_MOVE_AWAY,
}


def _current_corporation(session: Session, case: Case) -> str:
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
