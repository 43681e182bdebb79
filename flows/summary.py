"""What a person reads about a case in the Prefect UI: references, stages, dates, codes and names of organisations.

Above every form stands a short summary (the form dialog is narrow and a long text is squeezed away); the whole
history is on the case page and in `weerthuis show`. Times are Dutch time and say so, since the UI shows UTC.
"""

from __future__ import annotations

from collections.abc import Mapping

from config.regions import Region
from weerthuis.domain.moves import EVENT_LABELS, Event
from weerthuis.domain.procedure import PROCEDURE
from weerthuis.domain.zrm import ZrmDomain
from weerthuis.service.views import CaseView

DUTCH_TIME = "Nederlandse tijd"


def name_of(region: Region, code: str) -> str | None:
    """The name people know a corporation, care provider or neighbourhood by."""
    for items in (region.corporations, region.care_providers, region.neighbourhoods):
        for organisation in items:
            if organisation.code == code:
                return organisation.name
    return None


def organisation_name(region: Region, code: str | None) -> str:
    """The name with its code: `Domesta (domesta)`."""
    if not code:
        return ""
    name = name_of(region, code)
    return f"{name} ({code})" if name else code


def case_summary(
    case: CaseView,
    region: Region,
    *,
    rejected: str | None = None,
    case_page_url: str | None = None,
) -> str:
    """The few lines above a form: which case, where it stands, what it waits on until when."""
    lines = []
    if rejected:
        lines += [f"> **Vorige invoer is afgewezen:** {rejected}", ">", "> Vul het formulier opnieuw in.", ""]
    lines += [
        f"**Zaak {case.reference} — {case.stage.label}** (poging {case.attempt}, sinds {case.stage_since:%d-%m-%Y})",
        "",
        f"- Regio: {region.name}; herkomst {case.institution_type}, "
        f"zorgaanbieder {organisation_name(region, case.care_provider)}",
    ]
    if case.waiting_for:
        due = f", uiterlijk {case.due_on:%d-%m-%Y}" if case.due_on else ""
        lines.append(f"- Wacht op: {PROCEDURE[case.waiting_for].label}{due}")
    if case.corporation:
        lines.append(f"- Corporatie: {organisation_name(region, case.corporation)}")
    if case.refusals:
        lines.append(f"- Weigeringen: {case.refusals} van {region.refusal_limit}")
    if case.history:
        last = case.history[-1]
        what = EVENT_LABELS.get(Event(last.event), last.event)
        lines.append(f"- Laatste stap: {what} ({last.at:%d-%m-%Y}, {last.decided_by})")
    if case_page_url:
        lines.append(f"- [Hele verloop op de zaakpagina]({case_page_url})")
    return "\n".join(lines)


def zrm_scores(scores: Mapping[ZrmDomain, int], *, assessed_on: str, assessor: str) -> str:
    """The ZRM the coordinator decides on: every domain with its score, lowest first catches the eye."""
    lines = [f"**ZRM-meting** van {assessed_on} door {assessor} (1 = acuut probleem … 5 = volledig zelfredzaam)", ""]
    lines += ["| domein | score |", "|---|---|"]
    lines += [f"| {domain.label} | {scores[domain]} |" for domain in ZrmDomain]
    return "\n".join(lines)


def case_history(case: CaseView, *, moment: str = "%d-%m-%Y %H:%M") -> str:
    """The whole history of the case, oldest first, with Dutch times labelled as such."""
    lines = [
        "**Verloop**",
        "",
        f"| wanneer ({DUTCH_TIME}) | wat | door |",
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
