"""Two case databases, one Prefect server: the same case reference in both never finds the other's run (issue 13).

Run as a user runs it: `weerthuis start` in a shell whose WEERTHUIS_DATA_DIR names one case database or the other.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest
from prefect import get_client

from config.settings import Settings
from weerthuis.bootstrap import App, build
from weerthuis.cli import register_client
from weerthuis.devstack import REPO, LocalStack
from weerthuis.runs import database_tag, wait_for_end, wait_for_form

pytestmark = pytest.mark.stack


def register(application: App, region: str) -> str:
    provider, by = ("leger-des-heils", "EMM-TB-01") if region == "emmen" else ("zienn", "FRL-TB-01")
    return register_client(
        application,
        region=region,
        institution="MO",
        care_provider=provider,
        origin="Emmen",
        reason="dakloos",
        region_tie=True,
        household=1,
        wishes="",
        registered_by=by,
        name="Test Cliënt",
        bsn=None,
        birth_date=None,
        phone=None,
        email=None,
    )


def start(stack: LocalStack, data_dir: Path, reference: str) -> subprocess.CompletedProcess[str]:
    env = {**stack.env, "WEERTHUIS_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "weerthuis.cli", "start", reference],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def started_run(result: subprocess.CompletedProcess[str], reference: str) -> UUID:
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.fullmatch(rf"{reference}: run ([0-9a-f-]+)", result.stdout.strip())
    assert match, result.stdout
    return UUID(match.group(1))


def test_the_same_reference_in_another_case_database_never_gets_this_ones_run(
    stack: LocalStack, app: App, tmp_path: Path
) -> None:
    # Database A (the stack's, which its worker works on): a case started as a user starts it.
    reference = register(app, "emmen")
    run_a = started_run(start(stack, stack.data_dir, reference), reference)
    wait_for_form(run_a, timeout=120)
    assert app.casework.view(reference).flow_run_id == str(run_a)

    # Database B (a data folder of its own, as the CLI's default was before): registered until the same reference
    # comes up. In another region, so that the run B gets, which the stack's worker runs against database A, stops
    # at the region check before it touches A's case (the flows do not check the database tag yet).
    other = build(Settings(data_dir=tmp_path / "b"), migrate=True)
    while (reference_b := register(other, "fryslan")) != reference:
        assert len(other.casework.references()) < 10_000
    assert other.casework.database_id() != app.casework.database_id()

    run_b = started_run(start(stack, other.settings.data_dir, reference), reference)
    assert run_b != run_a
    with get_client(sync_client=True) as client:
        found_a, found_b = client.read_flow_run(run_a), client.read_flow_run(run_b)
    assert database_tag(app.casework.database_id()) in found_a.tags
    assert database_tag(other.casework.database_id()) in found_b.tags
    assert database_tag(app.casework.database_id()) not in found_b.tags
    assert found_b.parameters == {"zaakreferentie": reference_b, "regio": "fryslan"}
    assert other.casework.view(reference).flow_run_id == str(run_b)

    # Each database's `start` gives its own run again, from the run it remembers.
    assert started_run(start(stack, other.settings.data_dir, reference), reference) == run_b
    assert started_run(start(stack, stack.data_dir, reference), reference) == run_a

    # B's run did not take A's case: A still carries its own run, waiting on its form.
    wait_for_end(run_b, timeout=120)
    assert app.casework.view(reference).flow_run_id == str(run_a)
    assert wait_for_form(run_a, timeout=30).key == "readiness-1-assessment"

    # Should B ever remember A's run (a copied flow_run_id), `start` refuses it instead of handing it out.
    other.casework.attach_run(reference, str(run_a))
    refused = start(stack, other.settings.data_dir, reference)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    assert f"Fout: Run {run_a} van {reference} hoort bij een andere zaakdatabase" in refused.stderr
