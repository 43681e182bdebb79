"""Erasing a client's personal data, and the log of who opened it, on SQLite and PostgreSQL: every personal value
gone from every table while the case, its history, its mails and the monitor's figures stay as they were; an open
case only when forced; and `weerthuis show --personal`, `erase` and `access-log` on the command line."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from cryptography.fernet import Fernet
from sqlalchemy import MetaData, Table, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.conftest import Clock
from tests.integration.helpers import offer, review, sign_lease, zrm
from tests.integration.test_cli import REGISTER, case_database, cli_env, weerthuis
from weerthuis.casedb.engine import make_engine
from weerthuis.casedb.migrate import alembic_config, upgrade
from weerthuis.casedb.models import CaseMilestones, Client, OutboxMail, Transition
from weerthuis.domain.stages import Stage
from weerthuis.domain.vocabulary import (
    InstitutionType,
    NominationAnswer,
    OfferAnswer,
    ReadinessVerdict,
    ReviewOutcome,
    WmoDecision,
)
from weerthuis.monitor.figures import MonitorFigures, compute
from weerthuis.personal import bsn_digest
from weerthuis.service.casework import Casework
from weerthuis.service.errors import CaseStillOpen, InvalidAnswer, SameBsn, UnknownDecider
from weerthuis.service.privacy import ERASED, PersonalDataUse

KEY = Fernet.generate_key()
COORDINATOR, CASE_MANAGER, CONSULTANT = "EMM-TP-01", "EMM-TB-01", "EMM-DOM-01"


@dataclass(frozen=True)
class Person:
    name: str
    bsn: str
    born: date
    phone: str
    email: str
    origin: str
    reason: str
    wishes: str


MARIEKE = Person(
    name="Marieke Zwaagstra",
    bsn="123456782",
    born=date(1979, 5, 17),
    phone="06-41234567",
    email="marieke.zwaagstra@voorbeeld.nl",
    origin="Tynaarlo",
    reason="na scheiding uit de huurwoning aan de Dorpsstraat gezet",
    wishes="benedenwoning dicht bij dochter Fenna",
)
HENK = Person(
    name="Henk Brouwer",
    bsn="111222333",
    born=date(1964, 11, 3),
    phone="06-98765432",
    email="h.brouwer@voorbeeld.nl",
    origin="Borger-Odoorn",
    reason="nachtopvang na ontslag uit detentie",
    wishes="rustige straat, geen trappen",
)


def register(casework: Casework, person: Person) -> str:
    return casework.register(
        region="emmen",
        institution_type=InstitutionType.SOCIAL_SHELTER,
        care_provider="leger-des-heils",
        origin_municipality=person.origin,
        registration_reason=person.reason,
        region_tie=True,
        household_size=1,
        housing_wishes=person.wishes,
        registered_by=CASE_MANAGER,
        client=Client(
            full_name=person.name,
            bsn_encrypted=Fernet(KEY).encrypt(person.bsn.encode()),
            bsn_digest=bsn_digest(KEY, person.bsn),
            date_of_birth=person.born,
            phone=person.phone,
            email=person.email,
            consent_on=casework.today(),
        ),
    )


def later(clock: Clock, days: int = 9) -> None:
    clock.now += timedelta(days=days)


def housed_and_closed(casework: Casework, clock: Clock, person: Person) -> str:
    """From registration to closed as housed, days apart, so the monitor has flow, lead times and outcomes."""
    ref = register(casework, person)
    casework.start_assessment(ref)
    later(clock)
    casework.record_assessment(ref, 1, zrm(casework.today()))
    casework.decide_readiness(ref, 1, ReadinessVerdict.READY, COORDINATOR)
    later(clock)
    casework.propose_nomination(ref, 1, "domesta", COORDINATOR)
    casework.answer_nomination(ref, 1, NominationAnswer.ACCEPTED, CONSULTANT)
    later(clock)
    offer(casework, ref, 1)
    casework.answer_offer(ref, 1, OfferAnswer.ACCEPTED, CASE_MANAGER)
    later(clock)
    sign_lease(casework, ref)
    casework.arrange_support(
        ref,
        1,
        wmo_decision=WmoDecision.GRANTED,
        provider="leger-des-heils",
        starts_on=casework.today(),
        plan_agreed=True,
        decided_by=CASE_MANAGER,
    )
    later(clock)
    review(casework, ref, 1, ReviewOutcome.CLOSE_HOUSED)
    assert casework.view(ref).stage is Stage.CLOSED
    return ref


def withdrawn(casework: Casework, person: Person) -> str:
    ref = register(casework, person)
    casework.start_assessment(ref)
    casework.record_assessment(ref, 1, zrm(casework.today()))
    casework.decide_readiness(ref, 1, ReadinessVerdict.WITHDRAWN, COORDINATOR)
    assert casework.view(ref).stage is Stage.WITHDRAWN
    return ref


def every_value(casework: Casework) -> list[tuple[str, str, Any]]:
    """(table, column, value) of every value in every table, as the database has them (not as the models say)."""
    found = []
    with casework._uow() as uow:
        connection = uow.session.connection()
        for name in inspect(connection).get_table_names():
            table = Table(name, MetaData(), autoload_with=connection)
            for row in connection.execute(select(table)).mappings():
                found += [(name, column, value) for column, value in row.items() if value is not None]
    return found


def client_secrets(casework: Casework, person: Person) -> tuple[bytes, str]:
    """The person's BSN ciphertext and digest as stored, to look for them everywhere too."""
    with casework._uow() as uow:
        client = uow.session.execute(select(Client).filter_by(email=person.email)).scalar_one()
        assert client.bsn_encrypted is not None and client.bsn_digest is not None
        return bytes(client.bsn_encrypted), client.bsn_digest


def traces(casework: Casework, person: Person, ciphertext: bytes, digest: str) -> set[tuple[str, str]]:
    """Where any of the person's values still stands: (table.column, what)."""
    wanted = {
        "naam": person.name,
        "bsn": person.bsn,
        "bsn-digest": digest,
        "geboortedatum": person.born.isoformat(),
        "telefoon": person.phone,
        "e-mail": person.email,
        "herkomst": person.origin,
        "reden": person.reason,
        "woonwensen": person.wishes,
    }
    found = set()
    for table, column, value in every_value(casework):
        if isinstance(value, bytes | memoryview):
            if ciphertext in bytes(value):
                found.add((f"{table}.{column}", "bsn-versleuteld"))
            value = bytes(value).decode("latin-1")
        elif isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False, default=str)
        found |= {(f"{table}.{column}", what) for what, personal in wanted.items() if personal in str(value)}
    return found


EVERYWHERE_BEFORE = {
    ("clients.full_name", "naam"),
    ("clients.bsn_encrypted", "bsn-versleuteld"),
    ("clients.bsn_digest", "bsn-digest"),
    ("clients.date_of_birth", "geboortedatum"),
    ("clients.phone", "telefoon"),
    ("clients.email", "e-mail"),
    ("cases.origin_municipality", "herkomst"),
    ("cases.registration_reason", "reden"),
    ("cases.housing_wishes", "woonwensen"),
}


def figures(casework: Casework) -> MonitorFigures:
    with casework._uow() as uow:
        return compute(uow.session, "emmen", date(2026, 1, 1), date(2026, 12, 31), today=casework.today())


def what_stays(casework: Casework, ref: str) -> tuple[Any, ...]:
    """The case as Prefect-facing code and the monitor see it, its milestones, its history and its mails."""
    with casework._uow() as uow:
        view = casework.view(ref)
        case_id = uow.case(ref).id
        milestones = uow.session.get_one(CaseMilestones, case_id)
        transitions = uow.session.execute(select(Transition).filter_by(case_id=case_id).order_by(Transition.seq))
        mails = uow.session.execute(select(OutboxMail).filter_by(case_id=case_id).order_by(OutboxMail.id))
        return (
            view,
            {c.key: getattr(milestones, c.key) for c in CaseMilestones.__table__.columns},
            [(t.seq, t.event, t.from_stage, t.to_stage, t.decided_by, t.at, t.reason) for t in transitions.scalars()],
            [(m.key, m.address, m.subject, m.text_body, m.html_body, m.status) for m in mails.scalars()],
        )


# Erasing ------------------------------------------------------------------------------------------------------------


def test_erasing_removes_every_personal_value_from_every_table_and_keeps_the_case(
    any_casework: Casework, clock: Clock
) -> None:
    casework = any_casework
    ref = housed_and_closed(casework, clock, MARIEKE)
    other = withdrawn(casework, HENK)
    mine, others = client_secrets(casework, MARIEKE), client_secrets(casework, HENK)
    # The scan finds what it looks for, and only where the registration put it: no mail, action or history line.
    assert traces(casework, MARIEKE, *mine) == EVERYWHERE_BEFORE
    kept = what_stays(casework, ref)

    assert casework.erase_client(ref, decided_by=COORDINATOR, reason="bewaartermijn verstreken") is True

    assert traces(casework, MARIEKE, *mine) == set()
    assert traces(casework, HENK, *others) == EVERYWHERE_BEFORE  # the other client is untouched
    assert what_stays(casework, ref) == kept
    data = casework.open_personal_data(ref, requested_by=COORDINATOR, purpose="controle na wissen")
    assert (data.full_name, data.bsn_encrypted, data.date_of_birth, data.phone, data.email) == (ERASED, *[None] * 4)
    assert (data.origin_municipality, data.registration_reason, data.housing_wishes) == (ERASED,) * 3
    assert data.erased_at == clock.now and data.consent_on is not None
    assert casework.view(other).stage is Stage.WITHDRAWN


def test_the_monitor_counts_the_same_before_and_after_erasing(any_casework: Casework, clock: Clock) -> None:
    casework = any_casework
    refs = [housed_and_closed(casework, clock, MARIEKE), withdrawn(casework, HENK)]
    before = figures(casework)
    assert before.flow["registered"] == 2 and before.flow["housed"] == 1 and before.outcomes["withdrawn"] == 1
    assert any(lead.cases for lead in before.lead_times)
    for ref in refs:
        casework.erase_client(ref, decided_by=COORDINATOR, reason="verzoek van de cliënt")
    assert figures(casework) == before


def test_an_open_case_is_erased_only_when_forced(any_casework: Casework, clock: Clock) -> None:
    casework = any_casework
    ref = register(casework, MARIEKE)
    casework.start_assessment(ref)
    secrets = client_secrets(casework, MARIEKE)
    with pytest.raises(CaseStillOpen, match=f"Zaak {ref} is nog open \\(woonvaardigheid\\); persoonsgegevens"):
        casework.erase_client(ref, decided_by=COORDINATOR, reason="verzoek van de cliënt")
    assert traces(casework, MARIEKE, *secrets) == EVERYWHERE_BEFORE
    assert casework.access_log(ref) == []

    assert casework.erase_client(ref, decided_by=COORDINATOR, reason="verzoek van de cliënt", force=True)
    assert traces(casework, MARIEKE, *secrets) == set()
    (line,) = casework.access_log(ref)
    assert line.purpose == "verzoek van de cliënt (zaak nog open: woonvaardigheid)"
    # The case goes on without the personal data: it still waits on its ZRM.
    assert casework.view(ref).stage is Stage.READINESS and casework.view(ref).is_waiting


def test_erasing_twice_changes_and_logs_nothing_more(any_casework: Casework) -> None:
    casework = any_casework
    ref = withdrawn(casework, MARIEKE)
    assert casework.erase_client(ref, decided_by=COORDINATOR, reason="bewaartermijn verstreken") is True
    assert casework.erase_client(ref, decided_by="EMM-TP-02", reason="nogmaals", force=True) is False
    assert [(line.what, line.accessed_by) for line in casework.access_log(ref)] == [
        (PersonalDataUse.ERASE, COORDINATOR)
    ]


def test_only_a_coordinator_of_the_region_erases_and_says_why(any_casework: Casework) -> None:
    casework = any_casework
    ref = withdrawn(casework, MARIEKE)
    for who in (CASE_MANAGER, CONSULTANT, "FRL-TP-01", "ONBEKEND"):
        with pytest.raises(UnknownDecider, match=f"'{who}' is geen coördinator"):
            casework.erase_client(ref, decided_by=who, reason="bewaartermijn verstreken")
    with pytest.raises(InvalidAnswer, match="Geef de reden op"):
        casework.erase_client(ref, decided_by=COORDINATOR, reason="  ")
    assert casework.access_log(ref) == []
    assert traces(casework, MARIEKE, *client_secrets(casework, MARIEKE)) == EVERYWHERE_BEFORE


def test_after_erasing_the_same_bsn_is_registered_without_a_warning(any_casework: Casework) -> None:
    casework = any_casework
    ref = withdrawn(casework, MARIEKE)
    with pytest.raises(SameBsn):
        register(casework, MARIEKE)
    casework.erase_client(ref, decided_by=COORDINATOR, reason="verzoek van de cliënt")
    assert register(casework, MARIEKE) != ref  # nothing left that ties the earlier case to this person


# The access log -----------------------------------------------------------------------------------------------------


def test_the_access_log_records_who_opened_and_erased_personal_data_when_and_why(
    any_casework: Casework, clock: Clock
) -> None:
    casework = any_casework
    ref, other = withdrawn(casework, MARIEKE), withdrawn(casework, HENK)
    data = casework.open_personal_data(ref, requested_by=CASE_MANAGER, purpose="bellen over woning", os_user="sanne")
    assert (data.full_name, data.phone) == (MARIEKE.name, MARIEKE.phone)
    assert Fernet(KEY).decrypt(data.bsn_encrypted or b"").decode() == MARIEKE.bsn
    later(clock, 1)
    casework.erase_client(ref, decided_by=COORDINATOR, reason="bewaartermijn verstreken", os_user="ineke")
    casework.open_personal_data(other, requested_by=COORDINATOR, purpose="controle aanmelding")

    shown_at = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)  # 9:30 Dutch (winter) time
    assert [
        (line.at, line.reference, line.what, line.accessed_by, line.os_user, line.purpose)
        for line in casework.access_log(ref)
    ] == [
        (shown_at, ref, PersonalDataUse.SHOW, CASE_MANAGER, "sanne", "bellen over woning"),
        (shown_at + timedelta(days=1), ref, PersonalDataUse.ERASE, COORDINATOR, "ineke", "bewaartermijn verstreken"),
    ]
    assert [(line.reference, line.what) for line in casework.access_log()] == [
        (ref, PersonalDataUse.SHOW),
        (ref, PersonalDataUse.ERASE),
        (other, PersonalDataUse.SHOW),
    ]
    # Opening data already erased shows nothing personal, so nothing is logged.
    casework.open_personal_data(ref, requested_by=COORDINATOR, purpose="nog eens kijken")
    assert len(casework.access_log(ref)) == 2


def test_personal_data_is_opened_only_by_staff_of_the_region_who_say_what_for(any_casework: Casework) -> None:
    casework = any_casework
    ref = register(casework, MARIEKE)
    for who in (CONSULTANT, "FRL-TB-01", "ONBEKEND"):
        with pytest.raises(UnknownDecider, match=f"'{who}' is geen trajectbegeleider"):
            casework.open_personal_data(ref, requested_by=who, purpose="nieuwsgierig")
    with pytest.raises(InvalidAnswer, match="Geef op waarvoor"):
        casework.open_personal_data(ref, requested_by=COORDINATOR, purpose="")
    assert casework.access_log() == []


def test_the_access_log_is_append_only(any_casework: Casework) -> None:
    casework = any_casework
    ref = register(casework, MARIEKE)
    casework.open_personal_data(ref, requested_by=COORDINATOR, purpose="controle aanmelding")
    for statement in ("UPDATE personal_data_access SET purpose = 'niets'", "DELETE FROM personal_data_access"):
        with casework._uow() as uow, pytest.raises((IntegrityError, DBAPIError), match="append-only"):
            uow.session.execute(text(statement))
    assert len(casework.access_log(ref)) == 1


@pytest.mark.parametrize("database", ["sqlite_url", "postgres_url"])
def test_migration_0011_goes_down_to_0010_and_up_again(request: pytest.FixtureRequest, database: str) -> None:
    engine = make_engine(request.getfixturevalue(database))
    try:
        upgrade(engine)
        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0010")
            assert "personal_data_access" not in inspect(connection).get_table_names()
        upgrade(engine)
        with engine.connect() as connection:
            assert "personal_data_access" in inspect(connection).get_table_names()
    finally:
        engine.dispose()


# The command line ---------------------------------------------------------------------------------------------------

PERSONAL = ["--phone", MARIEKE.phone, "--email", MARIEKE.email, "--birth-date", MARIEKE.born.isoformat()]


def test_show_prints_personal_data_only_with_personal_and_logs_each_time(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    registered = weerthuis(env, *REGISTER, MARIEKE.bsn, *PERSONAL, "--wishes", MARIEKE.wishes)
    assert registered.returncode == 0, registered.stderr
    ref = registered.stdout.strip()

    plain = weerthuis(env, "show", ref)
    assert plain.returncode == 0, plain.stderr
    assert "Jan Testpersoon" not in plain.stdout and MARIEKE.bsn not in plain.stdout
    assert MARIEKE.phone not in plain.stdout and "Persoonsgegevens" not in plain.stdout

    for incomplete in (["--personal"], ["--personal", "--by", COORDINATOR], ["--by", COORDINATOR]):
        refused = weerthuis(env, "show", ref, *incomplete)
        assert refused.returncode == 2 and refused.stderr.startswith("Fout: "), refused.stdout + refused.stderr
        assert refused.stdout == ""
    stranger = weerthuis(env, "show", ref, "--personal", "--by", CONSULTANT, "--purpose", "nieuwsgierig")
    assert stranger.returncode == 2 and f"Fout: '{CONSULTANT}' is geen trajectbegeleider" in stranger.stderr
    assert "Jan Testpersoon" not in stranger.stdout + stranger.stderr
    assert "Geen inzage of wissen van persoonsgegevens vastgelegd" in weerthuis(env, "access-log", ref).stdout

    shown = weerthuis(env, "show", ref, "--personal", "--by", CASE_MANAGER, "--purpose", "bellen over bezichtiging")
    assert shown.returncode == 0, shown.stderr
    for value in ("Jan Testpersoon", MARIEKE.bsn, MARIEKE.phone, MARIEKE.email, "17-05-1979", MARIEKE.wishes):
        assert value in shown.stdout
    assert "Persoonsgegevens (deze inzage is vastgelegd)" in shown.stdout and f"Zaak {ref}" in shown.stdout

    log = weerthuis(env, "access-log", ref)
    assert log.returncode == 0, log.stderr
    (line,) = log.stdout.splitlines()[1:]
    assert re.match(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d  {ref}  inzage   {CASE_MANAGER}", line), line
    assert line.endswith("bellen over bezichtiging") and "Jan Testpersoon" not in log.stdout
    assert log.stdout.startswith("tijd (UTC)")


def test_erase_refuses_an_open_case_without_force_then_erases_and_access_log_shows_it(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    registered = weerthuis(env, *REGISTER, MARIEKE.bsn, *PERSONAL)
    assert registered.returncode == 0, registered.stderr
    ref = registered.stdout.strip()

    still_open = weerthuis(env, "erase", ref, "--by", COORDINATOR, "--reason", "verzoek van de cliënt")
    assert still_open.returncode == 2, still_open.stdout + still_open.stderr
    assert f"Fout: Zaak {ref} is nog open (aanmelding)" in still_open.stderr and "--force" in still_open.stderr
    assert "Traceback" not in still_open.stderr
    not_coordinator = weerthuis(env, "erase", ref, "--by", CASE_MANAGER, "--reason", "verzoek", "--force")
    assert not_coordinator.returncode == 2 and f"Fout: '{CASE_MANAGER}' is geen coördinator" in not_coordinator.stderr
    unknown = weerthuis(env, "erase", "WT-2026-0999", "--by", COORDINATOR, "--reason", "verzoek")
    assert unknown.returncode == 2 and "Fout: Zaak WT-2026-0999 bestaat niet" in unknown.stderr

    casework = case_database(tmp_path).casework  # the case ends: withdrawn at its assessment
    casework.start_assessment(ref)
    casework.record_assessment(ref, 1, zrm(casework.today()))
    casework.decide_readiness(ref, 1, ReadinessVerdict.WITHDRAWN, COORDINATOR)

    erased = weerthuis(env, "erase", ref, "--by", COORDINATOR, "--reason", "bewaartermijn verstreken")
    assert erased.returncode == 0, erased.stderr
    assert erased.stdout.startswith(f"Zaak {ref}: persoonsgegevens gewist")
    again = weerthuis(env, "erase", ref, "--by", COORDINATOR, "--reason", "bewaartermijn verstreken")
    assert again.returncode == 0 and "waren al gewist; niets veranderd" in again.stdout, again.stderr

    shown = weerthuis(env, "show", ref, "--personal", "--by", COORDINATOR, "--purpose", "controle")
    assert shown.returncode == 0, shown.stderr
    assert "Persoonsgegevens: gewist op" in shown.stdout and "Jan Testpersoon" not in shown.stdout
    assert MARIEKE.bsn not in shown.stdout and MARIEKE.phone not in shown.stdout

    log = weerthuis(env, "access-log")
    assert log.returncode == 0, log.stderr
    (line,) = log.stdout.splitlines()[1:]
    assert f"{ref}  gewist   {COORDINATOR}" in line and line.endswith("bewaartermijn verstreken")
    assert weerthuis(env, "access-log", "WT-2026-0999").returncode == 2
