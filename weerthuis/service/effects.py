"""Each event's side effects owed to other systems: the actions rows a transition writes, and their payloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from weerthuis.casedb.models import (
    Assessment,
    Case,
    Lease,
    Nomination,
    Offer,
)
from weerthuis.domain.moves import Event
from weerthuis.domain.vocabulary import (
    WmoDecision,
)

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
    nomination = current_row(session, Nomination, case)
    assessment = latest_assessment_row(session, case)
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


def problem_text(system: str, reason: str | None) -> str:
    """`zaaksysteem: POST zaken geweigerd (400): …`, naming the system once."""
    label, reason = SYSTEM_LABELS.get(system, system), reason or "onbekende fout"
    return reason if reason.startswith(f"{label}:") else f"{label}: {reason}"


def current_row(session: Session, model: type[Nomination] | type[Offer], case: Case) -> Any:
    return session.execute(select(model).filter_by(case_id=case.id, attempt=case.stage_attempt)).scalar_one()


def latest_assessment_row(session: Session, case: Case) -> Assessment | None:
    return session.execute(
        select(Assessment).filter_by(case_id=case.id).order_by(Assessment.attempt.desc()).limit(1)
    ).scalar_one_or_none()
