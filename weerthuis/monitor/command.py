"""Command lines: `python -m weerthuis.monitor` writes the monitor's report and export without Prefect, and
`add_commands` gives the main command line `weerthuis monitor` and `weerthuis synthetic` (both import lazily)."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any


def monitor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--peildatum", type=date.fromisoformat, help="de dag na de periode (jjjj-mm-dd); standaard vandaag"
    )
    parser.add_argument("--periode", choices=["week", "maand", "kwartaal", "jaar"], default="week")
    parser.add_argument("--regio", action="append", help="alleen deze regio('s); standaard alle")
    parser.add_argument("--uit", type=Path, help="map voor rapport en export; standaard <WEERTHUIS_DATA_DIR>/reports")


def run(args: argparse.Namespace) -> int:
    """Compute the monitor for the regions asked, write the HTML report and CSV export, and print counts only."""
    from sqlalchemy import create_engine

    from config.regions import load_regions
    from config.settings import Settings
    from weerthuis.casedb.engine import make_engine
    from weerthuis.casedb.migrate import upgrade
    from weerthuis.domain.calendar import AMSTERDAM
    from weerthuis.monitor.charts import FUNNEL_LABELS
    from weerthuis.monitor.figures import compute_regions, period_before
    from weerthuis.monitor.report import period_label, write_report

    settings = Settings()
    regions = load_regions(settings.regions_dir)
    codes = args.regio or list(regions)
    unknown = sorted(set(codes) - set(regions))
    if unknown:
        print(f"Fout: onbekende regio {', '.join(unknown)}; bekend: {', '.join(sorted(regions))}.", file=sys.stderr)
        return 2
    today = datetime.now(AMSTERDAM).date()
    start, end = period_before(args.periode, args.peildatum or today)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrating = make_engine(settings.database_url)  # as every command: the newest schema first
    try:
        upgrade(migrating)
    finally:
        migrating.dispose()
    engine = create_engine(settings.database_url)  # reading needs no write lock (which make_engine's SQLite takes)
    try:
        figures = compute_regions(engine, codes, start, end, today)
    finally:
        engine.dispose()
    folder = args.uit or settings.data_dir / "reports"
    for code in codes:
        html, export = write_report(figures[code], regions[code], folder)
        flow = ", ".join(f"{FUNNEL_LABELS[step]} {n}" for step, n in figures[code].flow.items())
        print(f"{regions[code].name}, {period_label(figures[code])}: {flow}")
        print(f"  {html}\n  {export}")
    return 0


def synthetic_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cases", type=int, default=1000, help="hoeveel synthetische zaken (standaard 1000)")
    parser.add_argument("--seed", type=int, default=7, help="startwaarde van het toeval: zelfde seed, zelfde zaken")
    parser.add_argument("--years", type=int, default=3, help="over hoeveel jaar vóór vandaag de aanmeldingen lopen")
    parser.add_argument("--regio", action="append", help="alleen deze regio('s); standaard alle")


def run_synthetic(args: argparse.Namespace) -> int:
    from weerthuis.synthetic import run as fill

    return fill(args)


def add_commands(sub: Any) -> None:
    """Register `weerthuis monitor` and `weerthuis synthetic` on the main command line's subparsers."""
    monitor = sub.add_parser("monitor", help="write the Transferpunt monitor's report and export (no Prefect needed)")
    monitor_arguments(monitor)
    monitor.set_defaults(func=run)
    synthetic = sub.add_parser("synthetic", help="fill the case database with synthetic cases (demo, benchmarks)")
    synthetic_arguments(synthetic)
    synthetic.set_defaults(func=run_synthetic)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m weerthuis.monitor", description="De Transferpuntmonitor.")
    monitor_arguments(parser)
    return run(parser.parse_args(argv))
