"""What coordinators read in the Prefect UI besides the forms: a case page per case and one worklist.

Pure rendering from case views: references, stages, dates, staff and organisation codes — never personal data.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from config.regions import Region
from flows.summary import DUTCH_TIME, case_history, case_summary
from weerthuis.domain.procedure import CORPORATION_STEPS, PROCEDURE
from weerthuis.domain.vocabulary import Role
from weerthuis.service.views import CaseView

WORKLIST_KEY = "werkvoorraad"


def case_page_key(reference: str) -> str:
    """Prefect artifact keys take lowercase letters, digits and dashes: `case-wt-2026-0042`."""
    return f"case-{reference.lower()}"


def run_url(ui_url: str, flow_run_id: str | None) -> str | None:
    return f"{ui_url.rstrip('/')}/runs/flow-run/{flow_run_id}" if flow_run_id else None


def waiting_party(case: CaseView, region: Region) -> str:
    """Role and organisation the case waits on, e.g. `woonconsulent (Domesta)`."""
    if case.waiting_for is None:
        return ""
    role = PROCEDURE[case.waiting_for].roles[0]
    if case.waiting_for in CORPORATION_STEPS and case.corporation:
        organisation = region.corporation(case.corporation).name
    elif role is Role.CASE_MANAGER:
        organisation = next((p.name for p in region.care_providers if p.code == case.care_provider), "")
    else:
        organisation = region.name
    return f"{role.noun} ({organisation})"


def waiting_since(case: CaseView) -> date:
    return (case.history[-1].at if case.history else case.stage_since).date()


def is_overdue(case: CaseView, today: date) -> bool:
    return case.due_on is not None and today > case.due_on


def stage_timeline(case: CaseView) -> list[str]:
    lines = [f"| fase | begonnen ({DUTCH_TIME}) | door |", "|---|---|---|"]
    for line in case.history:
        if line.from_stage != line.to_stage:
            lines.append(f"| {line.to_stage.label} | {line.at:%d-%m-%Y %H:%M} | {line.decided_by} |")
    return lines


def case_page(case: CaseView, region: Region, *, ui_url: str, today: date) -> str:
    """The case page: where the case stands, what it waits on and until when, its timeline and history."""
    lines = [f"# Zaak {case.reference}", ""]
    if case.waiting_for is not None:
        step = PROCEDURE[case.waiting_for]
        due = f"uiterlijk {case.due_on:%d-%m-%Y}" if case.due_on else "geen termijn"
        late = " — **te laat**" if is_overdue(case, today) else ""
        lines.append(f"**Wacht op** {waiting_party(case, region)}: {step.label}, {due}{late}.")
    else:
        lines.append(f"**Fase:** {case.stage.label}; de zaak wacht op niemand.")
    if case.problem:
        lines += ["", f"**Probleem met een koppeling** (wacht op de coördinator): {case.problem}"]
    if case.stuck:
        lines += [
            "",
            f"**Vastgelopen**: de run start niet meer vanzelf opnieuw ({case.stuck}). Zie de run; na het "
            "oplossen start *Retry* hem opnieuw.",
        ]
    url = run_url(ui_url, case.flow_run_id)
    if url:
        # In follow-up this is the scheduled run of the next review, the one whose form is asked.
        lines += ["", f"[Open de run die nu wacht]({url}): het formulier staat onder de knop Resume."]
    lines += [
        "",
        case_summary(case, region),
        "",
        "## Fasen",
        "",
        *stage_timeline(case),
        "",
        case_history(case),
    ]
    return "\n".join(lines)


def worklist(cases: list[CaseView], regions: dict[str, Region], *, ui_url: str, today: date) -> list[dict[str, Any]]:
    """One row per waiting case: the werkvoorraad a coordinator works through, most urgent first."""
    rows = []
    for case in sorted(cases, key=lambda c: (c.due_on or date.max, c.reference)):
        if case.waiting_for is None:
            continue
        region = regions[case.region]
        rows.append(
            {
                "zaak": case.reference,
                "regio": region.name,
                "fase": case.stage.label,
                "wacht op": waiting_party(case, region),
                "stap": PROCEDURE[case.waiting_for].label,
                "sinds": f"{waiting_since(case):%d-%m-%Y}",
                "uiterlijk": f"{case.due_on:%d-%m-%Y}" if case.due_on else "",
                "te laat": "ja" if is_overdue(case, today) else "nee",
                "probleem": "; ".join(p for p in (case.problem, case.stuck and f"vastgelopen: {case.stuck}") if p),
                "formulier": run_url(ui_url, case.flow_run_id) or "",
            }
        )
    return rows
