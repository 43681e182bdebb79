"""Every week: the Transferpunt monitor per region, as pages in the Prefect UI and as a report and an export.

Runs on a weekly schedule (prefect.yaml, Monday morning, Europe/Amsterdam) and on demand with another reference
date, period or region. It reads the case database and writes only aggregated, pseudonymous figures: no case,
reference or person appears in its artifacts, files or logs.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger
from sqlalchemy import create_engine

from config.regions import RegionCode
from tasks.monitor import publish_monitor, write_monitor_report
from weerthuis.bootstrap import app
from weerthuis.monitor.charts import FUNNEL_LABELS
from weerthuis.monitor.figures import Periode, compute_regions, period_before


@flow(name="monitor", flow_run_name="monitor {periode} {peildatum}", persist_result=False)
def monitor(
    peildatum: date | None = None, periode: Periode = Periode.WEEK, regio: RegionCode | None = None
) -> dict[str, dict[str, int]]:
    """Transferpuntmonitor: instroom, doorstroom en uitstroom, doorlooptijden, contingenten en nazorg per regio.

    Args:
        peildatum: De dag ná de periode: de cijfers lopen tot en met de dag ervoor. Leeg is vandaag; op maandag
            is de week dus de afgelopen maandag tot en met zondag.
        periode: Over welke periode de cijfers gaan: de week, maand, kwartaal of het jaar vóór de peildatum (tot
            en met de dag ervoor).
        regio: Alleen deze regio; leeg is alle regio's.
    """
    application = app()
    today = application.casework.today()
    start, end = period_before(periode, peildatum or today)
    codes = [RegionCode(regio).value] if regio else list(application.regions)
    # A plain engine: on SQLite the casework engine takes the write lock at BEGIN, which a read must not hold.
    engine = create_engine(application.settings.database_url)
    try:
        figures = compute_regions(engine, codes, start, end, today)
    finally:
        engine.dispose()
    folder = application.settings.data_dir / "reports"
    logger = get_run_logger()
    summary = {}
    for code in codes:
        region, regional = application.regions[code], figures[code]
        publish_monitor(regional, region)
        write_monitor_report(regional, region, folder)
        summary[code] = dict(regional.flow)
        logger.info(
            "Monitor %s, %s t/m %s: %s.",
            code,
            start.isoformat(),
            regional.period_end.isoformat(),
            ", ".join(f"{FUNNEL_LABELS[step]} {n}" for step, n in regional.flow.items()),
        )
    return summary
