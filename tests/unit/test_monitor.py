"""The monitor's pure parts: periods, the percentile definition, the procedure order it relies on, and its charts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest

from weerthuis.domain.moves import MOVES
from weerthuis.domain.stages import END_STAGES
from weerthuis.monitor.charts import funnel_markdown, funnel_svg, lead_times_markdown, lead_times_svg, unicode_bar
from weerthuis.monitor.figures import (
    ACTIVE_ORDER,
    LeadTime,
    MonitorFigures,
    Periode,
    figure_rows,
    nearest_rank,
    period_before,
)
from weerthuis.monitor.report import period_label


@pytest.mark.parametrize(
    ("kind", "peildatum", "period"),
    [
        (Periode.WEEK, date(2026, 3, 9), (date(2026, 3, 2), date(2026, 3, 8))),  # a Monday: the week before
        (Periode.WEEK, date(2026, 3, 11), (date(2026, 3, 9), date(2026, 3, 10))),  # a Wednesday: this week so far
        (Periode.MAAND, date(2026, 4, 1), (date(2026, 3, 1), date(2026, 3, 31))),
        (Periode.MAAND, date(2026, 3, 15), (date(2026, 3, 1), date(2026, 3, 14))),
        (Periode.KWARTAAL, date(2026, 4, 1), (date(2026, 1, 1), date(2026, 3, 31))),
        (Periode.KWARTAAL, date(2026, 11, 23), (date(2026, 10, 1), date(2026, 11, 22))),
        (Periode.JAAR, date(2026, 1, 1), (date(2025, 1, 1), date(2025, 12, 31))),
        (Periode.JAAR, date(2026, 3, 15), (date(2026, 1, 1), date(2026, 3, 14))),
    ],
)
def test_the_period_holds_the_day_before_the_reference_date(
    kind: Periode, peildatum: date, period: tuple[date, date]
) -> None:
    assert period_before(kind, peildatum) == period
    assert period_before(kind.value, peildatum) == period  # as the command line passes it


@pytest.mark.parametrize(
    ("values", "median", "p90"),
    [
        ([], None, None),
        ([7], 7, 7),
        ([3, 1, 4, 2], 2, 4),  # nearest rank: the median of four values is the second
        (list(range(1, 11)), 5, 9),
        (list(range(1, 21)), 10, 18),
        ([10, 0, 4], 4, 10),
    ],
)
def test_median_and_90th_percentile_are_nearest_rank(values: list[int], median: int | None, p90: int | None) -> None:
    assert (nearest_rank(values, 50), nearest_rank(values, 90)) == (median, p90)


def test_every_move_keeps_the_procedure_order_the_monitor_relies_on() -> None:
    """Stock and lead times take the last stage a case entered as its stage: no move may go back to an earlier one."""
    order = {stage: i for i, stage in enumerate(ACTIVE_ORDER)}
    for move, rule in MOVES.items():
        if rule.target is None or rule.target in END_STAGES:
            continue
        for source in rule.sources:
            assert order[rule.target] >= order[source], f"{move.value}: {source.value} → {rule.target.value}"


def figures(**changes: object) -> MonitorFigures:
    base = MonitorFigures(
        region="emmen",
        period_start=date(2026, 3, 2),
        period_end=date(2026, 3, 8),
        flow={"registered": 40, "ready": 20, "nominated": 10, "offered": 5, "housed": 0},
        outcomes={"closed": 1, "withdrawn": 0, "relapsed": 0, "evicted": 0, "moved": 0},
        stock={s.value: 0 for s in ACTIVE_ORDER},
        lead_times=[LeadTime("registration", 2, 3, 9), LeadTime("readiness", 0, None, None)],
        refusals={},
        declines={},
        signings_declined=0,
        priorities_lapsed=0,
        contingent_year=2026,
        contingents=[],
        tenancy=[],
        warnings=0,
        escalations=0,
        evictions=0,
        leases_transferred=0,
        leases_transferred_to_date=0,
    )
    return MonitorFigures(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_unicode_bars_scale_to_the_largest_value_in_eighths() -> None:
    assert unicode_bar(40, 40, width=4) == "████"
    assert unicode_bar(20, 40, width=4) == "██"
    assert unicode_bar(5, 40, width=4) == "▌"
    assert unicode_bar(0, 40) == "" and unicode_bar(3, 0) == ""


def test_markdown_charts_show_a_bar_per_step_and_the_lead_times_in_days() -> None:
    funnel = funnel_markdown(figures()).splitlines()
    assert funnel[2] == "| aangemeld | 40 | `████████████████████████` |"
    assert funnel[-1] == "| sleutel (huurovereenkomst getekend) | 0 | `·` |"
    lead = lead_times_markdown(figures()).splitlines()
    assert lead[2].startswith("| aanmelding → start woonvaardigheid | 2 | 3 d | 9 d | `████████░░")
    assert lead[3] == "| woonvaardigheid | 0 | – | – | · |"


def test_svg_charts_are_well_formed_and_escape_their_labels() -> None:
    for svg in (funnel_svg(figures()), lead_times_svg(figures())):
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
    assert "aanmelding → start woonvaardigheid" in lead_times_svg(figures())
    assert "<rect" in funnel_svg(figures(flow=dict.fromkeys(figures().flow, 0)))  # all zero: still a chart


def test_every_figure_is_one_row_and_the_period_reads_in_dutch() -> None:
    rows = figure_rows(figures())
    assert rows[0].figure == "registered" and rows[0].value == 40
    assert len({(row.figure, row.dimension) for row in rows}) == len(rows)
    assert period_label(figures()) == "2 t/m 8 maart 2026"
    assert period_label(figures(period_start=date(2025, 12, 29))) == "29 december 2025 t/m 8 maart 2026"
