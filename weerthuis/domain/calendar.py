"""Dutch days: the time zone the procedure counts in, and adding calendar months."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier); the month's last day where it has no such day (31 → 30 April)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")
