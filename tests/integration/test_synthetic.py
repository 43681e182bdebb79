"""The synthetic case generator: consistent histories, contingents and caps respected, obviously fake people; and the
monitor agrees with a plain recount over what it wrote."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from config.regions import Region
from tests.conftest import assert_milestones_follow_the_history
from weerthuis import synthetic
from weerthuis.casedb.engine import make_engine
from weerthuis.casedb.migrate import upgrade
from weerthuis.casedb.models import Case, Client, Contingent, NeighbourhoodQuota, Nomination, Offer, Transition
from weerthuis.domain.calendar import AMSTERDAM
from weerthuis.domain.moves import MOVES, Move
from weerthuis.domain.procedure import PROCEDURE, Step
from weerthuis.domain.stages import END_STAGES, Stage
from weerthuis.monitor.figures import compute_regions, nearest_rank
from weerthuis.service.views import local

TODAY = date(2026, 3, 9)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    engine = make_engine(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url"))
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def generated(engine: Engine, regions: dict[str, Region]) -> synthetic.Generated:
    return synthetic.generate(engine, 400, seed=11, regions=regions, today=TODAY)


def test_histories_follow_the_procedure_as_the_commands_record_it(
    engine: Engine, generated: synthetic.Generated
) -> None:
    with Session(engine) as session:
        cases = session.execute(select(Case)).scalars().all()
        histories: dict[int, list[Transition]] = {}
        for row in session.execute(select(Transition).order_by(Transition.case_id, Transition.seq)).scalars():
            histories.setdefault(row.case_id, []).append(row)
        assert len(cases) == generated.cases == 400
        assert sum(len(h) for h in histories.values()) == generated.transitions
        for case in cases:
            history = histories[case.id]
            assert [t.seq for t in history] == list(range(1, len(history) + 1))
            assert history[0].event == "CaseRegistered"
            assert all(a.at <= b.at for a, b in zip(history, history[1:], strict=False))
            assert all(a.to_stage == b.from_stage for a, b in zip(history, history[1:], strict=False))
            for t in history[1:]:  # every move one of the table, from a stage it allows, with its event
                rule = MOVES[Move(t.move)]
                assert Stage(t.from_stage) in rule.sources and t.event == rule.event, (case.reference, t.move)
                assert t.to_stage == (rule.target or t.from_stage)
            assert (case.stage, case.stage_attempt) == (history[-1].to_stage, history[-1].attempt)
            assert local(history[-1].at) < datetime.combine(TODAY, datetime.min.time(), tzinfo=AMSTERDAM)
            if Stage(case.stage) in END_STAGES or case.stage == Stage.REGISTERED:
                assert case.waiting_for is None
            else:
                assert Step(case.waiting_for) and case.due_on is not None
                assert PROCEDURE[Step(case.waiting_for)].stage == Stage(case.stage)
    stages = set(generated.by_stage)
    assert {"closed", "withdrawn", "follow_up", "offer", "readiness"} <= stages  # a spread, not one outcome
    assert_milestones_follow_the_history(engine)  # and the days the commands keep beside each case


def test_contingents_and_neighbourhood_caps_are_never_exceeded(engine: Engine, generated: synthetic.Generated) -> None:
    with Session(engine) as session:
        sizes = {(c.region, c.corporation, c.year): c.size for c in session.execute(select(Contingent)).scalars()}
        held = session.execute(
            select(Nomination.region, Nomination.corporation, Nomination.year, func.count())
            .where(Nomination.status.in_(["proposed", "accepted"]))
            .group_by(Nomination.region, Nomination.corporation, Nomination.year)
        ).all()
        assert held and all(n <= sizes[(r, c, y)] for r, c, y, n in held)
        caps = {
            (q.region, q.neighbourhood, q.year): q.cap for q in session.execute(select(NeighbourhoodQuota)).scalars()
        }
        placed = session.execute(
            select(Offer.region, Offer.neighbourhood, Offer.year, func.count())
            .where(Offer.answer.is_(None) | (Offer.answer == "accepted"))
            .group_by(Offer.region, Offer.neighbourhood, Offer.year)
        ).all()
        assert placed and all(n <= caps[(r, c, y)] for r, c, y, n in placed)
        proposed = session.execute(select(func.count()).where(Transition.event == "NominationProposed")).scalar_one()
        offered = session.execute(select(func.count()).where(Transition.event == "OfferMade")).scalar_one()
        assert proposed == session.execute(select(func.count()).select_from(Nomination)).scalar_one()
        assert offered == session.execute(select(func.count()).select_from(Offer)).scalar_one()


def test_people_are_obviously_fake_and_references_keep_their_pattern_when_generating_again(
    engine: Engine, generated: synthetic.Generated, regions: dict[str, Region]
) -> None:
    synthetic.generate(engine, 30, seed=12, regions=regions, today=TODAY)
    with Session(engine) as session:
        references = session.execute(select(Case.reference).order_by(Case.id)).scalars().all()
        clients = session.execute(select(Client)).scalars().all()
    assert len(set(references)) == 430
    assert all(re.fullmatch(r"WT-\d{4}-\d{4}", ref) for ref in references)
    assert references[0] == "WT-9000-0001" and references[-1] == "WT-9000-0430"
    assert all(c.bsn_encrypted is None and c.email is None and c.phone is None for c in clients)
    assert all(c.full_name and c.full_name.startswith("Proefpersoon ") for c in clients)


def test_references_run_into_the_next_made_up_year_after_9999() -> None:
    assert synthetic.synthetic_reference(0) == "WT-9000-0001"
    assert synthetic.synthetic_reference(9998) == "WT-9000-9999"
    assert synthetic.synthetic_reference(9999) == "WT-9001-0001"
    assert synthetic.synthetic_reference(99_999) == "WT-9010-0010"


def test_the_monitor_agrees_with_a_plain_recount_of_the_history(
    engine: Engine, generated: synthetic.Generated, regions: dict[str, Region]
) -> None:
    first, last = date(2025, 3, 1), date(2026, 2, 28)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=AMSTERDAM)
    with Session(engine) as session:
        region_of = dict(session.execute(select(Case.id, Case.region)).all())
        histories: dict[int, list[Transition]] = {}
        for row in session.execute(select(Transition).order_by(Transition.case_id, Transition.seq)).scalars():
            if local(row.at) < end:
                histories.setdefault(row.case_id, []).append(row)

    def first_day(history: list[Transition], event: str) -> date | None:
        return next((local(t.at).date() for t in history if t.event == event), None)

    def counted(histories: list[list[Transition]], event: str) -> int:
        return sum(1 for h in histories if (day := first_day(h, event)) and first <= day <= last)

    for code, figures in compute_regions(engine, list(regions), first, last, TODAY).items():
        mine = [history for case, history in histories.items() if region_of[case] == code]
        assert figures.flow == {
            "registered": counted(mine, "CaseRegistered"),
            "ready": counted(mine, "ReadinessApproved"),
            "nominated": counted(mine, "NominationProposed"),
            "offered": counted(mine, "OfferMade"),
            "housed": counted(mine, "LeaseSigned"),
        }
        at_end = Counter(history[-1].to_stage for history in mine)
        assert figures.stock == {stage.value: at_end[stage.value] for stage in Stage if stage not in END_STAGES}
        ended = Counter(
            h[-1].to_stage for h in mine if h[-1].to_stage in END_STAGES and local(h[-1].at).date() >= first
        )
        assert figures.outcomes == {stage: ended[stage] for stage in figures.outcomes}
        refused = Counter(
            t.reason for h in mine for t in h if t.event == "OfferRefused" and local(t.at).date() >= first
        )
        assert {r: n for r, n in figures.refusals.items() if n} == dict(refused)
        waits = [
            (keys - ready).days
            for h in mine
            if (keys := first_day(h, "LeaseSigned")) and first <= keys <= last
            and (ready := first_day(h, "ReadinessApproved"))
        ]  # fmt: skip
        (to_keys,) = [lead for lead in figures.lead_times if lead.code == "ready_to_keys"]
        assert (to_keys.cases, to_keys.median_days) == (len(waits), nearest_rank(waits, 50))


def test_the_command_line_fills_the_database_and_the_monitor_writes_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from weerthuis.monitor.command import main as monitor_main

    monkeypatch.setenv("WEERTHUIS_DATA_DIR", str(tmp_path))
    assert synthetic.main(["--cases", "60", "--seed", "3", "--regio", "emmen"]) == 0
    assert "60 synthetische zaken" in capsys.readouterr().out
    assert monitor_main(["--periode", "jaar", "--regio", "emmen"]) == 0
    printed = capsys.readouterr().out
    assert "Zuidoost-Drenthe (Emmen)" in printed and "WT-" not in printed
    assert len(list((tmp_path / "reports").glob("monitor-emmen-*.html"))) == 1
    assert monitor_main(["--regio", "nergens"]) == 2
