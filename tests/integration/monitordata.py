"""A small hand-made case database for the monitor, whose right answers the tests write out.

Histories go straight into the real tables (cases, transitions, nominations, offers, contingents), with the days the
figures turn on, and each case's milestone days as the commands keep them; the period under test is the week of
Monday 2 to Sunday 8 March 2026, computed on Monday 9 March.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import Engine, insert

from config.regions import Region
from weerthuis.casedb import quota
from weerthuis.casedb.models import Case, CaseMilestones, Client, Nomination, Offer, Transition
from weerthuis.domain.calendar import AMSTERDAM
from weerthuis.domain.milestones import first_days
from weerthuis.domain.vocabulary import DeclineReason, RefusalReason

WEEK = (date(2026, 3, 2), date(2026, 3, 8))
MONDAY_AFTER = date(2026, 3, 9)

# The stage each event puts a case in; the other events are steps within the stage.
ENTERS = {
    "CaseRegistered": "registered",
    "AssessmentStarted": "readiness",
    "ReadinessPostponed": "readiness",
    "ReadinessApproved": "nomination",
    "NominationDeclined": "nomination",
    "NominationAccepted": "offer",
    "OfferRefused": "offer",
    "PriorityLapsed": "withdrawn",
    "OfferAccepted": "tenancy",
    "SigningDeclined": "tenancy",
    "LeaseSigned": "support",
    "SupportArranged": "follow_up",
    "CaseClosed": "closed",
    "CaseRelapsed": "relapsed",
    "TenantEvicted": "evicted",
    "ClientMovedAway": "moved",
    "CaseWithdrawn": "withdrawn",
}

# reference: (region, client name, [(day, event, reason), ...]); a day may carry a time: "2026-03-02 00:30".
CASES: dict[str, tuple[str, str, list[tuple[str, str, str]]]] = {
    # Housed long ago; a yellow card, the omklap and the closing all in the week.
    "WT-2023-0001": ("emmen", "Anna Geheim", [
        ("2023-12-01", "CaseRegistered", ""), ("2023-12-01", "AssessmentStarted", ""),
        ("2024-01-05", "ReadinessApproved", ""), ("2024-01-08", "NominationProposed", ""),
        ("2024-01-15", "NominationAccepted", ""), ("2024-02-01", "OfferMade", ""), ("2024-02-06", "OfferAccepted", ""),
        ("2024-02-10", "LeaseDrawnUp", ""), ("2024-02-20", "LeaseSigned", ""), ("2024-03-01", "SupportArranged", ""),
        ("2026-03-03", "WarningRaised", "huurachterstand"), ("2026-03-04", "LeaseTransferred", ""),
        ("2026-03-06", "CaseClosed", ""),
    ]),
    # Declined once, refused once (both before the week), signing declined and keys in the week.
    "WT-2026-0001": ("emmen", "Bert Verborgen", [
        ("2026-01-05", "CaseRegistered", ""), ("2026-01-05", "AssessmentStarted", ""),
        ("2026-01-20", "ReadinessApproved", ""), ("2026-01-21", "NominationProposed", ""),
        ("2026-01-26", "NominationDeclined", DeclineReason.NO_SUITABLE_DWELLING.value),
        ("2026-01-27", "NominationProposed", ""), ("2026-02-02", "NominationAccepted", ""),
        ("2026-02-05", "OfferMade", ""), ("2026-02-09", "OfferRefused", RefusalReason.LOCATION.value),
        ("2026-02-20", "OfferMade", ""), ("2026-02-24", "OfferAccepted", ""), ("2026-03-02", "LeaseDrawnUp", ""),
        ("2026-03-04", "SigningDeclined", "verlopen"), ("2026-03-05", "LeaseDrawnUp", ""),
        ("2026-03-06", "LeaseSigned", ""),
    ]),
    # Registered just after midnight on the Monday (Sunday night in UTC), ready and nominated in the week,
    # accepted the day after it.
    "WT-2026-0002": ("emmen", "Carla Onbekend", [
        ("2026-03-02 00:30", "CaseRegistered", ""), ("2026-03-02 00:30", "AssessmentStarted", ""),
        ("2026-03-06", "ReadinessApproved", ""), ("2026-03-07", "NominationProposed", ""),
        ("2026-03-09", "NominationAccepted", ""),
    ]),
    # Its first offer in the week, refused twice in it: the priority lapsed.
    "WT-2025-0001": ("emmen", "Dirk Anoniem", [
        ("2025-10-01", "CaseRegistered", ""), ("2025-10-01", "AssessmentStarted", ""),
        ("2025-11-03", "ReadinessApproved", ""), ("2025-11-05", "NominationProposed", ""),
        ("2025-11-10", "NominationAccepted", ""), ("2026-03-02", "OfferMade", ""),
        ("2026-03-03", "OfferRefused", RefusalReason.SIZE_OR_LAYOUT.value), ("2026-03-04", "OfferMade", ""),
        ("2026-03-05", "OfferRefused", RefusalReason.RENT_TOO_HIGH.value),
        ("2026-03-05", "PriorityLapsed", "voorrang vervallen na 2 weigeringen"),
    ]),
    # Keys on 15 January 2025, a yellow card that year, a red card and the eviction in the week.
    "WT-2024-0001": ("emmen", "Eva Incognito", [
        ("2024-10-01", "CaseRegistered", ""), ("2024-10-01", "AssessmentStarted", ""),
        ("2024-11-01", "ReadinessApproved", ""), ("2024-11-04", "NominationProposed", ""),
        ("2024-11-10", "NominationAccepted", ""), ("2024-12-01", "OfferMade", ""), ("2024-12-05", "OfferAccepted", ""),
        ("2025-01-10", "LeaseDrawnUp", ""), ("2025-01-15", "LeaseSigned", ""), ("2025-01-25", "SupportArranged", ""),
        ("2025-06-01", "WarningRaised", "overlast"), ("2026-03-02", "EscalationOpened", "overlast"),
        ("2026-03-05", "TenantEvicted", ""),
    ]),
    # Keys on 1 April 2025, back to care four months later.
    "WT-2025-0002": ("emmen", "Frank Schuilnaam", [
        ("2025-01-06", "CaseRegistered", ""), ("2025-01-06", "AssessmentStarted", ""),
        ("2025-02-03", "ReadinessApproved", ""), ("2025-02-04", "NominationProposed", ""),
        ("2025-02-10", "NominationAccepted", ""), ("2025-03-01", "OfferMade", ""), ("2025-03-05", "OfferAccepted", ""),
        ("2025-03-20", "LeaseDrawnUp", ""), ("2025-04-01", "LeaseSigned", ""), ("2025-04-10", "SupportArranged", ""),
        ("2025-08-01", "CaseRelapsed", ""),
    ]),
    # Registered the day after the week: in none of its figures.
    "WT-2026-0003": ("emmen", "Gerda Later", [("2026-03-09", "CaseRegistered", "")]),
    # Another region.
    "WT-2026-0004": ("fryslan", "Hylke Elders", [("2026-03-03", "CaseRegistered", "")]),
    # Withdrawn at readiness, long before.
    "WT-2025-0003": ("emmen", "Ingrid Weg", [
        ("2025-06-01", "CaseRegistered", ""), ("2025-06-01", "AssessmentStarted", ""),
        ("2025-06-20", "ReadinessPostponed", ""), ("2025-07-01", "CaseWithdrawn", ""),
    ]),
    # Registered the Friday before, picked up in the week.
    "WT-2026-0005": ("emmen", "Jan Wachter", [
        ("2026-02-27", "CaseRegistered", ""), ("2026-03-03", "AssessmentStarted", ""),
    ]),
    # In follow-up at the end of the week (it moves away after it); an early omklap in February.
    "WT-2025-0004": ("emmen", "Karin Verhuisd", [
        ("2025-05-01", "CaseRegistered", ""), ("2025-05-01", "AssessmentStarted", ""),
        ("2025-06-02", "ReadinessApproved", ""), ("2025-06-03", "NominationProposed", ""),
        ("2025-06-10", "NominationAccepted", ""), ("2025-07-01", "OfferMade", ""), ("2025-07-07", "OfferAccepted", ""),
        ("2025-08-20", "LeaseDrawnUp", ""), ("2025-09-01", "LeaseSigned", ""), ("2025-09-10", "SupportArranged", ""),
        ("2026-02-01", "LeaseTransferred", ""), ("2026-03-10", "ClientMovedAway", ""),
    ]),
    # Keys on 3 June 2024, evicted nine months later.
    "WT-2024-0002": ("emmen", "Lucas Ontruimd", [
        ("2024-01-08", "CaseRegistered", ""), ("2024-01-08", "AssessmentStarted", ""),
        ("2024-02-05", "ReadinessApproved", ""), ("2024-02-06", "NominationProposed", ""),
        ("2024-02-12", "NominationAccepted", ""), ("2024-03-04", "OfferMade", ""), ("2024-03-08", "OfferAccepted", ""),
        ("2024-05-20", "LeaseDrawnUp", ""), ("2024-06-03", "LeaseSigned", ""), ("2024-06-10", "SupportArranged", ""),
        ("2025-02-01", "EscalationOpened", "huurachterstand"), ("2025-03-03", "TenantEvicted", ""),
    ]),
    # Registered before the week, picked up and withdrawn in it.
    "WT-2026-0006": ("emmen", "Mira Teruggetrokken", [
        ("2026-02-20", "CaseRegistered", ""), ("2026-03-02", "AssessmentStarted", ""),
        ("2026-03-04", "CaseWithdrawn", ""),
    ]),
    # Registered in the week, nothing since.
    "WT-2026-0007": ("emmen", "Noor Nieuw", [("2026-03-05", "CaseRegistered", "")]),
}  # fmt: skip

# (reference, attempt, corporation, year, status, answered on, decline reason), as the histories above have them.
NOMINATIONS = [
    ("WT-2026-0001", 1, "domesta", 2026, "declined", "2026-01-26", DeclineReason.NO_SUITABLE_DWELLING.value),
    ("WT-2026-0001", 2, "lefier", 2026, "accepted", "2026-02-02", None),
    ("WT-2026-0002", 1, "domesta", 2026, "proposed", None, None),
    ("WT-2025-0001", 1, "woonservice", 2025, "released", "2025-11-10", None),
    ("WT-2025-0004", 1, "domesta", 2025, "accepted", "2025-06-10", None),
]
# (reference, attempt, corporation, answer, answered on, refusal reason): the offers answered since 2026.
OFFERS = [
    ("WT-2026-0001", 1, "lefier", "refused", "2026-02-09", RefusalReason.LOCATION.value),
    ("WT-2026-0001", 2, "lefier", "accepted", "2026-02-24", None),
    ("WT-2025-0001", 1, "woonservice", "refused", "2026-03-03", RefusalReason.SIZE_OR_LAYOUT.value),
    ("WT-2025-0001", 2, "woonservice", "refused", "2026-03-05", RefusalReason.RENT_TOO_HIGH.value),
]
NAMES = [name for _, name, _ in CASES.values()]


def moment(day: str) -> datetime:
    """`2026-03-02` (at ten) or `2026-03-02 00:30`, Dutch time."""
    on, _, at = day.partition(" ")
    clock = time.fromisoformat(at) if at else time(10)
    return datetime.combine(date.fromisoformat(on), clock, tzinfo=AMSTERDAM)


def fill(engine: Engine, regions: dict[str, Region]) -> None:
    """Write the data set, with this year's contingents from the region files."""
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        for region in regions.values():
            quota.sync_quotas(session, region, 2026)
        session.commit()
    with engine.begin() as connection:
        ids = {}
        for reference, (region, name, history) in CASES.items():
            client_id = connection.execute(insert(Client).values(full_name=name)).inserted_primary_key[0]
            stage, since = "registered", moment(history[0][0])
            rows = []
            for seq, (day, event, reason) in enumerate(history, start=1):
                before, stage = stage, ENTERS.get(event, stage)
                if event in ENTERS:
                    since = moment(day)
                rows.append(
                    {
                        "seq": seq,
                        "move": "test",
                        "event": event,
                        "from_stage": before,
                        "from_attempt": 1,
                        "answered_step": None,
                        "to_stage": stage,
                        "attempt": 1,
                        "decided_by": "TEST",
                        "at": moment(day),
                        "reason": reason,
                    }
                )
            ids[reference] = connection.execute(
                insert(Case).values(
                    reference=reference,
                    region=region,
                    client_id=client_id,
                    institution_type="MO",
                    care_provider="leger-des-heils",
                    origin_municipality="Emmen",
                    registration_reason="dakloos",
                    region_tie=True,
                    household_size=1,
                    housing_wishes="",
                    registered_by="EMM-TB-01",
                    registered_at=moment(history[0][0]),
                    stage=stage,
                    stage_attempt=1,
                    stage_since=since,
                )
            ).inserted_primary_key[0]
            connection.execute(insert(Transition), [{**row, "case_id": ids[reference]} for row in rows])
            # The milestone days the commands keep beside the case, as they would have kept them.
            reached = first_days((row["event"], row["at"]) for row in rows)
            connection.execute(insert(CaseMilestones).values(case_id=ids[reference], **reached))
        for reference, attempt, corporation, year, status, answered, reason in NOMINATIONS:
            connection.execute(
                insert(Nomination).values(
                    case_id=ids[reference],
                    attempt=attempt,
                    region="emmen",
                    corporation=corporation,
                    year=year,
                    status=status,
                    proposed_by="EMM-TP-01",
                    proposed_at=moment(f"{year}-01-15"),
                    answered_by=None if answered is None else "EMM-DOM-01",
                    answered_at=None if answered is None else moment(answered),
                    decline_reason=reason,
                )
            )
        for reference, attempt, corporation, answer, answered, reason in OFFERS:
            connection.execute(
                insert(Offer).values(
                    case_id=ids[reference],
                    attempt=attempt,
                    region="emmen",
                    corporation=corporation,
                    dwelling_reference=f"VHE-{attempt}",
                    neighbourhood="angelslo",
                    year=int(answered[:4]),
                    rent=Decimal("612.40"),
                    viewing_on=date.fromisoformat(answered),
                    offered_by="EMM-DOM-01",
                    offered_at=moment(answered),
                    answer=answer,
                    refusal_reason=reason,
                    answered_by="EMM-TB-01",
                    answered_at=moment(answered),
                )
            )
