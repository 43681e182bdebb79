"""One real local stack (Prefect server, prefect.yaml deployed, a process worker) for the e2e tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.settings import temporary_settings

from config.settings import Settings
from integrations.fakes import CallLedger
from tests.contract import SPECS
from tests.e2e import login
from weerthuis.bootstrap import App, build
from weerthuis.devstack import LocalStack, free_port


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # The fake zaaksysteem checks every exchange against the official ZGW spec (GET /_contract tells the findings).
    contract = {"WEERTHUIS_ZGW_CONTRACT": str(SPECS / "zgw-zaken-api-1.5.1.yaml")}
    local = LocalStack(tmp_path_factory.mktemp("stack"), port=free_port(), extra_env=contract)
    # The tests' own Prefect client shows the stack's `cli` token; people log in (tests/e2e/login.py).
    with local, temporary_settings(updates=local.prefect_settings()):
        yield local
        login.close_all()


@pytest.fixture(scope="session")
def app(stack: LocalStack) -> App:
    """The application as the flows see it: same data folder, same case database, same fakes' ledger."""
    return build(Settings(data_dir=stack.data_dir), migrate=True)


@pytest.fixture(scope="session")
def ledger(app: App) -> CallLedger:
    return CallLedger(app.settings.ledger_path)
