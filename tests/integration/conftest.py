"""Fixtures of the adapter tests: the call ledger the fakes write their effects to, and a clock that only counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.fakes import CallLedger
from tests.contract import Contract


@pytest.fixture
def ledger(tmp_path: Path) -> CallLedger:
    return CallLedger(tmp_path / "ledger.sqlite")


class Waits:
    """Stands in for time.sleep: keeps how long the adapter asked to wait (for Retry-After)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


@pytest.fixture
def waits() -> Waits:
    return Waits()


def take_problems(contract: Contract) -> list[str]:
    """The contract findings a test provoked on purpose; the fixture then checks nothing else was found."""
    found, contract.problems = contract.problems, []
    return found
