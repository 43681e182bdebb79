"""The Markdown case summary shown above every form: references, stages, dates and codes only."""

from __future__ import annotations

from config.regions import Region
from weerthuis.casework import CaseView
from weerthuis.domain.moves import EVENT_LABELS, Event
from weerthuis.domain.steps import STEPS


def case_summary(case: CaseView, region: Region, *, rejected: str | None = None, moment: str = "%d-%m-%Y") -> str:
    """The summary above a form; `moment` formats history times (dates only: the form dialog is narrow)."""
    lines = []
    if rejected:
        lines += [f"> **Vorige invoer is afgewezen:** {rejected}", ">", "> Vul het formulier opnieuw in.", ""]
    step = STEPS[case.waiting_for] if case.waiting_for else None
    lines += [
        f"### Zaak {case.reference} — {case.stage.label}",
        "",
        "| | |",
        "|---|---|",
        f"| Regio | {region.name} |",
        f"| Herkomst | {case.institution_type}, zorgaanbieder {case.care_provider} |",
        f"| Fase | {case.stage.label} (poging {case.attempt}), sinds {case.stage_since:%d-%m-%Y} |",
    ]
    if step:
        lines.append(f"| Wacht op | {case.waiting_on}: {step.label} |")
    if case.due_on:
        lines.append(f"| Uiterlijk | {case.due_on:%d-%m-%Y} |")
    if case.corporation:
        lines.append(f"| Corporatie | {case.corporation} |")
    if case.refusals:
        lines.append(f"| Weigeringen | {case.refusals} van {region.refusal_limit} |")
    lines += [
        "",
        "**Verloop**",
        "",
        "| wanneer | wat | door |",
        "|---|---|---|",
    ]
    for line in case.history:
        what = EVENT_LABELS.get(Event(line.event), line.event)
        if line.from_stage != line.to_stage:
            what += f" → {line.to_stage.label}"
        if line.reason:
            what += f" ({line.reason})"
        lines.append(f"| {line.at.strftime(moment)} | {what} | {line.decided_by} |")
    return "\n".join(lines)
