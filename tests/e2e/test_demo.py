"""The README's demo command, run as a user runs it: three cases wait on their first form."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from notifications.sink import read_maildir
from tests.e2e.privacy import personal_data_in_prefect
from weerthuis.cli import DEMO_CLIENTS
from weerthuis.devstack import REPO, free_port

pytestmark = pytest.mark.stack

PERSONAL = ("name", "bsn", "birth_date", "phone", "email", "reason", "wishes")  # of the demo's clients


def test_demo_brings_up_three_cases_waiting_on_their_forms(tmp_path: Path) -> None:
    port = free_port()
    # No --data-dir: the demo uses the data folder the other commands use (WEERTHUIS_DATA_DIR, default .data).
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEERTHUIS_")}
    result = subprocess.run(
        [sys.executable, "-m", "weerthuis.cli", "demo", "--exit-when-ready", "--port", str(port)],
        cwd=REPO,
        env={**env, "WEERTHUIS_DATA_DIR": str(tmp_path / "demo")},
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    waiting = re.findall(
        r"(WT-\d{4}-\d{4}) wacht op formulier 'readiness-1-assessment': "
        rf"http://127\.0\.0\.1:{port}/runs/flow-run/[0-9a-f-]+",
        result.stdout,
    )
    assert len(waiting) == 3, result.stdout
    assert f"Open http://127.0.0.1:{port}/runs" in result.stdout
    # Where each fake counterpart listens, and how to play the corporation, the signers and the care provider.
    for name in ("corporaties", "e-ondertekening", "zorgaanbieders en Wmo", "zaaksysteem (ZGW)"):
        assert re.search(rf"\n  {re.escape(name)} +http://127\.0\.0\.1:\d+\n", result.stdout), name
    for action in ("accept", "offer", "sign", "confirm-support", "grant-wmo"):
        assert f"weerthuis act {action} {waiting[0]}" in result.stdout
    # Each case manager was mailed for the ZRM; the mails lie where the demo says, as .eml files.
    maildir = tmp_path / "demo" / "mail"
    assert f"Mails van de demo komen als .eml-bestand in {maildir}" in result.stdout
    subjects = sorted(str(m["Subject"]).strip() for m in read_maildir(maildir))
    assert subjects == sorted(f"Actie nodig: ZRM-meting invullen voor zaak {ref}" for ref in waiting)
    # Nothing personal in what the demo prints, nor anywhere in what Prefect keeps (every table of its database:
    # parameters, run inputs, logs, task runs, artifacts, variables, events; its files; the server's and worker's
    # logs) — not even the free text of the registration.
    secrets = [str(value) for client in DEMO_CLIENTS for key, value in client.items() if key in PERSONAL and value]
    secrets += [f"{client['birth_date']:%d-%m-%Y}" for client in DEMO_CLIENTS]
    assert not [s for s in secrets if s in result.stdout]
    data = tmp_path / "demo"
    assert personal_data_in_prefect(data / "prefect", secrets, logs=data / "logs") == []

    # It says how the CLI reaches the same server and case database, as lines to paste into a shell.
    exports: dict[str, str] = {}
    for line in result.stdout.splitlines():
        if line.startswith("  export "):
            name, value = shlex.split(line)[1].split("=", 1)
            exports[name] = value
    assert exports["PREFECT_API_AUTH_STRING"].startswith("cli:wt_")  # the demo's command line signs in with its token
    assert {name: value for name, value in exports.items() if name != "PREFECT_API_AUTH_STRING"} == {
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "WEERTHUIS_DATA_DIR": str(tmp_path / "demo"),
    }
    registered = subprocess.run(
        [sys.executable, "-m", "weerthuis.cli", "register", "--region", "emmen", "--institution", "MO"]
        + ["--care-provider", "leger-des-heils", "--origin", "Emmen", "--reason", "dakloos", "--region-tie"]
        + ["--by", "EMM-TB-01", "--name", "Nieuwe Cliënt", "--bsn", "111222333"],
        cwd=REPO,
        env={**env, **exports},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # The demo's first client has this BSN: refused there, naming that case (in a database of its own it would
    # have been the first case, with the demo's reference).
    assert registered.returncode == 2, registered.stdout + registered.stderr
    assert f"Dit BSN staat al bij zaak {sorted(waiting)[0]}" in registered.stderr

    # `erase` takes the first client's personal data out of the case database; the monitor's figures stay.
    def weerthuis(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "weerthuis.cli", *args],
            cwd=REPO,
            env={**env, **exports},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    first = sorted(waiting)[0]
    before = weerthuis("monitor", "--periode", "jaar", "--uit", str(tmp_path / "before"))
    assert "Demo Cliënt Een" in weerthuis("show", first, "--personal", "--by", "EMM-TP-01", "--purpose", "test")
    weerthuis("erase", first, "--by", "EMM-TP-01", "--reason", "verzoek van de cliënt", "--force")
    shown = weerthuis("show", first, "--personal", "--by", "EMM-TP-01", "--purpose", "test")
    assert "Demo Cliënt Een" not in shown and "111222333" not in shown
    after = weerthuis("monitor", "--periode", "jaar", "--uit", str(tmp_path / "after"))
    assert after.replace("after", "before") == before
    exports_before = {p.name: p.read_text() for p in (tmp_path / "before").glob("*.csv")}
    assert exports_before and {p.name: p.read_text() for p in (tmp_path / "after").glob("*.csv")} == exports_before
