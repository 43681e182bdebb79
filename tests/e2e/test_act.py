"""`weerthuis act`: playing the demo's corporation from a shell moves the waiting case, as the README says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_outflow_case import Desk, register, zrm
from weerthuis.bootstrap import App
from weerthuis.devstack import REPO, LocalStack
from weerthuis.runs import start_case

pytestmark = pytest.mark.stack


def act(stack: LocalStack, *args: str, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**stack.env, "WEERTHUIS_DATA_DIR": str(data_dir or stack.data_dir)}
    command = [sys.executable, "-m", "weerthuis.cli", "act", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_the_corporation_played_from_the_shell_accepts_and_offers(app: App, stack: LocalStack) -> None:
    reference = register(app)
    desk = Desk(start_case(reference, "emmen").id)
    desk.answer("readiness-1-assessment", zrm())
    desk.answer("readiness-1-decision", {"verdict": "klaar voor uitstroom", "decided_by": "EMM-TP-01"})
    desk.answer("nomination-1-proposal", {"corporation": "domesta", "decided_by": "EMM-TP-01"})
    desk.next_form("nomination-1-response")

    accepted = act(stack, "accept", reference)
    assert accepted.returncode == 0, accepted.stderr
    assert f"voordracht van {reference} geaccepteerd" in accepted.stdout
    desk.next_form("offer-1-offer")  # no one took the answers by hand: `act` started a round

    offered = act(stack, "offer", reference, "--unit", "DOM-EMM-0900", "--neighbourhood", "bargeres", "--rent", "640")
    assert offered.returncode == 0, offered.stderr
    desk.next_form("offer-1-answer")
    case = app.casework.view(reference)
    assert (case.history[-1].event, case.history[-1].decided_by) == ("OfferMade", "api:domesta")
    assert app.casework.offered_dwellings(reference) == {"DOM-EMM-0900"}


def test_acting_on_a_case_the_fake_never_heard_of_says_so_in_dutch(stack: LocalStack, tmp_path: Path) -> None:
    unknown = act(stack, "sign", "WT-2031-9999", "--no-wait")
    assert unknown.returncode == 2
    assert "heeft nog niets ontvangen voor zaak WT-2031-9999" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    elsewhere = act(stack, "accept", "WT-2031-9999", data_dir=tmp_path)
    assert elsewhere.returncode == 2
    assert "Geen nep-tegenpartijen gevonden" in elsewhere.stderr and "./dev demo" in elsewhere.stderr
