"""The Transferpunt monitor on a hand-made data set whose right answers are written here, on SQLite and PostgreSQL;
its report and export; and the weekly flow under Prefect with its artifacts."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import Engine, create_engine

from config.regions import Region
from config.settings import Settings
from tasks.pages import latest_artifact
from tests.integration.monitordata import MONDAY_AFTER, NAMES, WEEK, fill
from weerthuis import bootstrap
from weerthuis.casedb.engine import make_engine
from weerthuis.casedb.migrate import upgrade
from weerthuis.domain.vocabulary import DeclineReason, RefusalReason
from weerthuis.monitor.figures import ContingentUse, LeadTime, MonitorFigures, TenancyKept, compute, compute_regions
from weerthuis.monitor.report import markdown_page, table_rows, write_report


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, regions: dict[str, Region]) -> Iterator[Engine]:
    """The hand-made data set, on SQLite and on PostgreSQL; read through a plain engine, as the flow reads it."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    engine = make_engine(url)
    try:
        upgrade(engine)
        fill(engine, regions)
    finally:
        engine.dispose()
    reader = create_engine(url)
    yield reader
    reader.dispose()


@pytest.fixture
def week(database: Engine) -> MonitorFigures:
    return compute(database, "emmen", *WEEK, today=MONDAY_AFTER)


def test_flow_counts_each_case_once_in_the_week_its_event_first_happened(week: MonitorFigures) -> None:
    # Registered: the Monday 00:30 case and the Thursday one (not the case of the Monday after, nor Fryslân's).
    # Nominated and offered count the first nomination and offer only (the earlier ones of other cases do not).
    assert week.flow == {"registered": 2, "ready": 1, "nominated": 1, "offered": 1, "housed": 1}


def test_cases_closed_in_the_week_by_outcome(week: MonitorFigures) -> None:
    # Closed housed; withdrawn twice (one by lapsed priority); one evicted. The moving away after the week and the
    # relapse and eviction of 2025 are not in it.
    assert week.outcomes == {"closed": 1, "withdrawn": 2, "relapsed": 0, "evicted": 1, "moved": 0}


def test_stock_per_stage_at_the_end_of_the_week(week: MonitorFigures) -> None:
    # The nomination accepted on the Monday after still counts as nomination; the case moving away after the week
    # is still in follow-up.
    assert week.stock == {
        "registered": 1,
        "readiness": 1,
        "nomination": 1,
        "offer": 0,
        "tenancy": 0,
        "support": 1,
        "follow_up": 1,
    }


def test_lead_times_in_days_with_nearest_rank_median_and_90th_percentile(week: MonitorFigures) -> None:
    assert week.lead_times == [
        LeadTime("registration", cases=3, median_days=4, p90_days=10),  # 0, 4 and 10 days
        LeadTime("readiness", cases=1, median_days=4, p90_days=4),
        LeadTime("nomination", cases=0, median_days=None, p90_days=None),
        LeadTime("offer", cases=0, median_days=None, p90_days=None),  # signing declined: re-entry, not a first
        LeadTime("tenancy", cases=1, median_days=10, p90_days=10),
        LeadTime("support", cases=0, median_days=None, p90_days=None),
        LeadTime("ready_to_offer", cases=1, median_days=119, p90_days=119),
        LeadTime("ready_to_keys", cases=1, median_days=45, p90_days=45),
    ]


def test_refusals_by_reason_declines_signings_and_lapsed_priority_in_the_week(week: MonitorFigures) -> None:
    expected = dict.fromkeys((r.value for r in RefusalReason), 0)
    expected |= {RefusalReason.SIZE_OR_LAYOUT.value: 1, RefusalReason.RENT_TOO_HIGH.value: 1}
    assert week.refusals == expected  # the refusal for its location was in February
    assert set(week.declines.values()) == {0}  # the decline was in January
    assert (week.signings_declined, week.priorities_lapsed) == (1, 1)


def test_refusals_and_declines_count_in_the_month_they_were_given(database: Engine) -> None:
    january = compute(database, "emmen", date(2026, 1, 1), date(2026, 1, 31), today=MONDAY_AFTER)
    february = compute(database, "emmen", date(2026, 2, 1), date(2026, 2, 28), today=MONDAY_AFTER)
    assert {r: n for r, n in january.declines.items() if n} == {DeclineReason.NO_SUITABLE_DWELLING.value: 1}
    assert {r: n for r, n in february.refusals.items() if n} == {RefusalReason.LOCATION.value: 1}
    assert sum(january.refusals.values()) == sum(february.declines.values()) == 0


def test_contingent_used_and_left_per_corporation_this_year(week: MonitorFigures) -> None:
    # Holding a place in 2026: a proposed nomination (Domesta) and an accepted one (Lefier); the declined one gave
    # its place back, and the 2025 nominations count for 2025.
    assert week.contingent_year == 2026
    assert week.contingents == [
        ContingentUse("domesta", size=25, used=1),
        ContingentUse("lefier", size=20, used=1),
        ContingentUse("woonservice", size=15, used=0),
    ]
    assert [use.left for use in week.contingents] == [24, 19, 15]


def test_tenancy_kept_at_6_12_and_24_months(week: MonitorFigures) -> None:
    # Keys: Feb 2024, Jun 2024 (evicted Mar 2025), Jan 2025 (evicted in the week), Apr 2025 (relapsed Aug 2025),
    # Sep 2025, and in the week.
    assert week.tenancy == [
        TenancyKept(6, cohort=5, kept=4),  # the relapse after four months
        TenancyKept(12, cohort=3, kept=2),  # the eviction after nine months; the one after 14 months kept 12
        TenancyKept(24, cohort=1, kept=1),
    ]


def test_warnings_escalations_evictions_and_omklap(week: MonitorFigures) -> None:
    assert (week.warnings, week.escalations, week.evictions) == (1, 1, 1)
    assert (week.leases_transferred, week.leases_transferred_to_date) == (1, 2)


def test_other_regions_have_their_own_figures(database: Engine) -> None:
    both = compute_regions(database, ["emmen", "fryslan"], *WEEK, today=MONDAY_AFTER)
    assert both["emmen"] == compute(database, "emmen", *WEEK, today=MONDAY_AFTER)
    fryslan = both["fryslan"]
    assert fryslan.flow == {"registered": 1, "ready": 0, "nominated": 0, "offered": 0, "housed": 0}
    assert fryslan.stock["registered"] == 1 and sum(fryslan.stock.values()) == 1
    assert [(use.corporation, use.used, use.left) for use in fryslan.contingents][:2] == [
        ("woonfriesland", 0, 90),
        ("elkien", 0, 80),
    ]


def test_a_week_reads_the_same_when_computed_later(database: Engine, week: MonitorFigures) -> None:
    assert compute(database, "emmen", *WEEK, today=date(2026, 6, 1)) == week


def test_report_and_export_are_written_and_name_no_case_or_person(
    week: MonitorFigures, regions: dict[str, Region], tmp_path: Path
) -> None:
    html, export = write_report(week, regions["emmen"], tmp_path / "reports")
    assert (html.name, export.name) == (
        "monitor-emmen-2026-03-02-2026-03-08.html",
        "monitor-emmen-2026-03-02-2026-03-08.csv",
    )
    page = html.read_text(encoding="utf-8")
    assert "Transferpuntmonitor Zuidoost-Drenthe (Emmen)" in page and "2 t/m 8 maart 2026" in page
    assert page.count("<svg") == 2
    with export.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["region", "period", "figure", "dimension", "value"]
    assert ["emmen", "2026-03-02/2026-03-08", "registered", "", "2"] in rows
    assert ["emmen", "2026-03-02/2026-03-08", "stock", "follow_up", "1"] in rows
    assert ["emmen", "2026-03-02/2026-03-08", "contingent_left", "2026/domesta", "24"] in rows
    assert ["emmen", "2026-03-02/2026-03-08", "lead_time_median_days", "nomination", ""] in rows
    shown = [page, export.read_text(encoding="utf-8"), markdown_page(week, regions["emmen"])]
    shown.append(json.dumps(table_rows(week, regions["emmen"]), ensure_ascii=False))
    for text in shown:
        assert "WT-" not in text
        assert not [name for name in NAMES if name in text or name.split()[1] in text]


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def application(
    prefect_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, regions: dict[str, Region]
) -> Iterator[bootstrap.App]:
    """The app as the flow sees it (`bootstrap.app()`), on a case database holding the hand-made data set."""
    monkeypatch.setenv("WEERTHUIS_DATA_DIR", str(tmp_path / "data"))
    settings = Settings()
    bootstrap.build(settings, migrate=True).casework._sessions.kw["bind"].dispose()
    engine = make_engine(settings.database_url)
    try:
        fill(engine, regions)
    finally:
        engine.dispose()
    bootstrap.app.cache_clear()
    yield bootstrap.app()
    bootstrap.app().casework._sessions.kw["bind"].dispose()
    bootstrap.app.cache_clear()


def test_the_weekly_flow_publishes_charts_and_figures_and_writes_the_report(application: bootstrap.App) -> None:
    from flows.monitor import monitor

    summary = monitor(peildatum=MONDAY_AFTER)

    assert summary == {
        "emmen": {"registered": 2, "ready": 1, "nominated": 1, "offered": 1, "housed": 1},
        "fryslan": {"registered": 1, "ready": 0, "nominated": 0, "offered": 0, "housed": 0},
    }
    page = latest_artifact("monitor-emmen")
    assert page is not None and page.type == "markdown"
    assert "Transferpuntmonitor Zuidoost-Drenthe (Emmen)" in page.data and "█" in page.data
    table = latest_artifact("monitor-emmen-cijfers")
    assert table is not None and table.type == "table"
    figures = json.loads(table.data)
    assert {"cijfer": "aangemeld", "onderverdeling": "", "waarde": "2"} in figures
    assert latest_artifact("monitor-fryslan") is not None
    reports = application.settings.data_dir / "reports"
    assert sorted(path.name for path in reports.iterdir()) == [
        "monitor-emmen-2026-03-02-2026-03-08.csv",
        "monitor-emmen-2026-03-02-2026-03-08.html",
        "monitor-fryslan-2026-03-02-2026-03-08.csv",
        "monitor-fryslan-2026-03-02-2026-03-08.html",
    ]
    for artifact in (page, table):
        assert "WT-" not in artifact.data and not [n for n in NAMES if n in artifact.data]
