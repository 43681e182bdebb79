"""Command line: migrate the case database, register a client, show a case, start its run, run the demo."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.settings import Settings

if TYPE_CHECKING:
    from weerthuis.bootstrap import App
    from weerthuis.service.privacy import PersonalData


def _app(migrate: bool = True) -> App:
    from weerthuis.bootstrap import build

    return build(Settings(), migrate=migrate)


def fill_bsn_digests(settings: Settings) -> tuple[int, int]:
    """Digests for clients registered before there were any (migration 0009 without the key at hand): (filled,
    not readable with this key). Nothing without a BSN key."""
    from weerthuis.casedb.engine import make_engine
    from weerthuis.personal import fill_bsn_digests as fill
    from weerthuis.personal import stored_bsn_key

    key = stored_bsn_key(settings)
    if key is None:
        return 0, 0
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as connection:
            return fill(connection, key)
    finally:
        engine.dispose()


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = Settings()
    _app(migrate=True)
    print(f"Zaakdatabase bijgewerkt: {settings.database_url.split('@')[-1]}")
    filled, unreadable = fill_bsn_digests(settings)
    if filled:
        print(f"BSN-zoeksleutel aangevuld voor {filled} cliënten.")
    if unreadable:
        print(
            f"Let op: het BSN van {unreadable} cliënten is met deze BSN-sleutel niet te lezen; zij worden bij een "
            "nieuwe aanmelding niet herkend. Draai `weerthuis migrate` met de juiste WEERTHUIS_BSN_KEY.",
            file=sys.stderr,
        )
    return 0


def register_client(
    application: App,
    *,
    region: str,
    institution: str,
    care_provider: str,
    origin: str,
    reason: str,
    region_tie: bool,
    household: int,
    wishes: str,
    registered_by: str,
    name: str,
    bsn: str | None,
    birth_date: date | None,
    phone: str | None,
    email: str | None,
    allow_same_bsn: bool = True,
) -> str:
    """Register personal data in the case database (never in Prefect) and open the case.

    With `allow_same_bsn=False` a BSN an earlier case already has is refused (casework.SameBsn); `weerthuis
    register` passes it unless `--toch`. The default keeps this helper's earlier behaviour for its other callers.
    """
    from weerthuis.casedb.models import Client
    from weerthuis.domain.bsn import normalise_bsn
    from weerthuis.domain.vocabulary import InstitutionType
    from weerthuis.personal import bsn_digest, bsn_key

    encrypted = digest = None
    if bsn:
        from cryptography.fernet import Fernet

        number, key = normalise_bsn(bsn), bsn_key(application.settings)
        encrypted, digest = Fernet(key).encrypt(number.encode()), bsn_digest(key, number)
    client = Client(
        full_name=name,
        bsn_encrypted=encrypted,
        bsn_digest=digest,
        date_of_birth=birth_date,
        phone=phone,
        email=email,
        consent_on=application.casework.today(),
    )
    return application.casework.register(
        region=region,
        institution_type=InstitutionType(institution),
        care_provider=care_provider,
        origin_municipality=origin,
        registration_reason=reason,
        region_tie=region_tie,
        household_size=household,
        housing_wishes=wishes,
        registered_by=registered_by,
        client=client,
        allow_same_bsn=allow_same_bsn,
    )


def cmd_register(args: argparse.Namespace) -> int:
    from weerthuis.service.errors import SameBsn

    application = _app()
    if args.bsn:
        fill_bsn_digests(application.settings)  # clients from before the digest are recognised too

    def register(allow_same_bsn: bool) -> str:
        return register_client(
            application,
            region=args.region,
            institution=args.institution,
            care_provider=args.care_provider,
            origin=args.origin,
            reason=args.reason,
            region_tie=args.region_tie,
            household=args.household,
            wishes=args.wishes,
            registered_by=args.by,
            name=args.name,
            bsn=args.bsn,
            birth_date=date.fromisoformat(args.birth_date) if args.birth_date else None,
            phone=args.phone,
            email=args.email,
            allow_same_bsn=allow_same_bsn,
        )

    try:
        reference = register(allow_same_bsn=False)
    except SameBsn as same:
        if not args.toch:
            print(
                f"Let op: {same} Controleer of het om dezelfde persoon gaat; is een tweede zaak echt nodig, meld dan "
                "aan met --toch.",
                file=sys.stderr,
            )
            return 2
        reference = register(allow_same_bsn=True)
        print(
            f"Let op: dit BSN staat al bij zaak {same.listed}; toch aangemeld als nieuwe zaak {reference} (--toch).",
            file=sys.stderr,
        )
    print(reference)
    return 0


def _os_user() -> str | None:
    """The account running this command, for the access log beside the staff code given."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def _bsn_text(encrypted: bytes | None, settings: Settings) -> str:
    from cryptography.fernet import Fernet, InvalidToken

    from weerthuis.personal import stored_bsn_key

    if encrypted is None:
        return "—"
    key = stored_bsn_key(settings)
    if key is None:
        return "(versleuteld; de BSN-sleutel is hier niet)"
    try:
        return Fernet(key).decrypt(bytes(encrypted)).decode()
    except InvalidToken:
        return "(niet te lezen met deze BSN-sleutel)"


def personal_details(data: PersonalData, settings: Settings) -> str:
    """The client's personal data as `weerthuis show --personal` prints it."""
    if data.erased_at is not None:
        return f"Persoonsgegevens: gewist op {data.erased_at:%d-%m-%Y %H:%M} (Nederlandse tijd)."

    def either(value: object) -> str:
        if value is None or value == "":
            return "—"
        return f"{value:%d-%m-%Y}" if isinstance(value, date) else str(value)

    rows = [
        ("Naam", either(data.full_name)),
        ("BSN", _bsn_text(data.bsn_encrypted, settings)),
        ("Geboortedatum", either(data.date_of_birth)),
        ("Telefoon", either(data.phone)),
        ("E-mail", either(data.email)),
        ("Herkomst (gemeente)", either(data.origin_municipality)),
        ("Reden van aanmelding", either(data.registration_reason)),
        ("Woonwensen", either(data.housing_wishes)),
        ("Toestemming gegeven op", either(data.consent_on)),
    ]
    return "\n".join(["Persoonsgegevens (deze inzage is vastgelegd):", *(f"- {k}: {v}" for k, v in rows)])


def cmd_show(args: argparse.Namespace) -> int:
    """The pseudonymous summary and history; with --personal also the client's personal data, logged with who
    asked and what for."""
    from flows.summary import case_history, case_summary

    if not args.personal and (args.by or args.purpose):
        print(
            "Fout: --by en --purpose horen bij --personal; zonder --personal toont show geen persoonsgegevens.",
            file=sys.stderr,
        )
        return 2
    if args.personal and not (args.by and args.purpose):
        print(
            "Fout: bij --personal zijn --by (uw medewerkerscode) en --purpose (waarvoor u de gegevens inziet) "
            "verplicht; de inzage wordt vastgelegd.",
            file=sys.stderr,
        )
        return 2
    application = _app()
    case = application.casework.view(args.reference)
    personal = None
    if args.personal:
        personal = application.casework.open_personal_data(
            case.reference, requested_by=args.by, purpose=args.purpose, os_user=_os_user()
        )
    print(case_summary(case, application.regions[case.region]))
    if personal is not None:
        print()
        print(personal_details(personal, application.settings))
    print()
    print(case_history(case))
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    """Erase a client's personal data; the case, its history and the monitor's figures stay."""
    from weerthuis.service.errors import CaseStillOpen

    application = _app()
    try:
        erased = application.casework.erase_client(
            args.reference, decided_by=args.by, reason=args.reason, force=args.force, os_user=_os_user()
        )
    except CaseStillOpen as still_open:
        print(f"Fout: {still_open} Moet het toch nu, wis dan met --force.", file=sys.stderr)
        return 2
    if erased:
        print(
            f"Zaak {args.reference}: persoonsgegevens gewist (naam, BSN, geboortedatum, telefoon, e-mail, herkomst, "
            "reden van aanmelding, woonwensen). De zaak, haar verloop en de cijfers van de monitor blijven."
        )
    else:
        print(f"Zaak {args.reference}: de persoonsgegevens waren al gewist; niets veranderd.")
    return 0


# The columns of `weerthuis access-log --csv`: the personal data access log and the access events, merged in time.
ACCESS_CSV_COLUMNS = ("tijd_utc", "zaak", "wat", "door", "account", "reden/doel", "adres")


@dataclass(frozen=True)
class _AccessRow:
    """One line of `weerthuis access-log`: a use of personal data (casework.AccessLine) or an access event
    (accesslog.AccessEventLine), in the columns of the printout and the CSV."""

    at: datetime  # UTC
    reference: str | None
    what: str  # the Dutch label
    who: str
    account: str | None  # the OS account that ran a command (personal data log only)
    reason: str
    address: str | None  # the client's IP address (access events only)
    event: bool


def _access_rows(application: App, reference: str | None) -> list[_AccessRow]:
    """Both logs, oldest first (a use of personal data before an event of the same moment). For one case: its uses of
    personal data and the events naming its reference; an unknown reference is refused (UnknownCase) unless events
    name it (a refused attempt on a run whose case is unknown)."""
    from weerthuis import accesslog
    from weerthuis.casedb.uow import UnknownCase

    events = accesslog.events(application.casework, reference)
    try:
        uses = application.casework.access_log(reference)
    except UnknownCase:
        if not events:
            raise
        uses = []
    rows = [
        _AccessRow(u.at, u.reference, u.what.label, u.accessed_by, u.os_user, u.purpose, None, event=False)
        for u in uses
    ]
    rows += [
        _AccessRow(e.at, e.reference, e.kind.value, e.who, None, e.reason or "", e.address, event=True) for e in events
    ]
    return sorted(rows, key=lambda row: row.at)  # stable: each log keeps its own order


def _write_access_csv(path: Path, rows: list[_AccessRow]) -> None:
    import csv

    def cell(value: str | None) -> str:
        # A spreadsheet would read a leading =, +, - or @ as a formula: a reason is text, never one.
        value = value or ""
        return f"'{value}" if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value

    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(ACCESS_CSV_COLUMNS)
        for row in rows:
            at = f"{row.at:%Y-%m-%dT%H:%M:%SZ}"
            writer.writerow([at, *map(cell, (row.reference, row.what, row.who, row.account, row.reason, row.address))])


def cmd_access_log(args: argparse.Namespace) -> int:
    """Who opened or erased personal data, who logged in or out and who answered a form (and which of those were
    refused), when (UTC) and why: of one case, or of every case; with --csv into a file."""
    application = _app()
    rows = _access_rows(application, args.reference)
    where = f" voor zaak {args.reference}" if args.reference else ""
    if args.csv:
        path = Path(args.csv)
        try:
            _write_access_csv(path, rows)
        except OSError as exc:
            print(f"Fout: {path} is niet te schrijven: {exc.strerror or exc}", file=sys.stderr)
            return 2
        print(f"{len(rows)} regels van het toegangslog{where} geschreven naar {path} (tijd in UTC).")
        return 0
    if not rows:
        print(f"Geen inzage of wissen van persoonsgegevens vastgelegd{where}; ook geen aanmelding of antwoord.")
        return 0

    def who(row: _AccessRow) -> str:
        if row.account:
            return f"{row.who} ({row.account})"
        return f"{row.who} vanaf {row.address}" if row.address else row.who

    # The widths of the personal data log; wider only when an event needs it.
    ref_width = max([12, *(len(row.reference or "—") for row in rows)])
    what_width = max([7, *(len(row.what) for row in rows)])
    who_width = max([24, *(len(who(row)) for row in rows)])
    last = "doel / reden" if any(row.event for row in rows) else "doel"
    print(f"{'tijd (UTC)':<19}  {'zaak':<{ref_width}}  {'wat':<{what_width}}  {'door (account)':<{who_width}}  {last}")
    for row in rows:
        line = (
            f"{row.at:%Y-%m-%d %H:%M:%S}  {row.reference or '—':<{ref_width}}  {row.what:<{what_width}}  "
            f"{who(row):<{who_width}}  {row.reason}"
        )
        print(line.rstrip() if row.event else line)  # an event may have no reason
    return 0


def cmd_token_issue(args: argparse.Namespace) -> int:
    """Issue a service's API token: printed once on stdout (the warning on stderr), kept only as a salted hash."""
    from weerthuis import tokens

    application = _app()
    active = [t for t in tokens.list_tokens(application.casework, args.service) if t.active]
    token = tokens.issue(application.casework, args.service, args.by)
    prefix = token.split("_")[1]
    print(
        f"Token voor dienst {args.service} uitgegeven (prefix {prefix}).\n"
        "Let op: het token wordt alleen nu getoond; de zaakdatabase bewaart alleen een hash ervan. Zet het meteen "
        "in de geheimen van de dienst (nooit in git, een ticket of een mail). Kwijt? Trek het in met `weerthuis token "
        f"revoke {prefix}` en geef een nieuw uit.",
        file=sys.stderr,
    )
    if active:
        print(
            f"Let op: dienst {args.service} heeft nog {len(active)} ander actief token "
            f"({', '.join(t.prefix for t in active)}); trek het in zodra het nieuwe in gebruik is.",
            file=sys.stderr,
        )
    print(token)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    """Every token issued, with its service, who issued it, its last use and whether it was revoked; never a secret."""
    from weerthuis import tokens

    listed = tokens.list_tokens(_app().casework)
    if not listed:
        print("Nog geen tokens uitgegeven.")
        return 0

    def moment(at: datetime | None) -> str:
        return f"{at:%Y-%m-%d %H:%M}" if at else "—"

    print(f"{'prefix':<8}  {'dienst':<24}  {'uitgegeven (UTC)':<16}  {'door':<12}  {'laatst gebruikt':<16}  status")
    for t in listed:
        status = (
            f"ingetrokken {moment(t.revoked_at)} door {t.revoked_by}: {t.revoke_reason}" if t.revoked_at else "actief"
        )
        print(
            f"{t.prefix:<8}  {t.service:<24}  {moment(t.created_at):<16}  {t.created_by:<12}  "
            f"{moment(t.last_used_at):<16}  {status}"
        )
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    """Revoke a token by its prefix, or every active token of a service; the row stays with who, when and why."""
    from weerthuis import tokens

    for t in tokens.revoke(_app().casework, args.token, args.by, args.reason):
        print(f"Token {t.prefix} (dienst {t.service}) ingetrokken door {t.revoked_by}: {t.revoke_reason}")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    """The case's run: the one the case database remembers, else started now under this database's identity; a run
    of another case or another case database is refused (runs.ForeignRun)."""
    from weerthuis.runs import case_run

    application = _app()
    case = application.casework.view(args.reference)
    run = case_run(case, application.casework.database_id())
    application.casework.attach_run(case.reference, str(run.id))
    print(f"{case.reference}: run {run.id}")
    return 0


def cmd_server(args: argparse.Namespace) -> int:
    from weerthuis.server.__main__ import main as serve

    serve(["--host", args.host, "--port", str(args.port)])
    return 0


def cmd_act(args: argparse.Namespace) -> int:
    """Play a counterpart of the local stack (see weerthuis/act.py): its fake answers the case over its API."""
    from weerthuis import act

    fakes = act.Counterparts.of(Settings().data_dir.resolve())
    reference = args.reference
    if args.action == "accept":
        said = act.answer_nomination(fakes, reference)
    elif args.action == "decline":
        said = act.answer_nomination(fakes, reference, decline_reason=args.reason)
    elif args.action == "offer":
        said = act.offer_dwelling(
            fakes,
            reference,
            unit=args.unit,
            neighbourhood=args.neighbourhood,
            rent=args.rent,
            viewing_on=args.viewing or act.default_viewing(),
        )
    elif args.action == "sign":
        said = act.sign_lease(fakes, reference)
    elif args.action == "confirm-support":
        said = act.confirm_support(fakes, reference, args.start or date.today())
    else:
        said = act.grant_wmo(fakes, reference, args.start or date.today())
    print(said)
    if not args.no_wait:
        print(act.take_answers_now())
    return 0


def cmd_mail_server(args: argparse.Namespace) -> int:
    """Save the SMTP server as a Prefect Block; the password comes from WEERTHUIS_SMTP_PASSWORD, never an argument."""
    from pydantic import SecretStr

    from notifications.smtp import SmtpServer

    password = os.environ.get("WEERTHUIS_SMTP_PASSWORD")
    block = SmtpServer(
        host=args.host,
        port=args.port,
        security=args.security,
        username=args.username,
        password=SecretStr(password) if password else None,
        sender=args.sender,
    )
    name = Settings().mail.server_block
    block.save(name, overwrite=True, _sync=True)  # type: ignore[call-arg]
    print(f"Mailserver {args.host}:{args.port} ({args.security}) bewaard als block '{name}'.")
    return 0


def _secret_from(variable: str, what: str) -> str | None:
    value = os.environ.get(variable)
    if not value:
        print(f"Fout: zet {what} in {variable} (nooit als argument).", file=sys.stderr)
    return value


def cmd_zaaksysteem(args: argparse.Namespace) -> int:
    """Save a region's zaaksysteem (ZGW Zaken API) as a Prefect Block; the secret from WEERTHUIS_ZGW_SECRET."""
    from pydantic import SecretStr

    from integrations.zgw import ZgwZakenApi

    secret = _secret_from("WEERTHUIS_ZGW_SECRET", "het gedeelde geheim")
    if not secret:
        return 2
    block = ZgwZakenApi(base_url=args.url, client_id=args.client_id, secret=SecretStr(secret))
    block.save(args.block, overwrite=True, _sync=True)  # type: ignore[call-arg]
    print(f"Zaaksysteem {args.url} bewaard als block '{args.block}'.")
    return 0


def _save_api_key_block(args: argparse.Namespace, kind: str, variable: str, label: str) -> int:
    """Save an API with a key (corporation, care provider) as a Prefect Block; the key from `variable`."""
    from importlib import import_module

    from pydantic import SecretStr

    module, name = kind.rsplit(".", 1)
    key = _secret_from(variable, "de API-sleutel")
    if not key:
        return 2
    block = getattr(import_module(module), name)(base_url=args.url, api_key=SecretStr(key))
    block.save(args.block, overwrite=True, _sync=True)
    print(f"{label} {args.url} bewaard als block '{args.block}'.")
    return 0


def cmd_corporatie_api(args: argparse.Namespace) -> int:
    """Save a corporation's API as a Prefect Block; the key from WEERTHUIS_CORPORATION_API_KEY."""
    return _save_api_key_block(
        args, "integrations.corporation.CorporationApi", "WEERTHUIS_CORPORATION_API_KEY", "Corporatie-API"
    )


def cmd_zorgaanbieder_api(args: argparse.Namespace) -> int:
    """Save a care provider's API as a Prefect Block; the key from WEERTHUIS_CARE_API_KEY."""
    return _save_api_key_block(args, "integrations.care.CareApi", "WEERTHUIS_CARE_API_KEY", "Zorgaanbieder-API")


def cmd_e_ondertekening(args: argparse.Namespace) -> int:
    """Save a region's e-signature service as a Prefect Block; token and webhook secret from the environment."""
    from pydantic import SecretStr

    from integrations.esign import ESignApi

    token = _secret_from("WEERTHUIS_ESIGN_TOKEN", "het token")
    webhook_secret = token and _secret_from("WEERTHUIS_ESIGN_WEBHOOK_SECRET", "het webhookgeheim")
    if not token or not webhook_secret:
        return 2
    block = ESignApi(base_url=args.url, token=SecretStr(token), webhook_secret=SecretStr(webhook_secret))
    block.save(args.block, overwrite=True, _sync=True)  # type: ignore[call-arg]
    print(f"E-ondertekening {args.url} bewaard als block '{args.block}'.")
    return 0


def cmd_preview_mail(args: argparse.Namespace) -> int:
    """Render every mail with example data, as text, HTML and .eml, for staff to read the wording."""
    from notifications.preview import write_previews

    written = write_previews(Path(args.out))
    print(f"{len(written)} voorbeeldmails geschreven in {Path(args.out).resolve()}:")
    for path in written:
        print(f"  {path.name}")
    return 0


DEMO_CLIENTS: list[dict[str, Any]] = [
    # Fictional people with every kind of personal data the case database holds (so the demo shows none of it
    # reaches Prefect); the BSNs are the public test numbers that pass the elfproef.
    dict(
        region="emmen",
        institution="MO",
        care_provider="leger-des-heils",
        origin="Emmen",
        reason="dakloos na verlies van woning",
        region_tie=True,
        household=1,
        wishes="eenpersoonswoning",
        registered_by="EMM-TB-01",
        name="Demo Cliënt Een",
        bsn="111222333",
        birth_date=date(1988, 3, 14),
        phone="0612345601",
        email="demo.een@voorbeeld.nl",
    ),
    dict(
        region="emmen",
        institution="BW",
        care_provider="ggz-drenthe",
        origin="Coevorden",
        reason="beschermd wonen, klaar voor zelfstandigheid",
        region_tie=True,
        household=2,
        wishes="",
        registered_by="EMM-TB-02",
        name="Demo Cliënt Twee",
        bsn="123456782",
        birth_date=date(1979, 11, 2),
        phone="0612345602",
        email="demo.twee@voorbeeld.nl",
    ),
    dict(
        region="fryslan",
        institution="MO",
        care_provider="zienn",
        origin="Leeuwarden",
        reason="nachtopvang, werk gevonden",
        region_tie=True,
        household=1,
        wishes="dicht bij werk",
        registered_by="FRL-TB-01",
        name="Demo Cliënt Drie",
        bsn="999999990",
        birth_date=date(1995, 7, 23),
        phone="0612345603",
        email="demo.drie@voorbeeld.nl",
    ),
]


def cmd_demo(args: argparse.Namespace) -> int:
    """Local stack on the embedded defaults: SQLite, Prefect server on 127.0.0.1, three waiting demo cases."""
    from weerthuis.devstack import LocalStack

    # Ctrl-C and a plain `kill` both stop the server and worker too (children run in their own session).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # The CLI's data folder (WEERTHUIS_DATA_DIR, default .data) unless --data-dir: `weerthuis register` and
    # `start` then work on the demo's case database, not on one of their own with the same references.
    data_dir = (Path(args.data_dir) if args.data_dir else Settings().data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)  # Prefect makes its home inside it as soon as it loads
    os.environ["WEERTHUIS_DATA_DIR"] = str(data_dir)
    started = time.monotonic()
    stack = LocalStack(data_dir, port=args.port)
    for name in ("PREFECT_API_URL", "PREFECT_HOME", "PREFECT_SERVER_ANALYTICS_ENABLED"):
        os.environ[name] = stack.env[name]

    application = _app(migrate=True)
    references = application.casework.references()
    if not references:
        references = [register_client(application, **client) for client in DEMO_CLIENTS]
    print(f"Zaakdatabase: {application.settings.database_url}")
    print(f"Prefect server starten op {stack.ui_url} (logs in {stack.logs}) …", flush=True)
    stack.start()
    # This process talks to the server as the stack's command line (its `cli` token), as the export lines say.
    from prefect.settings import temporary_settings

    settings_of_stack = temporary_settings(updates=stack.prefect_settings())
    settings_of_stack.__enter__()
    try:
        from weerthuis.runs import case_run, wait_for_form

        database_id = application.casework.database_id()
        runs = {}
        for reference in references:
            case = application.casework.view(reference)
            if case.stage.is_final:
                continue
            runs[reference] = case_run(case, database_id)
            application.casework.attach_run(reference, str(runs[reference].id))
        for reference, run in runs.items():
            form = wait_for_form(run.id, timeout=180)
            print(f"  {reference} wacht op formulier '{form.key}': {stack.ui_url}/runs/flow-run/{run.id}")
        print(f"\nMails van de demo komen als .eml-bestand in {stack.maildir}")
        print("\nNep-tegenpartijen (echte HTTP-servers op deze machine; wat hun medewerkers doen via /_control):")
        for name, port in [
            ("corporaties", stack.corporation_port),
            ("e-ondertekening", stack.esign_port),
            ("zorgaanbieders en Wmo", stack.care_port),
            ("zaaksysteem (ZGW)", stack.zgw_port),
        ]:
            print(f"  {name:<22} http://127.0.0.1:{port}")
        example = next(iter(runs), "WT-2026-0001")
        print("Speel ze met `weerthuis act` (in een shell met de export-regels hieronder), bijvoorbeeld:")
        print(f"  weerthuis act accept {example}            corporatie accepteert de voordracht")
        print(f"  weerthuis act offer {example}             corporatie biedt een woning aan (--unit, --neighbourhood)")
        print(f"  weerthuis act sign {example}              alle partijen tekenen de huurovereenkomst")
        print(f"  weerthuis act confirm-support {example}   zorgaanbieder bevestigt de start van de begeleiding")
        print(f"  weerthuis act grant-wmo {example}         gemeente kent de Wmo-beschikking toe")
        print(f"\nKlaar na {time.monotonic() - started:.0f} s. Open {stack.ui_url}/runs en log in bij de")
        print("nep-identity provider met een medewerkerscode uit de regiobestanden (wachtwoord: demo), bijvoorbeeld")
        print("EMM-TP-01 (coördinator Emmen), EMM-TB-01 (trajectbegeleider), EMM-DOM-01 (woonconsulent Domesta).")
        print("Filter op 'Suspended', kies een run en klik op 'Resume' om het formulier in te vullen.")
        same_db = " (en dezelfde WEERTHUIS_CASE_DB_URL)" if os.environ.get("WEERTHUIS_CASE_DB_URL") else ""
        print(f"\nVoor weerthuis register, start en show op deze server en zaakdatabase{same_db}, in een andere shell:")
        print(f"  export PREFECT_API_URL={shlex.quote(stack.api_url)}")
        print(f"  export WEERTHUIS_DATA_DIR={shlex.quote(str(data_dir))}")
        print(f"  export PREFECT_API_AUTH_STRING={shlex.quote(stack.cli_auth or '')}  # het API-token van de demo-cli")
        if args.exit_when_ready:
            return 0
        print("Stoppen met Ctrl-C.", flush=True)
        while all(p.poll() is None for p in stack.processes):
            time.sleep(1)
        print(f"Een proces van de stack is gestopt; zie {stack.logs}.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        settings_of_stack.__exit__(None, None, None)
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="weerthuis", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="bring the case database to the newest schema").set_defaults(func=cmd_migrate)

    register = sub.add_parser("register", help="register a client and open a case (personal data stays here)")
    register.add_argument("--region", required=True)
    register.add_argument("--institution", required=True, choices=["MO", "BW"])
    register.add_argument("--care-provider", required=True)
    register.add_argument("--origin", required=True, help="municipality the client came from")
    register.add_argument("--reason", required=True, help="why the client came into shelter or care")
    register.add_argument("--region-tie", action=argparse.BooleanOptionalAction, required=True)
    register.add_argument("--household", type=int, default=1)
    register.add_argument("--wishes", default="")
    register.add_argument("--by", required=True, help="staff code of the case manager registering")
    register.add_argument("--name", required=True)
    register.add_argument("--bsn")
    register.add_argument("--birth-date")
    register.add_argument("--phone")
    register.add_argument("--email")
    register.add_argument(
        "--toch", action="store_true", help="register even though an earlier case has the same BSN (said so)"
    )
    register.set_defaults(func=cmd_register)

    show = sub.add_parser(
        "show", help="print a case's pseudonymous summary and history; --personal adds the client's personal data"
    )
    show.add_argument("reference")
    show.add_argument(
        "--personal",
        action="store_true",
        help="also print the client's personal data (with --by and --purpose; logged)",
    )
    show.add_argument("--by", help="your staff code: a case manager or coordinator of the case's region")
    show.add_argument("--purpose", help="what you need the personal data for (logged; put no personal data in it)")
    show.set_defaults(func=cmd_show)

    erase = sub.add_parser(
        "erase", help="erase a client's personal data; the case, its history and the monitor's figures stay"
    )
    erase.add_argument("reference")
    erase.add_argument("--by", required=True, help="staff code of the coordinator erasing")
    erase.add_argument("--reason", required=True, help="why (logged; put no personal data in it)")
    erase.add_argument("--force", action="store_true", help="erase although the case has not ended")
    erase.set_defaults(func=cmd_erase)

    access_log = sub.add_parser(
        "access-log",
        help="print who opened or erased personal data, logged in or answered a form (or was refused), when (UTC), why",
    )
    access_log.add_argument("reference", nargs="?", help="one case (default: every case)")
    access_log.add_argument(
        "--csv", metavar="FILE", help="write the lines to FILE as CSV (" + ", ".join(ACCESS_CSV_COLUMNS) + ")"
    )
    access_log.set_defaults(func=cmd_access_log)

    token = sub.add_parser(
        "token", help="issue, list or revoke the API tokens of machines (workers, the CLI, counterpart-answers)"
    )
    token_actions = token.add_subparsers(dest="token_action", required=True)
    token_issue = token_actions.add_parser("issue", help="issue a service's token; it is shown only this once")
    token_issue.add_argument(
        "--service", required=True, help="service code: worker, cli, counterpart-answers, api:domesta, …"
    )
    token_issue.add_argument("--by", required=True, help="staff code of the coordinator issuing")
    token_issue.set_defaults(func=cmd_token_issue)
    token_actions.add_parser("list", help="list every token issued (never its secret)").set_defaults(
        func=cmd_token_list
    )
    token_revoke = token_actions.add_parser("revoke", help="revoke a token, or every active token of a service")
    token_revoke.add_argument("token", help="the token's prefix (see `weerthuis token list`) or a service code")
    token_revoke.add_argument("--by", required=True, help="staff code of the coordinator revoking")
    token_revoke.add_argument("--reason", required=True, help="why (kept with the token)")
    token_revoke.set_defaults(func=cmd_token_revoke)

    start = sub.add_parser("start", help="start the outflow run of a registered case")
    start.add_argument("reference")
    start.set_defaults(func=cmd_start, needs_prefect=True)

    play = sub.add_parser(
        "act",
        help="play the demo's corporation, e-signing service or care provider (their fakes answer the case)",
        description="Doe wat de corporatie, de dienst voor e-ondertekening of de zorgaanbieder in hun eigen systeem "
        "doet, op de nep-tegenpartijen van `./dev demo`; hun antwoord gaat via hun API naar de zaak.",
    )
    actions = play.add_subparsers(dest="action", required=True)
    for name, text in [
        ("accept", "the corporation accepts the nomination"),
        ("decline", "the corporation declines the nomination"),
        ("offer", "the corporation offers a dwelling (after accepting)"),
        ("sign", "every party signs the lease at the e-signing service"),
        ("confirm-support", "the care provider confirms the start of support"),
        ("grant-wmo", "the municipality grants the Wmo decision"),
    ]:
        action = actions.add_parser(name, help=text)
        action.add_argument("reference")
        action.add_argument(
            "--no-wait", action="store_true", help="do not start a counterpart-answers round now (it runs every 5 min)"
        )
        if name == "decline":
            action.add_argument(
                "--reason",
                default="geen-passend-aanbod",
                choices=["geen-passend-aanbod", "doelgroep-past-niet", "eerdere-huurachterstand", "overig"],
            )
        if name == "offer":
            action.add_argument("--unit", default="DEMO-0001", help="the dwelling's reference at the corporation")
            action.add_argument("--neighbourhood", default="angelslo", help="neighbourhood code from the region file")
            action.add_argument("--rent", type=float, default=612.35, help="bare rent in euros a month")
            action.add_argument("--viewing", type=date.fromisoformat, help="viewing date (default: in three days)")
        if name in ("confirm-support", "grant-wmo"):
            action.add_argument("--start", type=date.fromisoformat, help="start date (default: today)")
        action.set_defaults(func=cmd_act, needs_prefect=True)

    mail_server = sub.add_parser("mail-server", help="save the SMTP server as a Prefect Block")
    mail_server.add_argument("--host", required=True)
    mail_server.add_argument("--port", type=int, default=587)
    mail_server.add_argument("--security", choices=["starttls", "ssl", "none"], default="starttls")
    mail_server.add_argument("--username", help="login; the password is read from WEERTHUIS_SMTP_PASSWORD")
    mail_server.add_argument("--sender", default="Weer Thuis <noreply@weerthuis.example.org>")
    mail_server.set_defaults(func=cmd_mail_server, needs_prefect=True)

    zaaksysteem = sub.add_parser("zaaksysteem", help="save a region's ZGW Zaken API as a Prefect Block")
    zaaksysteem.add_argument("--block", required=True, help="the block name the region file names, e.g. zgw-emmen")
    zaaksysteem.add_argument("--url", required=True, help="base URL of the Zaken API, e.g. https://…/zaken/api/v1")
    zaaksysteem.add_argument("--client-id", required=True)
    zaaksysteem.set_defaults(func=cmd_zaaksysteem, needs_prefect=True)

    corporatie = sub.add_parser("corporatie-api", help="save a corporation's API as a Prefect Block")
    corporatie.add_argument(
        "--block", required=True, help="the block name the region file names, e.g. corporatie-domesta"
    )
    corporatie.add_argument("--url", required=True, help="base URL of the corporation's API, e.g. https://…/api/v1")
    corporatie.set_defaults(func=cmd_corporatie_api, needs_prefect=True)

    zorg = sub.add_parser("zorgaanbieder-api", help="save a care provider's API as a Prefect Block")
    zorg.add_argument("--block", required=True, help="the block name the region file names, e.g. zorgaanbieder-vnn")
    zorg.add_argument("--url", required=True, help="base URL of the provider's API, e.g. https://…/api/v1")
    zorg.set_defaults(func=cmd_zorgaanbieder_api, needs_prefect=True)

    esign = sub.add_parser("e-ondertekening", help="save a region's e-signature service as a Prefect Block")
    esign.add_argument("--block", required=True, help="the block name the region file names (esign_block)")
    esign.add_argument("--url", required=True, help="base URL of the service's API, e.g. https://…/api/v1")
    esign.set_defaults(func=cmd_e_ondertekening, needs_prefect=True)

    preview = sub.add_parser("preview-mail", help="render every mail template with example data to files")
    preview.add_argument("--out", default="mail-preview")
    preview.set_defaults(func=cmd_preview_mail)

    server = sub.add_parser(
        "server", help="run the Prefect server (API, UI, services) wrapped by Weer Thuis: Dutch form refusals"
    )
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=4200)
    server.set_defaults(func=cmd_server)

    demo = sub.add_parser("demo", help="run the local demo")
    demo.add_argument("--port", type=int, default=4200)
    demo.add_argument("--data-dir", help="data folder (default: WEERTHUIS_DATA_DIR, else .data, as the other commands)")
    demo.add_argument("--exit-when-ready", action="store_true", help="stop once the demo cases wait on forms")
    demo.set_defaults(func=cmd_demo)

    from weerthuis.monitor.command import add_commands

    add_commands(sub)  # monitor, synthetic
    args = parser.parse_args(argv)
    from config.regions import RegionConfigError
    from weerthuis.act import NoCounterparts, NothingToAnswer
    from weerthuis.casedb.quota import Refused
    from weerthuis.casedb.uow import UnknownCase
    from weerthuis.domain.bsn import InvalidBsn

    needs_prefect = getattr(args, "needs_prefect", False)
    try:
        if needs_prefect:
            from weerthuis.runs import require_prefect_server

            require_prefect_server()  # without it Prefect would start a temporary server and time out
        return int(args.func(args))
    except (Refused, UnknownCase, InvalidBsn, NoCounterparts, NothingToAnswer, RegionConfigError) as exc:
        print(f"Fout: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        message = _prefect_trouble(exc, needs_prefect)
        if message is None:
            raise
        print(f"Fout: {message}", file=sys.stderr)
        return 2


def _prefect_trouble(exc: Exception, talked_to_prefect: bool) -> str | None:
    """One Dutch line for trouble with the Prefect server, instead of a traceback; None for anything else."""
    from weerthuis.runs import ForeignRun, NoPrefectServer

    if isinstance(exc, NoPrefectServer | ForeignRun):
        return str(exc)
    if talked_to_prefect:
        import httpx
        from prefect.settings import PREFECT_API_URL

        if isinstance(exc, httpx.HTTPError):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return f"De Prefect-server op {PREFECT_API_URL.value()} gaf een fout: {first}"
    return None


if __name__ == "__main__":
    sys.exit(main())
