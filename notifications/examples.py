"""Example facts for every mail: what the preview renders for staff to read, and what the template tests use.

Fictional and pseudonymous, like real mail: references, codes, dates — no client's name, BSN or address.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from notifications.events import MailEvent

COMMON: dict[str, Any] = {
    "reference": "WT-2026-0042",
    "region": "Zuidoost-Drenthe (Emmen)",
    "stage": "Voordracht",
    "step": "reactie van de corporatie op de voordracht",
    "due_on": date(2026, 12, 4),
    "link": "http://127.0.0.1:4200/runs/flow-run/0b6f1c9e-2f4a-4c1b-9d7e-3a5b8c2d1e0f",
}

EXAMPLES: dict[MailEvent, dict[str, Any]] = {
    MailEvent.DECISION_NEEDED: {
        **COMMON,
        "recipient_role": "coördinator (Transferpunt of gemeente)",
        "stage": "Woonvaardigheid",
        "step": "besluit over woonvaardigheid",
    },
    MailEvent.NOMINATION: {
        **COMMON,
        "recipient_role": "woonconsulent (corporatie)",
        "corporation": "Domesta",
        "household_size": 1,
        "ambulant_support": True,
        "care_provider": "Leger des Heils Noord",
    },
    MailEvent.OFFER: {
        **COMMON,
        "recipient_role": "trajectbegeleider (zorgaanbieder)",
        "stage": "Aanbod",
        "step": "reactie van de cliënt op het aanbod",
        "corporation": "Domesta",
        "dwelling_reference": "DOM-EMM-1187",
        "neighbourhood": "Angelslo",
        "viewing_on": date(2026, 12, 1),
        "rent": 612.5,
    },
    MailEvent.LEASE_SIGNED: {
        **COMMON,
        "recipient_role": "coördinator (Transferpunt of gemeente)",
        "stage": "Begeleiding aan huis",
        "step": "begeleiding aan huis regelen",
        "corporation": "Domesta",
        "contract_form": "driepartijencontract",
        "signed_on": date(2026, 12, 10),
    },
    MailEvent.SUPPORT_ARRANGED: {
        **COMMON,
        "recipient_role": "woonconsulent (corporatie)",
        "stage": "Nazorg",
        "step": "nazorggesprek",
        "provider": "Leger des Heils Noord",
        "starts_on": date(2026, 12, 15),
        "review_on": date(2027, 3, 15),
    },
    MailEvent.FOLLOW_UP_DUE: {
        **COMMON,
        "recipient_role": "trajectbegeleider (zorgaanbieder)",
        "stage": "Nazorg",
        "step": "nazorggesprek",
        "review_number": 2,
        "review_on": date(2027, 6, 15),
    },
    MailEvent.WARNING_RAISED: {
        **COMMON,
        "recipient_role": "coördinator (Transferpunt of gemeente)",
        "stage": "Nazorg",
        "step": "nazorggesprek",
        "signal": "huurachterstand van twee maanden",
        "corporation": "Domesta",
    },
    MailEvent.REMINDER: {**COMMON, "recipient_role": "woonconsulent (corporatie)", "overdue": False},
    MailEvent.ESCALATION: {
        **COMMON,
        "recipient_role": "coördinator (Transferpunt of gemeente)",
        "days_overdue": 4,
        "waiting_party": "woonconsulent (Domesta)",
    },
    MailEvent.CASE_STUCK: {
        **COMMON,
        "recipient_role": "coördinator (Transferpunt of gemeente)",
        "stuck_reason": (
            "3× herstart zonder voortgang; laatst Crashed: Flow run infrastructure exited with non-zero status code -9."
        ),
    },
}
