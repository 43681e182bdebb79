"""Who is mailed what, queued in the outbox in the same transaction as the event that causes it.

Mails carry references, codes, dates and what the receiver needs to act; never a client's name, BSN or address.
A corporation hears household size and whether support is in place, never a diagnosis or ZRM detail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.regions import Person, Region
from notifications.events import MailEvent
from notifications.render import render
from weerthuis.casedb.models import Assessment, Case, Lease, Nomination, Offer, OutboxMail, Review, SupportArrangement
from weerthuis.domain.follow_up import in_words
from weerthuis.domain.moves import Event
from weerthuis.domain.procedure import CORPORATION_STEPS, PROCEDURE, Step
from weerthuis.domain.stages import Stage
from weerthuis.domain.vocabulary import Role

# Mails that tell others an event happened: event → (mail, roles told).
TELLING_MAIL: dict[Event, tuple[MailEvent, tuple[Role, ...]]] = {
    Event.LEASE_SIGNED: (MailEvent.LEASE_SIGNED, (Role.COORDINATOR,)),
    Event.SUPPORT_ARRANGED: (MailEvent.SUPPORT_ARRANGED, (Role.CORPORATION_CONSULTANT, Role.COORDINATOR)),
    # A yellow card tells the coordinators and the corporation; a red card asks the coordinator (the decision
    # mail) and tells the corporation.
    Event.WARNING_RAISED: (MailEvent.WARNING_RAISED, (Role.COORDINATOR, Role.CORPORATION_CONSULTANT)),
    Event.ESCALATION_OPENED: (MailEvent.WARNING_RAISED, (Role.CORPORATION_CONSULTANT,)),
}
# Events that can happen more than once in one stage attempt: each review's card is its own mail.
REPEATING = frozenset({Event.WARNING_RAISED, Event.ESCALATION_OPENED})


def current_corporation(session: Session, case: Case) -> str | None:
    return session.execute(
        select(Nomination.corporation)
        .filter_by(case_id=case.id)
        .where(Nomination.status.in_(("proposed", "accepted")))
        .order_by(Nomination.attempt.desc())
        .limit(1)
    ).scalar_one_or_none()


def people_for(session: Session, case: Case, region: Region, role: Role) -> list[Person]:
    """The people of a role who act for this case: its own case manager, its corporation's consultants."""
    if role is Role.CASE_MANAGER:
        own = region.person(case.registered_by)
        if own is not None and own.role is Role.CASE_MANAGER:
            return [own]
        same_provider = region.people_with(role, case.care_provider)
        return same_provider or region.people_with(role)
    if role is Role.CORPORATION_CONSULTANT:
        corporation = current_corporation(session, case)
        return region.people_with(role, corporation) if corporation else []
    return region.people_with(role)


def waiting_people(session: Session, case: Case, region: Region, step: Step) -> list[Person]:
    role = PROCEDURE[step].roles[0]
    if step in CORPORATION_STEPS:
        role = Role.CORPORATION_CONSULTANT
    return people_for(session, case, region, role)


def _name(items: list[Any], code: str | None) -> str:
    return next((item.name for item in items if item.code == code), code or "")


def common_facts(case: Case, region: Region, ui_url: str | None) -> dict[str, Any]:
    step = PROCEDURE[Step(case.waiting_for)].label if case.waiting_for else ""
    link = f"{ui_url.rstrip('/')}/runs/flow-run/{case.flow_run_id}" if ui_url and case.flow_run_id else None
    return {
        "reference": case.reference,
        "region": region.name,
        "stage": Stage(case.stage).label,
        "step": step,
        "due_on": case.due_on,
        "link": link,
    }


def _nomination_facts(session: Session, case: Case, region: Region) -> dict[str, Any]:
    corporation = current_corporation(session, case)
    assessment = session.execute(
        select(Assessment).filter_by(case_id=case.id).order_by(Assessment.attempt.desc()).limit(1)
    ).scalar_one_or_none()
    return {
        "corporation": _name(region.corporations, corporation),
        "household_size": case.household_size,
        "ambulant_support": bool(assessment and assessment.ambulant_support_indication),
        "care_provider": _name(region.care_providers, case.care_provider),
    }


def _offer_facts(session: Session, case: Case, region: Region) -> dict[str, Any]:
    offer = session.execute(select(Offer).filter_by(case_id=case.id, attempt=case.stage_attempt)).scalar_one()
    return {
        "corporation": _name(region.corporations, offer.corporation),
        "dwelling_reference": offer.dwelling_reference,
        "neighbourhood": _name(region.neighbourhoods, offer.neighbourhood),
        "viewing_on": offer.viewing_on,
        "rent": float(offer.rent),
    }


def _lease_facts(session: Session, case: Case, region: Region) -> dict[str, Any]:
    lease = session.execute(select(Lease).filter_by(case_id=case.id)).scalar_one()
    return {
        "corporation": _name(region.corporations, lease.corporation),
        "contract_form": lease.contract_form,
        "signed_on": lease.signed_on,
    }


def _support_facts(session: Session, case: Case, region: Region) -> dict[str, Any]:
    support = session.execute(select(SupportArrangement).filter_by(case_id=case.id)).scalar_one()
    return {
        "provider": _name(region.care_providers, support.provider),
        "starts_on": support.starts_on,
        "review_on": case.next_review_on,
    }


def _warning_facts(session: Session, case: Case, region: Region) -> dict[str, Any]:
    review = session.execute(
        select(Review).filter_by(case_id=case.id).order_by(Review.number.desc()).limit(1)
    ).scalar_one()
    signal = in_words(review.signals)
    if signal == "geen":
        signal = f"zorgen bij het nazorgmoment ({review.living_situation})"
    return {
        "signal": f"{signal}; kaart: {review.card}",
        "corporation": _name(region.corporations, current_corporation(session, case)),
    }


def _review_facts(session: Session, case: Case, region: Region) -> dict[str, Any]:
    held = session.execute(select(func.count()).select_from(Review).filter_by(case_id=case.id)).scalar_one()
    return {"review_number": held + 1, "review_on": case.next_review_on}


EVENT_FACTS: dict[MailEvent, Callable[[Session, Case, Region], dict[str, Any]]] = {
    MailEvent.NOMINATION: _nomination_facts,
    MailEvent.OFFER: _offer_facts,
    MailEvent.LEASE_SIGNED: _lease_facts,
    MailEvent.SUPPORT_ARRANGED: _support_facts,
    MailEvent.FOLLOW_UP_DUE: _review_facts,
    MailEvent.WARNING_RAISED: _warning_facts,
}


def queue(
    session: Session,
    case: Case,
    region: Region,
    event: MailEvent,
    people: list[Person],
    *,
    key: str,
    now: datetime,
    ui_url: str | None,
    extra: dict[str, Any] | None = None,
) -> int:
    """Render the mail for each person and add it to the outbox unless that key is already there."""
    facts = {**common_facts(case, region, ui_url), **(extra or {})}
    if event in EVENT_FACTS:
        facts.update(EVENT_FACTS[event](session, case, region))
    queued = 0
    for person in people:
        mail_key = f"{key}:{person.code}"
        if session.execute(select(OutboxMail.id).filter_by(key=mail_key)).scalar_one_or_none() is not None:
            continue
        mail = render(event, {**facts, "recipient_role": person.role.label})
        session.add(
            OutboxMail(
                case_id=case.id,
                key=mail_key,
                event=event.value,
                recipient=person.code,
                address=person.email,
                subject=mail.subject,
                text_body=mail.text,
                html_body=mail.html,
                status="pending",
                tries=0,
                created_at=now,
            )
        )
        queued += 1
    return queued


def mail_for_transition(
    session: Session, case: Case, region: Region, event: Event, *, now: datetime, ui_url: str | None
) -> None:
    """The mails one transition causes: ask whoever the case now waits on, tell whoever must know."""
    where = f"{case.reference}:{case.stage}:{case.stage_attempt}"
    if event in TELLING_MAIL:
        mail, roles = TELLING_MAIL[event]
        people = [p for role in roles for p in people_for(session, case, region, role)]
        key = f"{where}:{mail.value}"
        if event in REPEATING:
            held = session.execute(select(func.count()).select_from(Review).filter_by(case_id=case.id)).scalar_one()
            key = f"{key}-{held}"
        queue(session, case, region, mail, people, key=key, now=now, ui_url=ui_url)
    # A review is asked by its own scheduled run, which exists only once the run that led here has planned it:
    # its mail goes when the case is handed to that run (ask_for_decision from Casework.await_review_in).
    if case.waiting_for and Step(case.waiting_for) is not Step.REVIEW:
        ask_for_decision(session, case, region, now=now, ui_url=ui_url)


def ask_for_decision(session: Session, case: Case, region: Region, *, now: datetime, ui_url: str | None) -> None:
    """Mail whoever the case waits on, with a link to the run that asks; once per step (and per review date)."""
    assert case.waiting_for is not None
    step = Step(case.waiting_for)
    mail = PROCEDURE[step].asking_mail
    # Reviews repeat within one follow-up attempt; each review date is its own request.
    asked = f"{step.value}-{case.next_review_on}" if step is Step.REVIEW else step.value
    queue(
        session,
        case,
        region,
        mail,
        waiting_people(session, case, region, step),
        key=f"{case.reference}:{case.stage}:{case.stage_attempt}:{asked}:{mail.value}",
        now=now,
        ui_url=ui_url,
    )


def waiting_party(session: Session, case: Case, region: Region, step: Step) -> str:
    """Who a step waits on, in words: `woonconsulent (Domesta)`."""
    if step in CORPORATION_STEPS:
        corporation = current_corporation(session, case)
        return f"{Role.CORPORATION_CONSULTANT.noun} ({_name(region.corporations, corporation)})"
    role = PROCEDURE[step].roles[0]
    if role is Role.CASE_MANAGER:
        return f"{role.noun} ({_name(region.care_providers, case.care_provider)})"
    return f"{role.noun} ({region.name})"


def remind(session: Session, case: Case, region: Region, today: date, *, now: datetime, ui_url: str | None) -> int:
    """The reminders a waiting step has earned by `today`; each is queued once, the escalation on a later day.

    Before the due date: one reminder to whoever the step waits on. Past it: one overdue reminder to them. From
    `escalate_days_after_due` days past it, and not before a later run than the overdue reminder: an escalation
    to the region's coordinators.
    """
    if not case.waiting_for or case.due_on is None:
        return 0
    step, due = Step(case.waiting_for), case.due_on
    asked = f"{step.value}-{case.next_review_on}" if step is Step.REVIEW else step.value
    where = f"{case.reference}:{case.stage}:{case.stage_attempt}:{asked}"
    timing = region.reminders

    def queued_before(kind: str) -> bool:
        return (
            session.execute(
                select(OutboxMail.id).where(OutboxMail.key.startswith(f"{where}:{kind}:")).limit(1)
            ).scalar_one_or_none()
            is not None
        )

    waiting = waiting_people(session, case, region, step)
    if today > due:
        escalate = today >= due + timedelta(days=timing.escalate_days_after_due) and queued_before("overdue")
        count = queue(
            session,
            case,
            region,
            MailEvent.REMINDER,
            waiting,
            key=f"{where}:overdue",
            now=now,
            ui_url=ui_url,
            extra={"overdue": True},
        )
        if escalate:
            extra = {"days_overdue": (today - due).days, "waiting_party": waiting_party(session, case, region, step)}
            count += queue(
                session,
                case,
                region,
                MailEvent.ESCALATION,
                region.people_with(Role.COORDINATOR),
                key=f"{where}:escalation",
                now=now,
                ui_url=ui_url,
                extra=extra,
            )
        return count
    if today >= due - timedelta(days=timing.days_before_due):
        return queue(
            session,
            case,
            region,
            MailEvent.REMINDER,
            waiting,
            key=f"{where}:before",
            now=now,
            ui_url=ui_url,
            extra={"overdue": False},
        )
    return 0
