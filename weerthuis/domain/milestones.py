"""A case's milestones: the first day it reached each point of the procedure the Transferpunt counts.

The days are Dutch calendar days. The case database keeps them with the case (table `case_milestones`), written in
the same transaction as the event that reaches them, so the monitor reads one row per case instead of the whole
history. `first_days` computes them from a history, for data written without the commands (synthetic cases, the
migration that added the table).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from weerthuis.domain.calendar import AMSTERDAM
from weerthuis.domain.moves import MOVES, Event
from weerthuis.domain.procedure import PROCEDURE, STAGES
from weerthuis.domain.stages import Stage

# The stages a case enters after registration, in procedure order.
ENTERED = STAGES


def entering(stage: Stage) -> frozenset[Event]:
    """The events by which a case enters `stage` from another stage, read from the table of moves."""
    return frozenset(rule.event for rule in MOVES.values() if rule.target is stage and stage not in rule.sources)


# Milestone → the events that reach it. Entering a stage is named after the stage: `nomination` is the day the case
# was found ready (entered the nomination stage), `support` the day it got its keys (entered support). The others
# are the procedure's: the first nomination to a corporation, the first offer of a home, the omklap (the lease
# flipped to the client's own name).
MILESTONES: dict[str, frozenset[Event]] = {
    **{stage.value: entering(stage) for stage in ENTERED},
    **{rule.milestone[0]: frozenset({MOVES[rule.milestone[1]].event}) for rule in PROCEDURE.values() if rule.milestone},
}
_BY_EVENT: dict[str, tuple[str, ...]] = {}
for _name, _events in MILESTONES.items():
    for _event in _events:
        _BY_EVENT[_event.value] = (*_BY_EVENT.get(_event.value, ()), _name)


def reached_by(event: Event | str) -> tuple[str, ...]:
    """The milestones this event reaches (when the case had not reached them before)."""
    return _BY_EVENT.get(str(event), ())


def dutch_day(moment: datetime) -> date:
    """The Dutch calendar day of a moment; a moment without time zone is taken as Dutch wall-clock time (SQLite)."""
    return (moment if moment.tzinfo is None else moment.astimezone(AMSTERDAM)).date()


def first_days(history: Iterable[tuple[Event | str, datetime]]) -> dict[str, date]:
    """Milestone → the first day one of its events happened, for the milestones reached in this history."""
    days: dict[str, date] = {}
    for event, at in history:
        for name in reached_by(event):
            day = dutch_day(at)
            if name not in days or day < days[name]:
                days[name] = day
    return days
