"""Charts of the monitor: a funnel and lead-time bars, as inline SVG for the report and as Unicode bars in Markdown.

Pure rendering of figures; labels are Dutch. Every text placed in SVG is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from weerthuis.monitor.figures import MonitorFigures

FUNNEL_LABELS = {
    "registered": "aangemeld",
    "ready": "klaar voor uitstroom",
    "nominated": "voorgedragen",
    "offered": "woning aangeboden",
    "housed": "sleutel (huurovereenkomst getekend)",
}
LEAD_TIME_LABELS = {
    "registration": "aanmelding → start woonvaardigheid",
    "readiness": "woonvaardigheid",
    "nomination": "voordracht",
    "offer": "bemiddeling en aanbod",
    "tenancy": "huurovereenkomst",
    "support": "begeleiding aan huis regelen",
    "ready_to_offer": "klaar → eerste aanbod",
    "ready_to_keys": "klaar → sleutel",
}
EIGHTHS = " ▏▎▍▌▋▊▉"
DARK, LIGHT, INK = "#1f5f8b", "#9cc3de", "#222222"
LABEL_WIDTH = 290  # room for the longest label at 13 px


@dataclass(frozen=True)
class Bar:
    label: str
    value: int


def funnel_bars(figures: MonitorFigures) -> list[Bar]:
    return [Bar(FUNNEL_LABELS[step], n) for step, n in figures.flow.items()]


def unicode_bar(value: float, maximum: float, width: int = 24) -> str:
    """A bar of full blocks and one partial block, `width` characters long at `maximum`."""
    if maximum <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / maximum * width * 8))
    full, rest = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[rest] if rest else "")


def funnel_markdown(figures: MonitorFigures) -> str:
    bars = funnel_bars(figures)
    top = max((b.value for b in bars), default=0)
    lines = ["| stap | zaken | |", "|---|---:|---|"]
    lines += [f"| {b.label} | {b.value} | `{unicode_bar(b.value, top) or '·'}` |" for b in bars]
    return "\n".join(lines)


def lead_times_markdown(figures: MonitorFigures) -> str:
    """Median as a solid bar, the stretch to the 90th percentile shaded."""
    top = max((lead.p90_days or 0 for lead in figures.lead_times), default=0)
    lines = ["| doorlooptijd | zaken | mediaan | 90% | |", "|---|---:|---:|---:|---|"]
    for lead in figures.lead_times:
        median, p90 = lead.median_days or 0, lead.p90_days or 0
        solid = unicode_bar(median, top)
        shaded = "░" * max(0, round(p90 / top * 24) - len(solid)) if top else ""
        bar = f"`{solid}{shaded}`" if solid or shaded else "·"
        lines.append(
            f"| {LEAD_TIME_LABELS[lead.code]} | {lead.cases} | {_days(lead.median_days)} | {_days(lead.p90_days)} "
            f"| {bar} |"
        )
    return "\n".join(lines)


def _days(days: int | None) -> str:
    return "–" if days is None else f"{days} d"


def funnel_svg(figures: MonitorFigures, width: int = 720) -> str:
    """Centred bars, narrowing from registered to housed, each with its label and count."""
    bars = funnel_bars(figures)
    top = max((b.value for b in bars), default=0) or 1
    row, label_width = 34, LABEL_WIDTH
    room = width - label_width - 60
    parts = []
    for i, bar in enumerate(bars):
        y = 10 + i * row
        length = max(2.0, bar.value / top * room) if bar.value else 0.0
        x = label_width + (room - length) / 2
        parts.append(
            f'<text x="{label_width - 10}" y="{y + 18}" text-anchor="end">{escape(bar.label)}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="{row - 8}" fill="{DARK}" rx="3"/>'
            f'<text x="{label_width + room + 10}" y="{y + 18}">{bar.value}</text>'
        )
    height = 20 + len(bars) * row
    return _svg(width, height, "Trechter: zaken per stap in de periode", parts)


def lead_times_svg(figures: MonitorFigures, width: int = 720) -> str:
    """One row per lead time: a light bar to the 90th percentile, a dark one to the median, both in days."""
    leads = figures.lead_times
    top = max((lead.p90_days or 0 for lead in leads), default=0) or 1
    row, label_width = 30, LABEL_WIDTH
    room = width - label_width - 110
    parts = []
    for i, lead in enumerate(leads):
        y = 10 + i * row
        label = escape(LEAD_TIME_LABELS[lead.code])
        parts.append(f'<text x="{label_width - 10}" y="{y + 16}" text-anchor="end">{label}</text>')
        if lead.p90_days is not None and lead.median_days is not None:
            p90, median = lead.p90_days / top * room, lead.median_days / top * room
            parts.append(
                f'<rect x="{label_width}" y="{y}" width="{max(p90, 1):.1f}" height="{row - 8}" fill="{LIGHT}"/>'
                f'<rect x="{label_width}" y="{y}" width="{max(median, 1):.1f}" height="{row - 8}" fill="{DARK}"/>'
                f'<text x="{label_width + room + 10}" y="{y + 16}">{lead.median_days} / {lead.p90_days} d</text>'
            )
        else:
            parts.append(f'<text x="{label_width + 4}" y="{y + 16}">geen zaken</text>')
    height = 20 + len(leads) * row
    return _svg(width, height, "Doorlooptijden in dagen: mediaan (donker) en 90e percentiel (licht)", parts)


def _svg(width: int, height: int, title: str, parts: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13" fill="{INK}">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )
