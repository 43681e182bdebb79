"""The access log of logins and form answers (weerthuis.accesslog, migration 0013), on SQLite and PostgreSQL: events
read back oldest first, of every case or of one; the database refuses to change or delete them; text is cut to its
column; `weerthuis access-log` prints them beside the personal data access log and exports both with --csv."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.conftest import Clock
from tests.integration.test_cli import REGISTER
from weerthuis import accesslog, cli
from weerthuis.accesslog import AccessEventLine, AccessKind
from weerthuis.bootstrap import App
from weerthuis.casedb.engine import make_engine, make_session_factory
from weerthuis.casedb.migrate import alembic_config, upgrade
from weerthuis.service.casework import Casework

COORDINATOR, CASE_MANAGER = "EMM-TP-01", "EMM-TB-01"
RUN = "0b6c6f1e-3c55-4a59-9d0f-2f1d2f9c7a10"
OTHER_RUN = "9e1f0d43-8f0a-4c8e-b1de-55d2b1a1c0ff"


def test_events_read_back_oldest_first_with_all_they_hold(any_casework: Casework, clock: Clock) -> None:
    start = clock.now.astimezone(UTC)
    accesslog.record(any_casework, AccessKind.LOGIN, CASE_MANAGER, address="192.0.2.10")
    clock.now += timedelta(minutes=5)
    accesslog.record(
        any_casework,
        AccessKind.ANSWER,
        CASE_MANAGER,
        reference="WT-2026-0001",
        flow_run_id=RUN,
        reason="formulier readiness beantwoord",
        address="192.0.2.10",
    )
    clock.now += timedelta(minutes=1)
    accesslog.record(any_casework, AccessKind.LOGIN_REFUSED, "anoniem", reason="onbekend token", address="2001:db8::7")
    # An event of an earlier moment, written later (a worker that reports late), still reads back in its place.
    accesslog.record(any_casework, AccessKind.LOGOUT, COORDINATOR, at=start - timedelta(hours=1))

    assert accesslog.events(any_casework) == [
        AccessEventLine(start - timedelta(hours=1), COORDINATOR, AccessKind.LOGOUT, None, None, None, None),
        AccessEventLine(start, CASE_MANAGER, AccessKind.LOGIN, None, None, None, "192.0.2.10"),
        AccessEventLine(
            start + timedelta(minutes=5),
            CASE_MANAGER,
            AccessKind.ANSWER,
            "WT-2026-0001",
            RUN,
            "formulier readiness beantwoord",
            "192.0.2.10",
        ),
        AccessEventLine(
            start + timedelta(minutes=6),
            "anoniem",
            AccessKind.LOGIN_REFUSED,
            None,
            None,
            "onbekend token",
            "2001:db8::7",
        ),
    ]
    for line in accesslog.events(any_casework):
        assert line.at.tzinfo is not None and line.at.utcoffset() == timedelta(0)
        assert isinstance(line.kind, AccessKind)


def test_events_of_one_case_are_those_naming_its_reference(any_casework: Casework, clock: Clock) -> None:
    accesslog.record(any_casework, AccessKind.LOGIN, CASE_MANAGER)
    accesslog.record(any_casework, AccessKind.ANSWER, CASE_MANAGER, reference="WT-2026-0001", flow_run_id=RUN)
    clock.now += timedelta(seconds=1)
    accesslog.record(any_casework, AccessKind.ANSWER, "api:domesta", reference="WT-2026-0002", flow_run_id=OTHER_RUN)
    clock.now += timedelta(seconds=1)
    accesslog.record(
        any_casework, AccessKind.CHANGE_REFUSED, "EMM-DOM-01", reference="WT-2026-0001", reason="geen rechten"
    )
    # A refused answer on a case that does not exist (yet): kept all the same.
    accesslog.record(any_casework, AccessKind.ANSWER_REFUSED, "worker", reference="WT-2026-0999", reason="onbekend")

    assert [(e.kind, e.who) for e in accesslog.events(any_casework, "WT-2026-0001")] == [
        (AccessKind.ANSWER, CASE_MANAGER),
        (AccessKind.CHANGE_REFUSED, "EMM-DOM-01"),
    ]
    assert [e.flow_run_id for e in accesslog.events(any_casework, "WT-2026-0002")] == [OTHER_RUN]
    assert [e.kind for e in accesslog.events(any_casework, "WT-2026-0999")] == [AccessKind.ANSWER_REFUSED]
    assert accesslog.events(any_casework, "WT-2026-0003") == []
    assert len(accesslog.events(any_casework)) == 5


def test_the_database_refuses_to_change_or_delete_an_event(any_casework: Casework) -> None:
    accesslog.record(any_casework, AccessKind.LOGIN, CASE_MANAGER, reference="WT-2026-0001")
    for statement in (
        "UPDATE access_events SET who = 'iemand-anders'",
        "UPDATE access_events SET reason = 'niets'",
        "DELETE FROM access_events",
    ):
        with any_casework._uow() as uow, pytest.raises((IntegrityError, DBAPIError), match="append-only"):  # noqa: SLF001
            uow.session.execute(text(statement))
    (line,) = accesslog.events(any_casework)
    assert (line.who, line.reason) == (CASE_MANAGER, None)


def test_text_is_cut_to_its_column_and_kept_on_one_line(any_casework: Casework) -> None:
    accesslog.record(
        any_casework,
        AccessKind.ANSWER_REFUSED,
        "api:" + "x" * 100,
        reference="WT-2026-0001-" + "9" * 30,
        flow_run_id=RUN + "-extra",
        reason="r" * 1000,
        address="2001:0db8:0000:0000:0000:ff00:0042:8329%eth0-and-more",
    )
    accesslog.record(any_casework, AccessKind.LOGIN_REFUSED, "", reason="regel een\nregel twee\x00\r\n")
    long, anonymous = accesslog.events(any_casework)
    assert long.who == "api:" + "x" * 56 and len(long.who) == 60
    assert long.reason == "r" * 400
    assert long.reference is not None and len(long.reference) == 20 and long.reference.startswith("WT-2026-0001")
    assert long.flow_run_id == RUN and long.address is not None and len(long.address) == 45
    assert anonymous.who == "anoniem"
    assert anonymous.reason is not None and "\n" not in anonymous.reason and "\x00" not in anonymous.reason
    assert anonymous.reason.startswith("regel een regel twee")


def test_a_bare_session_factory_serves_too_and_a_moment_needs_its_zone(casework: Casework) -> None:
    sessions = casework._sessions  # noqa: SLF001 - the store behind the Casework
    before = datetime.now(UTC)
    accesslog.record(sessions, AccessKind.VIEW, "worker", reference="WT-2026-0001")
    (line,) = accesslog.events(sessions)
    assert line.kind is AccessKind.VIEW and before <= line.at <= datetime.now(UTC)
    assert accesslog.events(casework) == [line]
    with pytest.raises(ValueError):
        accesslog.record(sessions, AccessKind.LOGIN, "worker", at=datetime(2026, 3, 2, 9, 30))  # noqa: DTZ001
    with pytest.raises(ValueError):
        accesslog.record(sessions, "binnengeslopen", "worker")  # type: ignore[arg-type]
    assert len(accesslog.events(sessions)) == 1


def test_the_kinds_are_stored_and_printed_in_dutch() -> None:
    assert [kind.value for kind in AccessKind] == [
        "aanmelding",
        "aanmelding geweigerd",
        "afmelding",
        "antwoord",
        "antwoord geweigerd",
        "wijziging geweigerd",
        "inzage",
    ]


@pytest.mark.parametrize("database", ["sqlite_url", "postgres_url"])
def test_migration_0013_goes_down_to_0012_and_up_again(request: pytest.FixtureRequest, database: str) -> None:
    engine = make_engine(request.getfixturevalue(database))
    try:
        upgrade(engine)
        accesslog.record(make_session_factory(engine), AccessKind.LOGIN, "worker")
        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0012")
            assert "access_events" not in inspect(connection).get_table_names()
        upgrade(engine)
        sessions = make_session_factory(engine)
        assert accesslog.events(sessions) == []
        accesslog.record(sessions, AccessKind.LOGOUT, "worker")  # the triggers are back, and let an insert through
        with sessions() as session, pytest.raises((IntegrityError, DBAPIError), match="append-only"):
            session.execute(text("DELETE FROM access_events"))
    finally:
        engine.dispose()


# The command line ---------------------------------------------------------------------------------------------------


class Weerthuis:
    """`weerthuis …` in this process, on the case database given to `use`: (exit code, stdout, stderr)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
        self.monkeypatch, self.capsys, self.built = monkeypatch, capsys, list[App]()
        monkeypatch.setenv("WEERTHUIS_DATA_DIR", str(data_dir))
        monkeypatch.setenv("WEERTHUIS_UI_URL", "http://127.0.0.1:4200")
        monkeypatch.delenv("WEERTHUIS_REGIONS_DIR", raising=False)
        build = cli._app  # noqa: SLF001 - each command builds its app; the fixture closes their engines afterwards

        def kept(migrate: bool = True) -> App:
            self.built.append(application := build(migrate))
            return application

        monkeypatch.setattr(cli, "_app", kept)

    def use(self, url: str) -> None:
        self.monkeypatch.setenv("WEERTHUIS_CASE_DB_URL", url)

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def weerthuis(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Iterator[Weerthuis]:
    command_line = Weerthuis(monkeypatch, capsys, tmp_path)
    yield command_line
    for application in command_line.built:
        application.casework._sessions.kw["bind"].dispose()  # noqa: SLF001


@pytest.mark.parametrize("database", ["sqlite_url", "postgres_url"])
def test_the_cli_prints_and_exports_both_logs_merged_in_time(
    request: pytest.FixtureRequest, database: str, tmp_path: Path, weerthuis: Weerthuis
) -> None:
    url = request.getfixturevalue(database)
    weerthuis.use(url)
    engine = make_engine(url)
    try:
        code, out, err = weerthuis(*REGISTER, "123456782")
        assert code == 0, err
        ref = out.strip()
        code, out, err = weerthuis(*REGISTER, "111222333")
        assert code == 0, err
        other = out.strip()
        sessions = make_session_factory(engine)

        accesslog.record(sessions, AccessKind.LOGIN, CASE_MANAGER, reference=ref, address="192.0.2.10")
        code, out, err = weerthuis("show", ref, "--personal", "--by", CASE_MANAGER, "--purpose", "bellen")
        assert code == 0, err
        accesslog.record(
            sessions, AccessKind.ANSWER, CASE_MANAGER, reference=ref, flow_run_id=RUN, reason="=formulier readiness"
        )
        accesslog.record(sessions, AccessKind.ANSWER, "api:domesta", reference=other, flow_run_id=OTHER_RUN)
        accesslog.record(sessions, AccessKind.ANSWER_REFUSED, "anoniem", flow_run_id=OTHER_RUN, reason="geen token")

        # Printed: both logs in time order; the personal data line as it always read.
        code, out, err = weerthuis("access-log", ref)
        assert code == 0, err
        header, *lines = out.splitlines()
        assert header.startswith("tijd (UTC)") and "door (account)" in header
        assert len(lines) == 3, out
        assert re.match(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d  {ref}  aanmelding ", lines[0]), lines[0]
        assert f"{CASE_MANAGER} vanaf 192.0.2.10" in lines[0]
        assert "  inzage " in lines[1] and CASE_MANAGER in lines[1] and lines[1].endswith("bellen")
        assert "  antwoord " in lines[2] and lines[2].endswith("=formulier readiness")
        assert "Jan Testpersoon" not in out and "123456782" not in out

        # Exported: one case.
        one = tmp_path / "zaak.csv"
        code, out, err = weerthuis("access-log", ref, "--csv", str(one))
        assert code == 0 and str(one) in out and "3 regels" in out, out + err
        with one.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert list(rows[0]) == ["tijd_utc", "zaak", "wat", "door", "account", "reden/doel", "adres"]
        assert [(r["zaak"], r["wat"], r["door"]) for r in rows] == [
            (ref, "aanmelding", CASE_MANAGER),
            (ref, "inzage", CASE_MANAGER),
            (ref, "antwoord", CASE_MANAGER),
        ]
        assert rows[0]["adres"] == "192.0.2.10" and rows[0]["reden/doel"] == ""
        assert rows[1]["reden/doel"] == "bellen" and rows[1]["account"] == (cli._os_user() or "")  # noqa: SLF001
        assert rows[2]["reden/doel"] == "'=formulier readiness"  # a spreadsheet reads it as text, not a formula
        times = [datetime.strptime(r["tijd_utc"], "%Y-%m-%dT%H:%M:%SZ") for r in rows]  # noqa: DTZ007
        assert times == sorted(times)
        assert "Jan Testpersoon" not in one.read_text(encoding="utf-8")

        # Exported: every case, the refusal without a case too.
        every = tmp_path / "alles.csv"
        code, out, err = weerthuis("access-log", "--csv", str(every))
        assert code == 0, err
        with every.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert [(r["zaak"], r["wat"]) for r in rows] == [
            (ref, "aanmelding"),
            (ref, "inzage"),
            (ref, "antwoord"),
            (other, "antwoord"),
            ("", "antwoord geweigerd"),
        ]

        # A reference no case has: refused, unless an event names it.
        code, out, err = weerthuis("access-log", "WT-2026-0999")
        assert (code, out) == (2, "") and err.startswith("Fout: Zaak WT-2026-0999 bestaat niet"), err
        accesslog.record(sessions, AccessKind.ANSWER_REFUSED, "worker", reference="WT-2026-0999", reason="onbekend")
        code, out, err = weerthuis("access-log", "WT-2026-0999")
        assert code == 0, err
        (line,) = out.splitlines()[1:]
        assert "WT-2026-0999" in line and "antwoord geweigerd" in line and line.endswith("onbekend")

        code, out, err = weerthuis("access-log", ref, "--csv", str(tmp_path / "geen-map" / "x.csv"))
        assert code == 2 and err.startswith("Fout: ") and "Traceback" not in err, err
    finally:
        engine.dispose()


def test_the_cli_says_so_when_nothing_is_logged(tmp_path: Path, sqlite_url: str, weerthuis: Weerthuis) -> None:
    weerthuis.use(sqlite_url)
    code, out, err = weerthuis("access-log")
    assert code == 0 and out.startswith("Geen inzage of wissen van persoonsgegevens vastgelegd"), out + err
    empty = tmp_path / "leeg.csv"
    code, out, err = weerthuis("access-log", "--csv", str(empty))
    assert code == 0 and "0 regels" in out, out + err
    assert empty.read_text(encoding="utf-8").splitlines() == ["tijd_utc,zaak,wat,door,account,reden/doel,adres"]
