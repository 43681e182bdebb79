"""The Transferpunt monitor's figures per region and period, computed from the case database.

Pseudonymous by construction: only counts, days and organisation codes leave the database, never a person.
A handful of narrow queries: the cases (their stage now, and the milestone days kept beside each case as calendar-day
numbers, one row per case), the few events counted in the period (cards, declined signings, lapsed priorities), the
reasons of refused offers and declined nominations, contingents and nominations holding a place; the rest is plain
Python over columns.

Definitions (the report repeats them in Dutch):
- A period is a range of calendar days in Dutch time, both ends included. Nothing after its last day counts (nor
  after `today`), so a period's figures stay the same when computed again later.
- Flow figures count cases in the period in which their event happened for the first time: a case nominated twice
  counts once, and the weeks of a year add up to the year.
- Lead times are calendar days from one event to another, for the cases whose later event falls in the period; a
  stage's lead time runs from first entering it to first entering the next stage.
- Median and 90th percentile are nearest-rank: of n sorted values, the one at rank ⌈p·n/100⌉ (so the median of four
  values is the second).
- Stock is the number of active cases per stage at the end of the period's last day.
- Tenancy kept at N months: of the cases that got their keys at least N months before the period's last day, those
  not evicted or relapsed on or before the day N months after their keys.
- Contingent: places used (nominations proposed or accepted, as `weerthuis.casedb.quota` counts them) and left per
  corporation in the year of the period's last day, as the nominations stand now.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from itertools import compress
from typing import Any

from sqlalchemy import CompoundSelect, Connection, Engine, Integer, Select, case, func, literal, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from weerthuis.casedb.models import Case, CaseMilestones, Contingent, Nomination, Offer, Transition
from weerthuis.casedb.quota import HOLDING
from weerthuis.domain import milestones
from weerthuis.domain.calendar import AMSTERDAM, add_months
from weerthuis.domain.milestones import MILESTONES
from weerthuis.domain.moves import Event
from weerthuis.domain.stages import Stage
from weerthuis.domain.vocabulary import DeclineReason, RefusalReason

ACTIVE_ORDER = (
    Stage.REGISTERED,
    Stage.READINESS,
    Stage.NOMINATION,
    Stage.OFFER,
    Stage.TENANCY,
    Stage.SUPPORT,
    Stage.FOLLOW_UP,
)
END_ORDER = (Stage.CLOSED, Stage.WITHDRAWN, Stage.RELAPSED, Stage.EVICTED, Stage.MOVED)
ENTERED = [stage.value for stage in milestones.ENTERED]  # the stages a case enters after registration, in order
END_VALUES = frozenset(stage.value for stage in END_ORDER)
LOST_VALUES = frozenset({Stage.EVICTED.value, Stage.RELAPSED.value})
# Flow step → the milestone counted. Ready is entering nomination (ReadinessApproved), housed is entering support
# (LeaseSigned: the keys); nominated and offered are the first nomination and the first offer.
FLOW = {
    "registered": "registered",
    "ready": Stage.NOMINATION.value,
    "nominated": "nominated",
    "offered": "offered",
    "housed": Stage.SUPPORT.value,
}
# Lead time: (code, from milestone, to milestone).
LEAD_TIMES = (
    ("registration", "registered", Stage.READINESS.value),
    ("readiness", Stage.READINESS.value, Stage.NOMINATION.value),
    ("nomination", Stage.NOMINATION.value, Stage.OFFER.value),
    ("offer", Stage.OFFER.value, Stage.TENANCY.value),
    ("tenancy", Stage.TENANCY.value, Stage.SUPPORT.value),
    ("support", Stage.SUPPORT.value, Stage.FOLLOW_UP.value),
    ("ready_to_offer", Stage.NOMINATION.value, "offered"),
    ("ready_to_keys", Stage.NOMINATION.value, Stage.SUPPORT.value),
)
TENANCY_MONTHS = (6, 12, 24)


class Periode(StrEnum):
    """Over welke periode de monitor telt: de week, maand, kwartaal of het jaar vóór de peildatum."""

    WEEK = "week"
    MAAND = "maand"
    KWARTAAL = "kwartaal"
    JAAR = "jaar"


def period_before(kind: Periode | str, peildatum: date) -> tuple[date, date]:
    """The period of this kind holding the day before `peildatum`, up to and including that day.

    On a Monday the week is the past Monday to Sunday; on 1 April the quarter is January to March; on 15 March
    the year runs from 1 January to 14 March.
    """
    last = peildatum - timedelta(days=1)
    kind = Periode(kind)
    if kind is Periode.WEEK:
        return last - timedelta(days=last.weekday()), last
    if kind is Periode.MAAND:
        return last.replace(day=1), last
    if kind is Periode.KWARTAAL:
        return date(last.year, 3 * ((last.month - 1) // 3) + 1, 1), last
    return date(last.year, 1, 1), last


def nearest_rank(values: Sequence[int], percent: int) -> int | None:
    """The nearest-rank percentile: the value at rank ⌈percent·n/100⌉ of the n sorted values; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-percent * len(ordered) // 100))
    return ordered[rank - 1]


@dataclass(frozen=True)
class LeadTime:
    code: str
    cases: int
    median_days: int | None
    p90_days: int | None


@dataclass(frozen=True)
class ContingentUse:
    corporation: str
    size: int
    used: int

    @property
    def left(self) -> int:
        return self.size - self.used


@dataclass(frozen=True)
class TenancyKept:
    months: int
    cohort: int
    kept: int

    @property
    def share(self) -> float | None:
        return self.kept / self.cohort if self.cohort else None


@dataclass(frozen=True)
class MonitorFigures:
    """Every figure of one region and period; counts of cases unless the name says otherwise."""

    region: str
    period_start: date
    period_end: date
    flow: dict[str, int]  # FLOW step → cases
    outcomes: dict[str, int]  # end stage → cases that reached it
    stock: dict[str, int]  # active stage → cases in it at the period's end
    lead_times: list[LeadTime]
    refusals: dict[str, int]  # refusal reason → offers refused
    declines: dict[str, int]  # decline reason → nominations declined
    signings_declined: int
    priorities_lapsed: int
    contingent_year: int
    contingents: list[ContingentUse]
    tenancy: list[TenancyKept]
    warnings: int
    escalations: int
    evictions: int
    leases_transferred: int
    leases_transferred_to_date: int


@dataclass(frozen=True)
class FigureRow:
    """One figure in long form, as the CSV export and the table artifact list them."""

    figure: str
    dimension: str
    value: int | float | None


def figure_rows(figures: MonitorFigures) -> list[FigureRow]:
    """Every figure as (figure, dimension, value), in the order of the report."""
    rows = [FigureRow(step, "", n) for step, n in figures.flow.items()]
    rows += [FigureRow("closed", stage, n) for stage, n in figures.outcomes.items()]
    rows += [FigureRow("stock", stage, n) for stage, n in figures.stock.items()]
    for lead in figures.lead_times:
        rows += [
            FigureRow("lead_time_cases", lead.code, lead.cases),
            FigureRow("lead_time_median_days", lead.code, lead.median_days),
            FigureRow("lead_time_p90_days", lead.code, lead.p90_days),
        ]
    rows += [FigureRow("offers_refused", reason, n) for reason, n in figures.refusals.items()]
    rows += [FigureRow("nominations_declined", reason, n) for reason, n in figures.declines.items()]
    rows += [FigureRow("signings_declined", "", figures.signings_declined)]
    rows += [FigureRow("priorities_lapsed", "", figures.priorities_lapsed)]
    for use in figures.contingents:
        dimension = f"{figures.contingent_year}/{use.corporation}"
        rows += [
            FigureRow("contingent_size", dimension, use.size),
            FigureRow("contingent_used", dimension, use.used),
            FigureRow("contingent_left", dimension, use.left),
        ]
    for kept in figures.tenancy:
        share = None if kept.share is None else round(kept.share, 3)
        rows += [
            FigureRow("tenancy_cohort", str(kept.months), kept.cohort),
            FigureRow("tenancy_kept", str(kept.months), kept.kept),
            FigureRow("tenancy_kept_share", str(kept.months), share),
        ]
    rows += [
        FigureRow("warnings", "", figures.warnings),
        FigureRow("escalations", "", figures.escalations),
        FigureRow("evictions", "", figures.evictions),
        FigureRow("leases_transferred", "", figures.leases_transferred),
        FigureRow("leases_transferred_to_date", "", figures.leases_transferred_to_date),
    ]
    return rows


# Calendar days numbered as date.toordinal() numbers them, computed by the database so that nothing is parsed in
# Python: `local_day` of a moment (its day in Dutch time), `day_number` of a DATE column.
class local_day(FunctionElement[int]):  # noqa: N801 - reads as the SQL function it is
    type = Integer()
    inherit_cache = True


class day_number(FunctionElement[int]):  # noqa: N801 - reads as the SQL function it is
    type = Integer()
    inherit_cache = True


@compiles(local_day, "sqlite")
@compiles(day_number, "sqlite")
def _day_sqlite(element: local_day | day_number, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps dates, and moments as Dutch wall-clock time, as text; julianday() counts days from noon,
    # 24 November 4714 BC.
    return f"CAST(julianday({compiler.process(element.clauses, **kw)}) - 1721424.5 AS INTEGER)"


@compiles(local_day, "postgresql")
@compiles(day_number, "postgresql")
def _day_postgresql(element: local_day | day_number, compiler: SQLCompiler, **kw: Any) -> str:
    day = compiler.process(element.clauses, **kw)
    if isinstance(element, local_day):
        day = f"CAST(({day}) AT TIME ZONE 'Europe/Amsterdam' AS DATE)"
    return f"(({day}) - DATE '0001-01-01' + 1)"


# A case's milestones (weerthuis.domain.milestones, kept beside the case): the first day it entered each stage after
# registration, its first nomination and first offer, and its omklap. Stages are entered in procedure order (a move
# goes forward, to an end stage, or back into the same stage; a test holds the table of moves to that), so the last
# stage a case entered is the stage it is in.

# Events counted in the period; the reasons of refused offers and declined nominations come from their tables.
COUNTED = {
    "warnings": Event.WARNING_RAISED.value,  # yellow cards
    "escalations": Event.ESCALATION_OPENED.value,  # red cards: risk of eviction
    "signings_declined": Event.SIGNING_DECLINED.value,
    "priorities_lapsed": Event.PRIORITY_LAPSED.value,
}


def _cases_query(regions: Sequence[str], end: datetime, last: date) -> Select:
    """Every case registered before `end`: its region, its stage now and the day it entered it, its registration day,
    and the day of each milestone it reached by the `last` day (None for the others)."""
    reached = CaseMilestones.__table__.c
    return (
        select(
            Case.region,
            Case.stage,
            local_day(Case.stage_since),
            local_day(Case.registered_at),
            *(case((reached[name] <= last, day_number(reached[name]))) for name in MILESTONES),
        )
        .outerjoin(CaseMilestones, CaseMilestones.case_id == Case.id)
        .where(Case.region.in_(regions), Case.registered_at < end)
    )


def _counted_query(regions: Sequence[str], start: datetime, end: datetime) -> Select:
    """How often each COUNTED event happened in the period, by region (read by the index on event and moment)."""
    return (
        select(Case.region, Transition.event, func.count())
        .join(Case, Case.id == Transition.case_id)
        .where(
            Transition.event.in_(list(COUNTED.values())),
            Transition.at >= start,
            Transition.at < end,
            Case.region.in_(regions),
        )
        .group_by(Case.region, Transition.event)
    )


def _reasons_query(regions: Sequence[str], start: datetime, end: datetime) -> CompoundSelect:
    """Offers refused and nominations declined in the period, by region and reason."""
    refused = select(literal("refused"), Offer.region, Offer.refusal_reason, func.count()).where(
        Offer.region.in_(regions), Offer.answer == "refused", Offer.answered_at >= start, Offer.answered_at < end
    )
    declined = select(literal("declined"), Nomination.region, Nomination.decline_reason, func.count()).where(
        Nomination.region.in_(regions),
        Nomination.status == "declined",
        Nomination.answered_at >= start,
        Nomination.answered_at < end,
    )
    return union_all(
        refused.group_by(Offer.region, Offer.refusal_reason),
        declined.group_by(Nomination.region, Nomination.decline_reason),
    )


@dataclass
class _Tally:
    """What the rows of one region add up to, before they become MonitorFigures."""

    flow: dict[str, int]
    outcomes: Counter[str]
    stock: Counter[str]
    lead_days: dict[str, list[int]]
    keys: list[int]  # the day each housed case got its keys, in order
    lost: list[tuple[int, int]]  # keys day and the day the tenancy was lost (evicted, relapsed)
    counted: dict[str, int]  # COUNTED name → events in the period
    transferred: int
    transferred_to_date: int


def _tally(cases: list[Any], counted: dict[str, int], first: int, last: int) -> _Tally:
    """Column by column: comprehensions over 100,000 cases are much cheaper than one loop doing everything per case."""
    day: dict[str, Sequence[Any]] = dict.fromkeys(("stage", "since", "registered", *MILESTONES), ())
    if cases:
        _, *columns = zip(*cases, strict=True)
        day.update(zip(("stage", "since", "registered", *MILESTONES), columns, strict=True))
    stages, since = day["stage"], day["since"]
    # Per milestone, the cases (by position) that reached it in the period: flows count them, lead times end there.
    reached = {
        name: [i for i, moment in enumerate(day[name]) if moment is not None and first <= moment <= last]
        for name in {*FLOW.values(), *(until for _, _, until in LEAD_TIMES), "transferred"}
    }
    lead_days = {
        code: [day[until][i] - day[begin][i] for i in reached[until] if day[begin][i] is not None]
        for code, begin, until in LEAD_TIMES
    }
    ended = [stage in END_VALUES and moment <= last for stage, moment in zip(stages, since, strict=True)]
    latest = [Stage.REGISTERED.value] * len(stages)
    for stage in ENTERED:  # in procedure order, so each case ends up with the last stage it entered
        for i in compress(range(len(latest)), day[stage]):
            latest[i] = stage
    return _Tally(
        flow={step: len(reached[milestone]) for step, milestone in FLOW.items()},
        outcomes=Counter(stage for stage, at, done in zip(stages, since, ended, strict=True) if done and at >= first),
        stock=Counter(stage for stage, done in zip(latest, ended, strict=True) if not done),
        lead_days=lead_days,
        keys=sorted(keys for keys in day[FLOW["housed"]] if keys is not None),
        lost=[
            (keys, at)
            for keys, stage, at in zip(day[FLOW["housed"]], stages, since, strict=True)
            if stage in LOST_VALUES and keys is not None
        ],
        counted={name: counted.get(event, 0) for name, event in COUNTED.items()},
        transferred=len(reached["transferred"]),
        transferred_to_date=sum(1 for moment in day["transferred"] if moment is not None),
    )


def _tenancy(keys: list[int], lost: list[tuple[int, int]], as_of: date) -> list[TenancyKept]:
    """Per TENANCY_MONTHS: the cases with keys long enough ago (`keys` is sorted), less those lost within the months."""
    kept = []
    for months in TENANCY_MONTHS:
        latest = _latest_keys_day(as_of, months).toordinal()
        cohort = bisect_right(keys, latest)
        within = sum(
            1
            for keys_on, lost_on in lost
            if keys_on <= latest and lost_on <= add_months(date.fromordinal(keys_on), months).toordinal()
        )
        kept.append(TenancyKept(months, cohort, cohort - within))
    return kept


def _latest_keys_day(as_of: date, months: int) -> date:
    """The last day on which keys could be handed over and still be `months` old on `as_of`."""
    day = add_months(as_of, -months)
    while add_months(day + timedelta(days=1), months) <= as_of:  # month ends: 29 February and the like
        day += timedelta(days=1)
    return day


def _by_reason(counted: Counter[str], known: list[str]) -> dict[str, int]:
    """Every known reason (zero when absent), then any other reason found, most frequent first."""
    others = sorted((r for r in counted if r not in known), key=lambda r: (-counted[r], r))
    return {reason: counted[reason] for reason in [*known, *others]}


@contextmanager
def _reading(source: Engine | Connection | Session) -> Iterator[Connection | Session]:
    if isinstance(source, Engine):
        with source.connect() as connection:
            yield connection
    else:
        yield source


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=AMSTERDAM)


def compute_regions(
    source: Engine | Connection | Session,
    regions: Sequence[str],
    period_start: date,
    period_end: date,
    today: date,
) -> dict[str, MonitorFigures]:
    """The monitor's figures for each region over the days `period_start`…`period_end` (not beyond `today`)."""
    as_of = min(period_end, today)
    start, end = _midnight(period_start), _midnight(as_of + timedelta(days=1))
    year = as_of.year
    with _reading(source) as db:
        cases: dict[str, list[Any]] = {region: [] for region in regions}
        # .all(): one fetch of every row is much cheaper than the row-by-row fetch of iterating the result.
        for row in db.execute(_cases_query(regions, end, as_of)).all():
            cases[row[0]].append(row)
        counted: dict[str, dict[str, int]] = {region: {} for region in regions}
        for region, event, n in db.execute(_counted_query(regions, start, end)):
            counted[region][event] = n
        reasons: dict[tuple[str, str], Counter[str]] = {}
        for kind, region, reason, n in db.execute(_reasons_query(regions, start, end)):
            reasons.setdefault((kind, region), Counter())[reason] += n
        sizes = db.execute(
            select(Contingent.region, Contingent.corporation, Contingent.size)
            .where(Contingent.region.in_(regions), Contingent.year == year)
            .order_by(Contingent.id)
        ).all()
        used = {
            (region, corporation): n
            for region, corporation, n in db.execute(
                select(Nomination.region, Nomination.corporation, func.count())
                .where(Nomination.region.in_(regions), Nomination.year == year, Nomination.status.in_(HOLDING))
                .group_by(Nomination.region, Nomination.corporation)
            )
        }
    figures = {}
    for region in regions:
        tally = _tally(cases[region], counted[region], period_start.toordinal(), as_of.toordinal())
        corporations = [(c, size) for r, c, size in sizes if r == region]
        corporations += [(c, 0) for r, c in used if r == region and c not in dict(corporations)]
        figures[region] = MonitorFigures(
            region=region,
            period_start=period_start,
            period_end=as_of,
            flow=tally.flow,
            outcomes={stage.value: tally.outcomes[stage.value] for stage in END_ORDER},
            stock={stage.value: tally.stock[stage.value] for stage in ACTIVE_ORDER},
            lead_times=[
                LeadTime(code, len(days), nearest_rank(days, 50), nearest_rank(days, 90))
                for code, days in tally.lead_days.items()
            ],
            refusals=_by_reason(reasons.get(("refused", region), Counter()), [r.value for r in RefusalReason]),
            declines=_by_reason(reasons.get(("declined", region), Counter()), [r.value for r in DeclineReason]),
            signings_declined=tally.counted["signings_declined"],
            priorities_lapsed=tally.counted["priorities_lapsed"],
            contingent_year=year,
            contingents=[ContingentUse(c, size, used.get((region, c), 0)) for c, size in corporations],
            tenancy=_tenancy(tally.keys, tally.lost, as_of),
            warnings=tally.counted["warnings"],
            escalations=tally.counted["escalations"],
            evictions=tally.outcomes[Stage.EVICTED.value],
            leases_transferred=tally.transferred,
            leases_transferred_to_date=tally.transferred_to_date,
        )
    return figures


def compute(
    source: Engine | Connection | Session, region: str, period_start: date, period_end: date, today: date
) -> MonitorFigures:
    """The monitor's figures for one region over the days `period_start`…`period_end` (not beyond `today`)."""
    return compute_regions(source, [region], period_start, period_end, today)[region]
