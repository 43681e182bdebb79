"""The migrations build exactly the models' schema; the bootstrap wires every action to a task; prefect.yaml loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from config.settings import IntegrationSettings, Settings
from weerthuis.bootstrap import build
from weerthuis.casedb.engine import make_engine
from weerthuis.casedb.migrate import upgrade
from weerthuis.casedb.models import Base
from weerthuis.casework import EVENT_ACTIONS, STATUS_ACTION

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
        "monitor": ["peildatum", "periode", "regio"],
    }


def test_reminders_run_every_morning_in_dutch_time() -> None:
    config = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    (reminders,) = [d for d in config["deployments"] if d["name"] == "reminders"]
    assert reminders["schedules"] == [{"cron": "0 7 * * *", "timezone": "Europe/Amsterdam"}]
