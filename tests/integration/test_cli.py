"""The command line as a new user meets it (issue 13): the same BSN twice, `start` without a Prefect server, and a
case's run that belongs to another case or another case database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from prefect import flow, get_client
from prefect.settings import PREFECT_API_URL
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import func, select, text

from config.settings import Settings
from weerthuis.bootstrap import App, build
from weerthuis.casedb.engine import make_engine
from weerthuis.casedb.migrate import upgrade
from weerthuis.casedb.models import CaseDatabase, Client
from weerthuis.cli import fill_bsn_digests, register_client
from weerthuis.devstack import REPO, free_port
from weerthuis.domain.vocabulary import InstitutionType
from weerthuis.personal import bsn_digest, bsn_key
from weerthuis.runs import OtherCaseDatabase, check_case_database, database_tag
from weerthuis.service.casework import Casework
from weerthuis.service.errors import SameBsn

REGISTER = [
    "register",
    "--region",
    "emmen",
    "--institution",
    "MO",
    "--care-provider",
    "leger-des-heils",
    "--origin",
    "Emmen",
    "--reason",
    "dakloos na huisuitzetting",
    "--region-tie",
    "--by",
    "EMM-TB-01",
    "--name",
    "Jan Testpersoon",
    "--bsn",
]


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a user's shell: no Prefect address and no profile that could give one (own PREFECT_HOME),
    the given data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "WEERTHUIS_"))}
    home = data_dir / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    return {
        **env,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "WEERTHUIS_DATA_DIR": str(data_dir),
        **extra,
    }


def weerthuis(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "weerthuis.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def count_cases(data_dir: Path) -> int:
    engine = make_engine(Settings(data_dir=data_dir).database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM cases")).scalar_one())
    finally:
        engine.dispose()


# The same BSN twice -------------------------------------------------------------------------------------------------


def test_the_same_bsn_twice_is_warned_and_refused_and_registered_only_with_toch(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    first = weerthuis(env, *REGISTER, "123456782")
    assert first.returncode == 0, first.stderr
    assert re.fullmatch(r"WT-\d{4}-0001", first.stdout.strip())
    reference = first.stdout.strip()

    # Written differently, it is the same BSN: refused, with the earlier case named, nothing registered.
    again = weerthuis(env, *REGISTER, "1234.56.782")
    assert again.returncode == 2, again.stdout + again.stderr
    assert again.stdout == ""
    assert f"Dit BSN staat al bij zaak {reference} (open, aanmelding); niet opnieuw aangemeld." in again.stderr
    assert "--toch" in again.stderr and "Traceback" not in again.stderr
    assert "123456782" not in again.stderr and "Jan Testpersoon" not in again.stderr
    assert count_cases(tmp_path) == 1

    toch = weerthuis(env, *REGISTER, "123456782", "--toch")
    assert toch.returncode == 0, toch.stderr
    second = toch.stdout.strip()
    assert re.fullmatch(r"WT-\d{4}-0002", second)
    assert f"dit BSN staat al bij zaak {reference}" in toch.stderr and f"toch aangemeld als nieuwe zaak {second}" in (
        toch.stderr
    )
    assert count_cases(tmp_path) == 2

    # Another BSN goes through without a word.
    other = weerthuis(env, *REGISTER, "111222333")
    assert other.returncode == 0 and other.stderr == "", other.stderr


def test_registration_refuses_a_bsn_an_earlier_case_has_on_every_database(any_casework: Casework) -> None:
    def register(digest: str | None, allow_same_bsn: bool = False) -> str:
        return any_casework.register(
            region="emmen",
            institution_type=InstitutionType.SOCIAL_SHELTER,
            care_provider="leger-des-heils",
            origin_municipality="Emmen",
            registration_reason="dakloos",
            region_tie=True,
            household_size=1,
            housing_wishes="",
            registered_by="EMM-TB-01",
            client=Client(full_name="Test Cliënt", bsn_digest=digest),
            allow_same_bsn=allow_same_bsn,
        )

    first = register("a" * 64)
    with pytest.raises(SameBsn) as refused:
        register("a" * 64)
    assert refused.value.cases[0][0] == first
    assert any_casework.references() == [first]
    second = register("a" * 64, allow_same_bsn=True)
    register("b" * 64)
    register(None)  # without a BSN nothing to compare
    register(None)
    with pytest.raises(SameBsn) as refused:
        register("a" * 64)
    assert [reference for reference, _ in refused.value.cases] == [first, second]


def test_the_bsn_digest_is_keyed_and_the_same_for_the_same_bsn() -> None:
    key, other = Fernet.generate_key(), Fernet.generate_key()
    assert bsn_digest(key, "123456782") == bsn_digest(key, "123456782")
    assert bsn_digest(key, "123456782") != bsn_digest(key, "111222333")
    assert bsn_digest(key, "123456782") != bsn_digest(other, "123456782")
    assert "123456782" not in bsn_digest(key, "123456782") and len(bsn_digest(key, "123456782")) == 64


@pytest.mark.parametrize("database", ["sqlite_url", "postgres_url"])
def test_migration_0009_gives_the_database_an_identity_and_existing_clients_their_digest_when_the_key_is_there(
    request: pytest.FixtureRequest, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = request.getfixturevalue(database)
    key, foreign = Fernet.generate_key(), Fernet.generate_key()
    monkeypatch.setenv("WEERTHUIS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WEERTHUIS_BSN_KEY", key.decode())
    engine = make_engine(url)
    try:
        upgrade(engine, "0008")
        with engine.begin() as connection:
            for client_id, secret in ((1, key), (2, foreign)):  # 2: encrypted with another data folder's key
                connection.execute(
                    text("INSERT INTO clients (id, bsn_encrypted) VALUES (:id, :bsn)"),
                    {"id": client_id, "bsn": Fernet(secret).encrypt(b"123456782")},
                )
            connection.execute(text("INSERT INTO clients (id) VALUES (3)"))  # no BSN
        upgrade(engine)
        with engine.connect() as connection:
            digests = dict(connection.execute(select(Client.id, Client.bsn_digest)).tuples().all())
            (identity,) = connection.execute(select(CaseDatabase.database_id)).scalars().all()
    finally:
        engine.dispose()
    assert digests == {1: bsn_digest(key, "123456782"), 2: None, 3: None}
    assert re.fullmatch(r"[0-9a-f]{32}", identity)


def test_without_the_key_the_migration_leaves_digests_empty_and_migrate_fills_them_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEERTHUIS_BSN_KEY", raising=False)
    monkeypatch.delenv("WEERTHUIS_CASE_DB_URL", raising=False)
    monkeypatch.setenv("WEERTHUIS_DATA_DIR", str(tmp_path / "elsewhere"))  # no key file there
    settings = Settings(data_dir=tmp_path)
    key = bsn_key(settings)  # the data folder's key file, which the migration does not see
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine, "0008")
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO clients (id, bsn_encrypted) VALUES (1, :bsn)"),
                {"bsn": Fernet(key).encrypt(b"123456782")},
            )
        upgrade(engine)
        with engine.connect() as connection:
            assert connection.execute(select(Client.bsn_digest)).scalar_one() is None
    finally:
        engine.dispose()
    assert fill_bsn_digests(settings) == (1, 0)  # what `weerthuis migrate` and `register` do with the key
    assert fill_bsn_digests(settings) == (0, 0)


def test_register_recognises_a_client_registered_before_there_were_digests(tmp_path: Path) -> None:
    application = case_database(tmp_path)
    reference = new_case(application, bsn="123456782")
    engine = make_engine(application.settings.database_url)
    try:
        with engine.begin() as connection:  # as a client from before 0009 whose digest the migration could not make
            connection.execute(text("UPDATE clients SET bsn_digest = NULL"))
    finally:
        engine.dispose()
    refused = weerthuis(cli_env(tmp_path), *REGISTER, "123456782")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"Dit BSN staat al bij zaak {reference}" in refused.stderr


# No Prefect server --------------------------------------------------------------------------------------------------

PREFECT_COMMANDS = [
    ["start", "WT-2026-0001"],
    ["mail-server", "--host", "smtp.example.nl"],
    ["zaaksysteem", "--block", "zgw-emmen", "--url", "https://example.nl/zaken/api/v1", "--client-id", "weerthuis"],
    ["corporatie-api", "--block", "corporatie-domesta", "--url", "https://example.nl/api/v1"],
    ["zorgaanbieder-api", "--block", "zorgaanbieder-vnn", "--url", "https://example.nl/api/v1"],
    ["e-ondertekening", "--block", "e-ondertekening-emmen", "--url", "https://example.nl/api/v1"],
]
SECRETS = {
    "WEERTHUIS_SMTP_PASSWORD": "x",
    "WEERTHUIS_ZGW_SECRET": "x",
    "WEERTHUIS_CORPORATION_API_KEY": "x",
    "WEERTHUIS_CARE_API_KEY": "x",
    "WEERTHUIS_ESIGN_TOKEN": "x",
    "WEERTHUIS_ESIGN_WEBHOOK_SECRET": "x",
}


@pytest.mark.parametrize("command", PREFECT_COMMANDS, ids=lambda c: c[0])
def test_a_command_that_talks_to_prefect_without_its_address_says_what_to_set(
    tmp_path: Path, command: list[str]
) -> None:
    result = weerthuis(cli_env(tmp_path, **SECRETS), *command, timeout=60)  # Prefect's own server would take 30 s+
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "Fout: PREFECT_API_URL is niet gezet" in result.stderr
    assert "export PREFECT_API_URL=http://127.0.0.1:4200/api" in result.stderr
    assert "ephemeral" not in result.stderr


def test_start_with_a_server_that_does_not_answer_says_so_in_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/api"
    result = weerthuis(cli_env(tmp_path, PREFECT_API_URL=url), "start", "WT-2026-0001", timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith(f"Fout: De Prefect-server op {url} antwoordt niet")


# A case's run that is not this case's -------------------------------------------------------------------------------


@flow(name="outflow-case")
def outflow_stand_in(zaakreferentie: str, regio: str) -> None:
    """Only its name and parameters matter: runs are made through the API, never executed here."""


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[str]:
    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


def case_database(data_dir: Path) -> App:
    return build(Settings(data_dir=data_dir), migrate=True)


def new_case(application: App, bsn: str | None = None) -> str:
    return register_client(
        application,
        region="emmen",
        institution="MO",
        care_provider="leger-des-heils",
        origin="Emmen",
        reason="dakloos",
        region_tie=True,
        household=1,
        wishes="",
        registered_by="EMM-TB-01",
        name="Test Cliënt",
        bsn=bsn,
        birth_date=None,
        phone=None,
        email=None,
    )


def make_run(reference: str, tags: list[str]) -> str:
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(
            outflow_stand_in, parameters={"zaakreferentie": reference, "regio": "emmen"}, tags=tags
        )
    return str(run.id)


def test_start_refuses_a_remembered_run_of_another_case_database_or_case(tmp_path: Path, prefect_api: str) -> None:
    application = case_database(tmp_path)
    reference = new_case(application)
    ours = database_tag(application.casework.database_id())
    env = cli_env(tmp_path, PREFECT_API_URL=prefect_api)

    # The case database remembers a run made for another case database (a copied flow_run_id, say): refused.
    foreign = make_run(reference, ["regio:emmen", "zaakdb:0123456789ab"])
    application.casework.attach_run(reference, foreign)
    result = weerthuis(env, "start", reference)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"Fout: Run {foreign} van {reference} hoort bij een andere zaakdatabase (zaakdb:0123456789ab" in (
        result.stderr
    )

    # A run of another case: refused.
    other_case = make_run("WT-2026-0999", ["regio:emmen", ours])
    application.casework.attach_run(reference, other_case)
    result = weerthuis(env, "start", reference)
    assert result.returncode == 2 and f"hoort bij zaak WT-2026-0999, niet bij {reference}" in result.stderr

    # A run that is not on this server: refused, asking whether PREFECT_API_URL is the right server.
    application.casework.attach_run(reference, "00000000-0000-4000-8000-000000000000")
    result = weerthuis(env, "start", reference)
    assert result.returncode == 2 and "staat niet op de Prefect-server" in result.stderr, result.stderr

    # Its own run (tagged with this database, or without a tag as the UI's Custom run makes it) is the answer.
    for tags in (["regio:emmen", ours], ["regio:emmen"]):
        own = make_run(reference, tags)
        application.casework.attach_run(reference, own)
        result = weerthuis(env, "start", reference)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"{reference}: run {own}"


def test_a_flow_can_refuse_a_run_made_for_another_case_database(tmp_path: Path) -> None:
    casework = case_database(tmp_path).casework
    ours = database_tag(casework.database_id())
    check_case_database(["regio:emmen", ours], casework)
    check_case_database(["regio:emmen"], casework)  # the UI's Custom run carries no database tag
    with pytest.raises(OtherCaseDatabase, match="zaakdb:0123456789ab"):
        check_case_database(["regio:emmen", "zaakdb:0123456789ab"], casework)


def test_every_case_database_has_its_own_identity(tmp_path: Path) -> None:
    first, second = case_database(tmp_path / "a").casework, case_database(tmp_path / "b").casework
    assert first.database_id() != second.database_id()
    assert case_database(tmp_path / "a").casework.database_id() == first.database_id()  # made once, kept
    engine = make_engine(Settings(data_dir=tmp_path / "a").database_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(CaseDatabase)).scalar_one() == 1
    finally:
        engine.dispose()


def test_a_broken_region_file_is_one_dutch_line_naming_file_and_line(tmp_path: Path) -> None:
    regions = tmp_path / "regions"
    regions.mkdir()
    shipped = (REPO / "config" / "regions" / "emmen.yaml").read_text(encoding="utf-8")
    (regions / "emmen.yaml").write_text(shipped.replace("refusal_limit: 2\n", "refusal_limit: 2\nrefusal_limit: 3\n"))
    result = weerthuis(cli_env(tmp_path / "data", WEERTHUIS_REGIONS_DIR=str(regions)), "show", "WT-2026-0001")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(r"^Fout: .*emmen\.yaml:\d+: sleutel 'refusal_limit' komt dubbel voor", result.stderr, re.M)
