"""The migrations build exactly the models' schema; the bootstrap wires every action to a task; prefect.yaml loads."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import DateTime, bindparam, select, text

from config.settings import IntegrationSettings, Settings
from weerthuis.bootstrap import build
from weerthuis.casedb.engine import make_engine
from weerthuis.casedb.migrate import upgrade
from weerthuis.casedb.models import Base, CaseMilestones
from weerthuis.domain.calendar import AMSTERDAM
from weerthuis.service.effects import EVENT_ACTIONS, STATUS_ACTION

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("database", ["sqlite_url", "postgres_url"])
def test_migrations_build_the_schema_the_models_describe(request: pytest.FixtureRequest, database: str) -> None:
    engine = make_engine(request.getfixturevalue(database))
    try:
        upgrade(engine)
        upgrade(engine)  # a second run finds nothing to do
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", ["sqlite_url", "postgres_url"])
def test_the_milestone_migration_fills_each_cases_days_from_its_history(
    request: pytest.FixtureRequest, database: str
) -> None:
    """A database of the schema before 0008: its cases get their milestone days, in Dutch time, the first of each."""
    engine = make_engine(request.getfixturevalue(database))
    history = [
        ("CaseRegistered", "2026-03-01 10:00+01"),
        ("AssessmentStarted", "2026-03-02 23:30+00"),  # 00:30 on 3 March in the Netherlands
        ("ReadinessApproved", "2026-03-09 10:00+01"),
        ("NominationProposed", "2026-03-10 10:00+01"),
        ("NominationDeclined", "2026-03-12 10:00+01"),
        ("NominationProposed", "2026-03-16 10:00+01"),
    ]
    try:
        upgrade(engine, "0007")
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO clients (id) VALUES (1)"))
            for case_id in (1, 2):
                connection.execute(
                    text(
                        "INSERT INTO cases (id, reference, region, client_id, institution_type, care_provider,"
                        " origin_municipality, registration_reason, region_tie, household_size, housing_wishes,"
                        " registered_by, registered_at, stage, stage_attempt, stage_since, refusals)"
                        " VALUES (:id, :ref, 'emmen', 1, 'MO', 'leger-des-heils', 'Emmen', 'dakloos', true, 1, '',"
                        " 'EMM-TB-01', :at, 'nomination', 2, :at, 0)"
                    ).bindparams(AT),
                    {"id": case_id, "ref": f"WT-2026-000{case_id}", "at": moment("2026-03-01 10:00+01")},
                )
            for seq, (event, at) in enumerate(history, start=1):
                connection.execute(
                    text(
                        "INSERT INTO transitions (case_id, seq, move, event, from_stage, from_attempt, to_stage,"
                        " attempt, decided_by, at, reason) VALUES (1, :seq, 'test', :event, 'x', 1, 'x', 1, 'TEST',"
                        " :at, '')"
                    ).bindparams(AT),
                    {"seq": seq, "event": event, "at": moment(at)},
                )
        upgrade(engine)
        with engine.connect() as connection:
            rows = connection.execute(select(CaseMilestones).order_by(CaseMilestones.case_id)).all()
    finally:
        engine.dispose()
    # Case 2 has no history beyond its registration: no row, so the monitor reads no milestone for it.
    assert [tuple(row) for row in rows] == [
        (1, date(2026, 3, 3), date(2026, 3, 9), None, None, None, None, date(2026, 3, 10), None, None)
    ]


# Moments written as the case database writes them (on SQLite: Dutch wall-clock time).
AT = bindparam("at", type_=DateTime(timezone=True))


def moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(AMSTERDAM)


def test_every_owed_action_has_a_task_that_delivers_it() -> None:
    from tasks.actions import ACTION_TASKS

    operations = {operation for actions in EVENT_ACTIONS.values() for _, operation, _ in actions}
    assert operations | {STATUS_ACTION[1]} == set(ACTION_TASKS)


def test_bootstrap_builds_the_app_with_fakes_and_this_years_quotas(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, integrations=IntegrationSettings(fake_ledger=tmp_path / "ledger.sqlite"))
    app = build(settings, migrate=True)
    assert set(app.regions) == {"emmen", "fryslan"}
    assert app.casework.corporations_with_places("fryslan") == {
        "woonfriesland": 90,
        "elkien": 80,
        "accolade": 60,
        "thus-wonen": 40,
        "wonen-noordwest-friesland": 30,
    }
    receipt = app.corporation.submit_nomination({"reference": "WT-2026-0001"}, idempotency_key="k1")
    assert app.corporation.submit_nomination({"reference": "WT-2026-0001"}, idempotency_key="k1") == receipt


def test_prefect_yaml_deploys_each_flow_with_only_pseudonymous_parameters() -> None:
    import inspect
    from importlib import import_module

    config = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    parameters = {}
    for deployment in config["deployments"]:
        module, name = deployment["entrypoint"].split(":")
        flow = getattr(import_module(module.removesuffix(".py").replace("/", ".")), name)
        assert flow.name == deployment["name"]
        parameters[flow.name] = list(inspect.signature(flow.fn).parameters)
    assert parameters == {
        "outflow-case": ["zaakreferentie", "regio"],
        "reminders": ["peildatum"],
        "mail-outbox": [],
        "counterpart-answers": [],
        "follow-up": ["zaakreferentie", "regio", "nazorgmoment"],
        "recovery": [],
        "monitor": ["peildatum", "periode", "regio"],
        "retention": [],
    }


def test_recovery_runs_when_a_case_run_crashes_or_fails_and_every_two_minutes() -> None:
    config = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    (recovery,) = [d for d in config["deployments"] if d["name"] == "recovery"]
    assert recovery["schedules"] == [{"interval": 120}]
    (trigger,) = recovery["triggers"]
    assert set(trigger["expect"]) == {"prefect.flow-run.Crashed", "prefect.flow-run.Failed"}
    assert trigger["match_related"]["prefect.resource.name"] == ["outflow-case", "follow-up"]  # never itself


def test_reminders_run_every_morning_in_dutch_time() -> None:
    config = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    (reminders,) = [d for d in config["deployments"] if d["name"] == "reminders"]
    assert reminders["schedules"] == [{"cron": "0 7 * * *", "timezone": "Europe/Amsterdam"}]


def test_retention_runs_every_night_in_dutch_time() -> None:
    config = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    (retention,) = [d for d in config["deployments"] if d["name"] == "retention"]
    assert retention["entrypoint"] == "flows/retention.py:retention"
    assert retention["schedules"] == [{"cron": "30 3 * * *", "timezone": "Europe/Amsterdam"}]
    assert retention["work_pool"] == {"name": "weer-thuis"}
