"""A case's milestone days: which events reach them, and the first Dutch day of each."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from weerthuis.casedb.models import CaseMilestones
from weerthuis.domain.milestones import AMSTERDAM, MILESTONES, entering, first_days, reached_by
from weerthuis.domain.moves import Event
from weerthuis.domain.stages import Stage


def test_stages_are_entered_by_the_events_of_the_table_of_moves() -> None:
    assert entering(Stage.READINESS) == {Event.ASSESSMENT_STARTED}
    assert entering(Stage.NOMINATION) == {Event.READINESS_APPROVED}  # ready
    assert entering(Stage.SUPPORT) == {Event.LEASE_SIGNED}  # the keys
    assert entering(Stage.FOLLOW_UP) == {Event.SUPPORT_ARRANGED}


def test_each_milestone_is_a_column_beside_the_case() -> None:
    columns = [c.name for c in CaseMilestones.__table__.columns if c.name != "case_id"]
    assert columns == list(MILESTONES)


def test_events_within_a_stage_reach_no_milestone_and_entering_one_reaches_it() -> None:
    assert reached_by(Event.READINESS_APPROVED) == ("nomination",)
    assert reached_by("OfferMade") == ("offered",)  # as the history stores it
    assert reached_by(Event.WARNING_RAISED) == ()
    assert reached_by(Event.CASE_REGISTERED) == ()


def test_the_first_day_counts_in_dutch_time_whatever_the_order_of_the_history() -> None:
    history = [
        (Event.NOMINATION_PROPOSED, datetime(2026, 3, 10, 9, tzinfo=AMSTERDAM)),
        # 23:30 UTC on 1 March is half past midnight on 2 March in the Netherlands.
        (Event.NOMINATION_PROPOSED, datetime(2026, 3, 1, 23, 30, tzinfo=UTC)),
        ("ReadinessApproved", datetime(2026, 2, 27, 16)),  # no time zone: Dutch wall-clock time, as SQLite keeps it
        (Event.WARNING_RAISED, datetime(2026, 1, 1, 9, tzinfo=AMSTERDAM)),
    ]
    assert first_days(history) == {"nominated": date(2026, 3, 2), "nomination": date(2026, 2, 27)}
    assert first_days(reversed(history)) == first_days(history)
    assert first_days([]) == {}


def test_a_summer_evening_in_utc_is_the_next_day_in_the_netherlands() -> None:
    evening = datetime(2026, 7, 1, 22, 15, tzinfo=UTC)  # 00:15 on 2 July, summer time (UTC+2)
    assert first_days([(Event.LEASE_SIGNED, evening)]) == {"support": date(2026, 7, 2)}
    assert first_days([(Event.LEASE_SIGNED, evening - timedelta(minutes=30))]) == {"support": date(2026, 7, 1)}
