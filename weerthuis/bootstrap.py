"""The one place that chooses adapters and builds the application from settings (at the entry point)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from config.regions import Region, load_regions
from config.settings import Settings
from integrations.fakes import (
    CallLedger,
    FakeCareProvider,
    FakeCorporation,
    FakeLeaseSigning,
    FakeMunicipalCaseSystem,
)
from integrations.ports import CareProvider, Corporation, LeaseSigning, MunicipalCaseSystem
from weerthuis.casedb import quota
from weerthuis.casedb.engine import make_engine, make_session_factory
from weerthuis.casedb.migrate import upgrade
from weerthuis.outbox import Outbox
from weerthuis.service.casework import Casework


@dataclass(frozen=True)
class App:
    settings: Settings
    regions: dict[str, Region]
    casework: Casework
    outbox: Outbox
    corporation: Corporation
    municipality: MunicipalCaseSystem
    care_provider: CareProvider
    esign: LeaseSigning


def build(settings: Settings, *, migrate: bool = False) -> App:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    regions = load_regions(settings.regions_dir)
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    sessions = make_session_factory(engine)
    casework = Casework(sessions, regions, ui_url=settings.ui_url or _prefect_ui_url())
    # Contingents and caps follow the region files; synced at start so a new year or a new size takes effect.
    with casework._uow() as uow:  # noqa: SLF001 - bootstrap owns the wiring
        for region in regions.values():
            for year in (casework.today().year, casework.today().year + 1):
                quota.sync_quotas(uow.session, region, year)
        uow.commit()
    ledger = CallLedger(settings.ledger_path)
    municipality: MunicipalCaseSystem = FakeMunicipalCaseSystem(ledger)
    corporation: Corporation = FakeCorporation(ledger)
    care_provider: CareProvider = FakeCareProvider(ledger)
    esign: LeaseSigning = FakeLeaseSigning(ledger)
    if settings.integrations.mode == "http":
        from integrations.care import CareProviders
        from integrations.corporation import Corporations
        from integrations.esign import RegionalESignatures
        from integrations.zgw import RegionalCaseSystems

        municipality = RegionalCaseSystems({c: r.zaaksysteem for c, r in regions.items() if r.zaaksysteem})
        corporation = Corporations(
            {c.code: c.api_block for r in regions.values() for c in r.corporations if c.api_block}
        )
        care_provider = CareProviders(
            {p.code: p.api_block for r in regions.values() for p in r.care_providers if p.api_block}
        )
        esign = RegionalESignatures({c: r.esign_block for c, r in regions.items() if r.esign_block})
    return App(
        settings=settings,
        regions=regions,
        casework=casework,
        outbox=Outbox(sessions, casework.now),
        corporation=corporation,
        municipality=municipality,
        care_provider=care_provider,
        esign=esign,
    )


def _prefect_ui_url() -> str | None:
    from prefect.settings import get_current_settings

    return get_current_settings().ui_url


@cache
def app() -> App:
    """The application of this process, built once from the environment."""
    return build(Settings())
