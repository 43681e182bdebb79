"""What people read of the monitor: the Markdown page and table for Prefect, the HTML report and the CSV export.

Pure rendering of `MonitorFigures` (aggregated, pseudonymous); only `write_report` touches the disk.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from config.regions import Region
from weerthuis.domain.stages import Stage
from weerthuis.monitor.charts import (
    FUNNEL_LABELS,
    LEAD_TIME_LABELS,
    funnel_markdown,
    funnel_svg,
    lead_times_markdown,
    lead_times_svg,
)
from weerthuis.monitor.figures import FigureRow, MonitorFigures, figure_rows

TEMPLATES = Path(__file__).parent / "templates"
MONTHS = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)
FIGURE_LABELS = {
    **FUNNEL_LABELS,
    "closed": "afgesloten, naar uitkomst",
    "stock": "voorraad aan het eind van de periode",
    "lead_time_cases": "doorlooptijd: zaken",
    "lead_time_median_days": "doorlooptijd: mediaan (dagen)",
    "lead_time_p90_days": "doorlooptijd: 90e percentiel (dagen)",
    "offers_refused": "aanbod geweigerd",
    "nominations_declined": "voordracht afgewezen",
    "signings_declined": "ondertekening geweigerd of verlopen",
    "priorities_lapsed": "voorrang vervallen",
    "contingent_size": "contingent",
    "contingent_used": "contingent gebruikt",
    "contingent_left": "contingent over",
    "tenancy_cohort": "sleutel lang genoeg geleden",
    "tenancy_kept": "huur behouden",
    "tenancy_kept_share": "huur behouden (aandeel)",
    "warnings": "gele kaarten (waarschuwing)",
    "escalations": "rode kaarten (escalatie, risico op ontruiming)",
    "evictions": "ontruimingen",
    "leases_transferred": "omklap afgerond",
    "leases_transferred_to_date": "omklap afgerond, totaal tot en met de einddatum",
}
DEFINITIONS = (
    "Een periode loopt van de eerste tot en met de laatste dag (Nederlandse tijd); wat daarna gebeurde, telt niet mee.",
    "Instroom, doorstroom en uitstroom tellen zaken in de periode waarin het voor het eerst gebeurde: een zaak die "
    "twee keer is voorgedragen, telt één keer. Zo tellen de weken op tot het jaar.",
    "Doorlooptijden zijn kalenderdagen, voor de zaken die de stap in de periode afrondden. Een fase loopt van de "
    "eerste keer erin tot de eerste keer in de volgende fase.",
    "Mediaan en 90e percentiel volgens de nearest-rank-methode: van n gesorteerde waarden die op plaats ⌈p·n⌉ "
    "(de mediaan van vier waarden is de tweede).",
    "Voorraad: lopende zaken per fase aan het eind van de laatste dag van de periode.",
    "Huur behouden na N maanden: van de zaken die minstens N maanden vóór het eind van de periode de sleutel kregen, "
    "het deel dat niet binnen N maanden is ontruimd of teruggevallen.",
    "Contingent: voordrachten die een plaats bezetten (voorgedragen of geaccepteerd) in het jaar van de einddatum, "
    "zoals ze nu in de zaakdatabase staan.",
)

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def dutch_date(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def period_label(figures: MonitorFigures) -> str:
    """`2 t/m 8 maart 2026`, or one day when the period is a single day."""
    start, end = figures.period_start, figures.period_end
    if start == end:
        return dutch_date(end)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day} t/m {dutch_date(end)}"
    return f"{dutch_date(start)} t/m {dutch_date(end)}"


def report_name(figures: MonitorFigures) -> str:
    """The file name (without suffix) of a region's report over a period, e.g. `monitor-emmen-2026-03-02-2026-03-08`."""
    return f"monitor-{figures.region}-{figures.period_start.isoformat()}-{figures.period_end.isoformat()}"


def artifact_key(region: str) -> str:
    return f"monitor-{region}"


def dimension_label(row: FigureRow, region: Region | None) -> str:
    """The Dutch reading of a figure's dimension: a stage, a lead time, a corporation, months, or a reason."""
    figure, dimension = row.figure, row.dimension
    if figure in ("closed", "stock"):
        return Stage(dimension).label
    if figure.startswith("lead_time"):
        return LEAD_TIME_LABELS[dimension]
    if figure.startswith("contingent"):
        year, corporation = dimension.split("/", 1)
        names = {c.code: c.name for c in region.corporations} if region else {}
        return f"{names.get(corporation, corporation)} ({year})"
    if figure.startswith("tenancy"):
        return f"na {dimension} maanden"
    return dimension


def _value(value: int | float | None, figure: str) -> str:
    if value is None:
        return "–"
    if figure.endswith("_share"):
        return f"{value:.1%}".replace(".", ",")
    return str(value)


def table_rows(figures: MonitorFigures, region: Region | None) -> list[dict[str, Any]]:
    """Every figure as a row of the Prefect table artifact, in Dutch."""
    return [
        {
            "cijfer": FIGURE_LABELS[row.figure],
            "onderverdeling": dimension_label(row, region),
            "waarde": _value(row.value, row.figure),
        }
        for row in figure_rows(figures)
    ]


def markdown_page(figures: MonitorFigures, region: Region | None) -> str:
    """The Markdown artifact: charts as Unicode bars and the headline figures."""
    name = region.name if region else figures.region
    outcomes = ", ".join(f"{Stage(s).label} {n}" for s, n in figures.outcomes.items())
    stock = ", ".join(f"{Stage(s).label} {n}" for s, n in figures.stock.items())
    refusals = ", ".join(f"{reason} {n}" for reason, n in figures.refusals.items() if n) or "geen"
    lines = [
        f"## Transferpuntmonitor {name}",
        f"**Periode:** {period_label(figures)}",
        "",
        "### Instroom, doorstroom en uitstroom",
        funnel_markdown(figures),
        "",
        f"**Afgesloten:** {outcomes}",
        "",
        f"**Voorraad op {dutch_date(figures.period_end)}:** {stock}",
        "",
        "### Doorlooptijden (dagen; mediaan █, tot het 90e percentiel ░)",
        lead_times_markdown(figures),
        "",
        "### Weigeringen en afwijzingen",
        f"Aanbod geweigerd: {refusals}. Voordrachten afgewezen: {sum(figures.declines.values())}. "
        f"Ondertekening geweigerd of verlopen: {figures.signings_declined}. "
        f"Voorrang vervallen: {figures.priorities_lapsed}.",
        "",
        f"### Contingent {figures.contingent_year}",
        "| corporatie | contingent | gebruikt | over |",
        "|---|---:|---:|---:|",
    ]
    names = {c.code: c.name for c in region.corporations} if region else {}
    lines += [
        f"| {names.get(use.corporation, use.corporation)} | {use.size} | {use.used} | {use.left} |"
        for use in figures.contingents
    ]
    lines += [
        "",
        "### Nazorg",
        "| | zaken | huur behouden |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| na {kept.months} maanden | {kept.cohort} | {_value(kept.share, '_share')} |" for kept in figures.tenancy
    ]
    lines += [
        "",
        f"Gele kaarten: {figures.warnings} · rode kaarten: {figures.escalations} · ontruimingen: {figures.evictions} · "
        f"omklap afgerond: {figures.leases_transferred} (totaal {figures.leases_transferred_to_date})",
        "",
        "_Alle cijfers zijn geaggregeerd; de monitor toont geen zaken of personen._",
    ]
    return "\n".join(lines)


def render_html(figures: MonitorFigures, region: Region | None) -> str:
    """The HTML report: charts as inline SVG, every figure in tables, and the definitions."""
    rows = table_rows(figures, region)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["cijfer"], []).append(row)
    return _environment.get_template("monitor.html").render(
        region_name=region.name if region else figures.region,
        period=period_label(figures),
        # Markup: charts.py builds the SVG and escapes every text it places in it.
        funnel=Markup(funnel_svg(figures)),
        lead_times=Markup(lead_times_svg(figures)),
        groups=groups,
        definitions=DEFINITIONS,
    )


def write_csv(figures: MonitorFigures, path: Path) -> None:
    """One row per figure: region, period, figure, dimension, value (empty when there is none)."""
    period = f"{figures.period_start.isoformat()}/{figures.period_end.isoformat()}"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["region", "period", "figure", "dimension", "value"])
        for row in figure_rows(figures):
            writer.writerow([figures.region, period, row.figure, row.dimension, "" if row.value is None else row.value])


def write_report(figures: MonitorFigures, region: Region | None, folder: Path) -> tuple[Path, Path]:
    """Write the HTML report and the CSV export of one region and period; a second run overwrites both."""
    folder.mkdir(parents=True, exist_ok=True)
    html, export = folder / f"{report_name(figures)}.html", folder / f"{report_name(figures)}.csv"
    html.write_text(render_html(figures, region), encoding="utf-8")
    write_csv(figures, export)
    return html, export
