"""Publish the Transferpunt monitor: its pages in the Prefect UI, and its report and export in the reports folder."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from config.regions import Region
from weerthuis.monitor.figures import MonitorFigures
from weerthuis.monitor.report import artifact_key, markdown_page, period_label, table_rows, write_report


@task(task_run_name="publish_monitor {figures.region}", retries=3, retry_delay_seconds=[1, 5, 15])
def publish_monitor(figures: MonitorFigures, region: Region) -> None:
    """The charts and headline figures as a Markdown artifact, every figure as a table artifact."""
    key = artifact_key(figures.region)
    period = period_label(figures)
    create_markdown_artifact(
        markdown=markdown_page(figures, region), key=key, description=f"Transferpuntmonitor {region.name}, {period}"
    )
    create_table_artifact(
        table=table_rows(figures, region),
        key=f"{key}-cijfers",
        description=f"Transferpuntmonitor {region.name}, {period}: alle cijfers",
    )


@task(task_run_name="write_monitor_report {figures.region}")
def write_monitor_report(figures: MonitorFigures, region: Region, folder: Path) -> list[str]:
    """The HTML report and the CSV export in the reports folder; returns their paths."""
    return [str(path) for path in write_report(figures, region, folder)]
