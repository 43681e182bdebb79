"""API tokens for machines (weerthuis.tokens, migration 0012), on SQLite and PostgreSQL: an issued token verifies and
names its service; a wrong secret under the right prefix, a revoked token or anything else does not; the table and
the list hold no token text; the last use is written at most once a minute; `weerthuis token` issues, lists and
revokes end to end."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import MetaData, Table, inspect, select

from tests.conftest import Clock
from weerthuis import cli, tokens
from weerthuis.bootstrap import App
from weerthuis.casedb.engine import make_engine, make_session_factory
from weerthuis.casedb.migrate import alembic_config, upgrade
from weerthuis.casedb.models import ServiceToken
from weerthuis.casedb.quota import Refused
from weerthuis.service.casework import Casework
from weerthuis.service.errors import UnknownDecider
from weerthuis.tokens import AlreadyRevoked, TokenInfo, TokenRefused, UnknownService

COORDINATOR, OTHER_COORDINATOR, CASE_MANAGER = "EMM-TP-01", "FRL-TP-01", "EMM-TB-01"
TOKEN = re.compile(r"wt_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")


def parts(token: str) -> tuple[str, str]:
    found = TOKEN.fullmatch(token)
    assert found, token
    return found.group(1), found.group(2)


def sessions_of(casework: Casework) -> object:
    return casework._sessions  # noqa: SLF001 - the test reads the rows behind the store


def stored_values(casework: Casework) -> list[object]:
    """Every value of every column of service_tokens as the database has it (reflected, not the model's columns)."""
    with casework._sessions() as session:  # noqa: SLF001
        table = Table("service_tokens", MetaData(), autoload_with=session.connection())
        assert {c.name for c in table.columns} >= {"prefix", "token_hash", "salt", "service", "created_by"}
        return [value for row in session.execute(select(table)) for value in row]


def test_an_issued_token_verifies_and_names_its_service(any_casework: Casework, clock: Clock) -> None:
    token = tokens.issue(any_casework, "worker", COORDINATOR)
    prefix, secret = parts(token)
    info = tokens.verify(any_casework, token)
    assert info == TokenInfo(
        prefix=prefix,
        service="worker",
        created_at=clock.now.astimezone(UTC),
        created_by=COORDINATOR,
        last_used_at=clock.now.astimezone(UTC),
        revoked_at=None,
        revoked_by=None,
        revoke_reason=None,
    )
    assert info.active and info.created_at.tzinfo is not None
    other = tokens.issue(any_casework, "api:domesta", OTHER_COORDINATOR)  # a coordinator of another region
    assert (verified := tokens.verify(any_casework, other)) is not None and verified.service == "api:domesta"
    assert parts(other)[0] != prefix and parts(other)[1] != secret


def test_the_right_prefix_with_a_wrong_secret_does_not_verify(any_casework: Casework) -> None:
    token = tokens.issue(any_casework, "counterpart-answers", COORDINATOR)
    other = tokens.issue(any_casework, "cli", COORDINATOR)
    prefix, secret = parts(token)
    other_prefix, other_secret = parts(other)
    flipped = ("B" if secret[0] == "A" else "A") + secret[1:]
    for wrong in [
        f"wt_{prefix}_{flipped}",  # one character off
        f"wt_{prefix}_{other_secret}",  # another token's secret under this prefix
        f"wt_{other_prefix}_{secret}",  # this secret under another prefix
        f"wt_{'0' * 8}_{secret}",  # a prefix nobody has
        token + "x",
        token[:-1],
        token.upper(),
        f" {token}",
        secret,
        prefix,
        "",
        "wt__",
    ]:
        assert tokens.verify(any_casework, wrong) is None, wrong
    assert tokens.verify(any_casework, token) is not None  # the right one still does
    with any_casework._sessions() as session:  # noqa: SLF001 - a wrong secret is no use: nothing written
        last_used = dict(session.execute(select(ServiceToken.prefix, ServiceToken.last_used_at)).tuples().all())
    assert last_used[other_prefix] is None and last_used[prefix] is not None


def test_a_revoked_token_does_not_verify_and_is_revoked_once(any_casework: Casework, clock: Clock) -> None:
    first = tokens.issue(any_casework, "worker", COORDINATOR)
    second = tokens.issue(any_casework, "worker", COORDINATOR)  # rotation: the new one before the old one goes
    cli_token = tokens.issue(any_casework, "cli", COORDINATOR)
    prefix = parts(first)[0]

    clock.now += timedelta(hours=1)
    (revoked,) = tokens.revoke(any_casework, prefix, OTHER_COORDINATOR, "  lekt uit oude worker-image ")
    assert (revoked.prefix, revoked.revoked_by, revoked.revoke_reason) == (
        prefix,
        OTHER_COORDINATOR,
        "lekt uit oude worker-image",
    )
    assert revoked.revoked_at == clock.now.astimezone(UTC) and not revoked.active
    assert tokens.verify(any_casework, first) is None
    assert tokens.verify(any_casework, second) is not None and tokens.verify(any_casework, cli_token) is not None
    with pytest.raises(AlreadyRevoked, match=rf"Token {prefix} \(dienst worker\) is al ingetrokken op .* door "):
        tokens.revoke(any_casework, prefix, COORDINATOR, "nog eens")
    with pytest.raises(AlreadyRevoked, match=rf"Token {prefix} .* is al ingetrokken"):
        tokens.revoke(any_casework, first, COORDINATOR, "het hele token geplakt")

    # By service: every active token of it; then there is none left.
    (by_service,) = tokens.revoke(any_casework, "worker", COORDINATOR, "worker buiten gebruik")
    assert by_service.prefix == parts(second)[0] and tokens.verify(any_casework, second) is None
    with pytest.raises(AlreadyRevoked, match="Token van dienst worker is al ingetrokken"):
        tokens.revoke(any_casework, "worker", COORDINATOR, "nog eens")
    assert tokens.verify(any_casework, cli_token) is not None

    with pytest.raises(UnknownService, match="Onbekende dienst of token 'ffffffff'"):
        tokens.revoke(any_casework, "ffffffff", COORDINATOR, "bestaat niet")
    with pytest.raises(UnknownService, match="Onbekende dienst of token 'api:nergens'"):
        tokens.revoke(any_casework, "api:nergens", COORDINATOR, "bestaat niet")
    with pytest.raises(TokenRefused, match="Geef de reden op"):
        tokens.revoke(any_casework, parts(cli_token)[0], COORDINATOR, "  ")
    with pytest.raises(UnknownDecider, match=f"'{CASE_MANAGER}' is geen coördinator"):
        tokens.revoke(any_casework, parts(cli_token)[0], CASE_MANAGER, "geen coördinator")
    assert tokens.verify(any_casework, cli_token) is not None
    # Revoked rows stay, with who and why: the list is the account of every token handed out.
    assert [(t.service, t.active) for t in tokens.list_tokens(any_casework)] == [
        ("worker", False),
        ("worker", False),
        ("cli", True),
    ]


def test_the_table_holds_no_token_text(any_casework: Casework) -> None:
    issued = [tokens.issue(any_casework, service, COORDINATOR) for service in ("worker", "cli", "api:domesta")]
    tokens.revoke(any_casework, "cli", COORDINATOR, "test")
    for token in issued:
        tokens.verify(any_casework, token)
    values = [str(value) for value in stored_values(any_casework) if value is not None]
    assert len(values) >= 3 * 7
    for token in issued:
        prefix, secret = parts(token)
        assert prefix in values  # the public part, to find the row
        for value in values:
            assert token not in value and secret not in value
            # Not even a piece of the secret (12 characters is 72 bits: no accident).
            assert not any(secret[i : i + 12] in value for i in range(len(secret) - 11)), value


def test_the_list_never_shows_a_secret(any_casework: Casework) -> None:
    issued = {tokens.issue(any_casework, service, COORDINATOR) for service in ("worker", "counterpart-answers")}
    listed = tokens.list_tokens(any_casework)
    assert {t.prefix for t in listed} == {parts(token)[0] for token in issued}
    assert tokens.list_tokens(any_casework, "worker")[0].service == "worker"
    assert tokens.list_tokens(any_casework, "cli") == []
    text = repr(listed) + str([vars(t) for t in listed])
    for token in issued:
        assert parts(token)[1] not in text and token not in text
    assert set(TokenInfo.__dataclass_fields__) == {
        "prefix",
        "service",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
        "revoked_by",
        "revoke_reason",
    }


def test_last_used_at_is_written_at_most_once_a_minute(any_casework: Casework, clock: Clock) -> None:
    token = tokens.issue(any_casework, "worker", COORDINATOR)
    assert tokens.list_tokens(any_casework)[0].last_used_at is None
    start = clock.now.astimezone(UTC)

    assert (info := tokens.verify(any_casework, token)) is not None and info.last_used_at == start
    clock.now += timedelta(seconds=59)
    assert (info := tokens.verify(any_casework, token)) is not None and info.last_used_at == start
    assert tokens.list_tokens(any_casework)[0].last_used_at == start
    clock.now += timedelta(seconds=1)  # a minute after the last write
    assert (info := tokens.verify(any_casework, token)) is not None
    assert info.last_used_at == start + timedelta(minutes=1)
    assert tokens.list_tokens(any_casework)[0].last_used_at == start + timedelta(minutes=1)
    clock.now += timedelta(hours=5)
    tokens.verify(any_casework, token)
    assert tokens.list_tokens(any_casework)[0].last_used_at == clock.now.astimezone(UTC)


@pytest.mark.parametrize(
    "service", ["Worker", "worker ", "", "-cli", "cli-", "api:", "9worker", "wörker", "a_b", "x" * 61, "deadbeef"]
)
def test_a_service_code_is_lowercase_letters_digits_dash_and_colon(casework: Casework, service: str) -> None:
    with pytest.raises(UnknownService, match=f"Onbekende dienst '{re.escape(service)}'"):
        tokens.issue(casework, service, COORDINATOR)
    assert tokens.list_tokens(casework) == []


def test_only_a_coordinator_issues_and_a_bare_session_factory_serves_too(casework: Casework) -> None:
    for who in (CASE_MANAGER, "XYZ-99", " "):
        with pytest.raises(Refused):  # UnknownDecider, as for a case's commands; TokenRefused for an empty code
            tokens.issue(casework, "worker", who)
    assert tokens.list_tokens(casework) == []
    for service in ("cli", "counterpart-answers", "api:domesta", "api:vnn-zorg2", "w"):
        assert tokens.verify(casework, tokens.issue(casework, service, COORDINATOR)) is not None

    sessions = sessions_of(casework)  # without regions the staff code is taken as given
    token = tokens.issue(sessions, "worker", "beheer")
    assert (info := tokens.verify(sessions, token)) is not None and info.created_by == "beheer"
    assert info.created_at.tzinfo is not None and tokens.verify(casework, token) is not None


@pytest.mark.parametrize("database", ["sqlite_url", "postgres_url"])
def test_migration_0012_goes_down_to_0011_and_up_again(request: pytest.FixtureRequest, database: str) -> None:
    engine = make_engine(request.getfixturevalue(database))
    try:
        upgrade(engine)
        token = tokens.issue(make_session_factory(engine), "worker", "beheer")
        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0011")
            assert "service_tokens" not in inspect(connection).get_table_names()
        upgrade(engine)
        with engine.connect() as connection:
            assert "service_tokens" in inspect(connection).get_table_names()
        assert tokens.verify(make_session_factory(engine), token) is None  # gone with the table
    finally:
        engine.dispose()


# The command line ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite_url", "postgres_url"])
def test_the_cli_issues_lists_and_revokes_tokens(
    request: pytest.FixtureRequest,
    database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = request.getfixturevalue(database)
    monkeypatch.setenv("WEERTHUIS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WEERTHUIS_CASE_DB_URL", url)
    monkeypatch.setenv("WEERTHUIS_UI_URL", "http://127.0.0.1:4200")
    monkeypatch.delenv("WEERTHUIS_REGIONS_DIR", raising=False)

    built: list[App] = []
    build = cli._app  # noqa: SLF001 - each command builds its app; the test closes their engines afterwards

    def kept(migrate: bool = True) -> App:
        built.append(application := build(migrate))
        return application

    monkeypatch.setattr(cli, "_app", kept)

    def weerthuis(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    assert weerthuis("token", "list") == (0, "Nog geen tokens uitgegeven.\n", "")

    code, out, err = weerthuis("token", "issue", "--service", "worker", "--by", COORDINATOR)
    assert code == 0, err
    token = out.strip()
    prefix, secret = parts(token)  # stdout is the token alone: `TOKEN=$(weerthuis token issue …)` works
    assert out == token + "\n" and token not in err
    assert f"Token voor dienst worker uitgegeven (prefix {prefix})" in err
    assert "alleen nu getoond" in err and f"weerthuis token revoke {prefix}" in err
    assert "ander actief token" not in err

    code, out, err = weerthuis("token", "issue", "--service", "worker", "--by", COORDINATOR)
    assert code == 0 and f"dienst worker heeft nog 1 ander actief token ({prefix})" in err, err
    rotated = out.strip()

    code, out, err = weerthuis("token", "issue", "--service", "Worker!", "--by", COORDINATOR)
    assert (code, out) == (2, "") and err.startswith("Fout: Onbekende dienst 'Worker!'"), err
    code, out, err = weerthuis("token", "issue", "--service", "cli", "--by", CASE_MANAGER)
    assert (code, out) == (2, "") and err.startswith(f"Fout: '{CASE_MANAGER}' is geen coördinator"), err

    sessions = make_session_factory(engine := make_engine(url))
    try:
        assert tokens.verify(sessions, token) is not None
        code, out, err = weerthuis("token", "list")
        assert code == 0, err
        header, *lines = out.splitlines()
        assert header.startswith("prefix    dienst") and "uitgegeven (UTC)" in header
        assert len(lines) == 2 and lines[0].startswith(f"{prefix}  worker ") and COORDINATOR in lines[0]
        assert lines[0].endswith("actief") and lines[1].endswith("actief")
        assert re.search(r"  \d{4}-\d\d-\d\d \d\d:\d\d  ", lines[0]), lines[0]  # issued, and used once just now
        for shown in (out, err):
            assert secret not in shown and token not in shown and parts(rotated)[1] not in shown

        code, out, err = weerthuis("token", "revoke", prefix, "--by", COORDINATOR, "--reason", "gerouleerd")
        assert (code, err) == (0, ""), err
        assert out == f"Token {prefix} (dienst worker) ingetrokken door {COORDINATOR}: gerouleerd\n"
        assert tokens.verify(sessions, token) is None and tokens.verify(sessions, rotated) is not None
        code, out, err = weerthuis("token", "revoke", prefix, "--by", COORDINATOR, "--reason", "nog eens")
        assert (code, out) == (2, "") and err.startswith(f"Fout: Token {prefix} (dienst worker) is al ingetrokken")
        code, out, err = weerthuis("token", "revoke", "api:nergens", "--by", COORDINATOR, "--reason", "weg")
        assert code == 2 and err.startswith("Fout: Onbekende dienst of token 'api:nergens'"), err

        code, out, err = weerthuis("token", "list")
        assert code == 0 and "ingetrokken " in out and f"door {COORDINATOR}: gerouleerd" in out, out
        assert secret not in out and parts(rotated)[1] not in out
    finally:
        engine.dispose()
        for application in built:
            application.casework._sessions.kw["bind"].dispose()  # noqa: SLF001
