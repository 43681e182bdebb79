"""Fixtures shared by every group: regions, a clock, and case databases on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text

from config.regions import Region, load_regions
from config.settings import REGIONS_DIR
from weerthuis.casedb import quota
from weerthuis.casedb.engine import make_engine, make_session_factory
from weerthuis.casedb.migrate import upgrade
from weerthuis.casedb.models import CaseMilestones, Transition
from weerthuis.domain.calendar import AMSTERDAM
from weerthuis.domain.milestones import MILESTONES, first_days
from weerthuis.service.casework import Casework

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

POSTGRES_URL = os.environ.get("WEERTHUIS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
POSTGRES_REQUIRED = os.environ.get("WEERTHUIS_REQUIRE_POSTGRES") == "1"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="session")
def regions() -> dict[str, Region]:
    return load_regions(REGIONS_DIR)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 2, 9, 30, tzinfo=AMSTERDAM))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cases.sqlite'}"


def _postgres_available() -> str | None:
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect means "not here"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL; skipped without one, unless CI requires it."""
    problem = _postgres_available()
    if problem:
        if POSTGRES_REQUIRED:
            pytest.fail(f"PostgreSQL is required here (WEERTHUIS_REQUIRE_POSTGRES=1) but {POSTGRES_URL}: {problem}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} ({problem}); set WEERTHUIS_TEST_POSTGRES_URL")
    schema = f"wt_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@contextmanager
def make_casework(url: str, regions: dict[str, Region], clock: Clock) -> Iterator[Casework]:
    engine = make_engine(url)
    try:
        upgrade(engine)
        casework = Casework(make_session_factory(engine), regions, clock=clock)
        with casework._uow() as uow:
            for region in regions.values():
                quota.sync_quotas(uow.session, region, clock().year)
            uow.commit()
        yield casework
        assert_milestones_follow_the_history(engine)
    finally:
        engine.dispose()


def assert_milestones_follow_the_history(engine: Engine) -> None:
    """The milestone days kept beside each case are the first days its history reached them: whatever a test did
    through the commands, the monitor reads the same as it would from the history."""
    histories: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    with engine.connect() as connection:
        for case_id, event, at in connection.execute(select(Transition.case_id, Transition.event, Transition.at)):
            histories[case_id].append((event, at))
        kept = {
            row.case_id: {name: getattr(row, name) for name in MILESTONES if getattr(row, name) is not None}
            for row in connection.execute(select(CaseMilestones))
        }
    reached = {case_id: first_days(history) for case_id, history in histories.items()}
    assert kept == {case_id: days for case_id, days in reached.items() if days}


@pytest.fixture
def casework(sqlite_url: str, regions: dict[str, Region], clock: Clock) -> Iterator[Casework]:
    with make_casework(sqlite_url, regions, clock) as casework:
        yield casework


@pytest.fixture(params=["sqlite", "postgresql"])
def any_casework(request: pytest.FixtureRequest, regions: dict[str, Region], clock: Clock) -> Iterator[Casework]:
    """The same test on SQLite and on PostgreSQL."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    with make_casework(url, regions, clock) as casework:
        yield casework
