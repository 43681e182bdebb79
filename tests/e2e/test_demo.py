"""The README's demo command, run as a user runs it: three cases wait on their first form."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from notifications.sink import read_maildir
from weerthuis.devstack import REPO, free_port

pytestmark = pytest.mark.stack


def test_demo_brings_up_three_cases_waiting_on_their_forms(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "weerthuis.cli",
            "demo",
            "--exit-when-ready",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "demo"),
        ],
        cwd=REPO,
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
    # Each case manager was mailed for the ZRM; the mails lie where the demo says, as .eml files.
    maildir = tmp_path / "demo" / "mail"
    assert f"Mails van de demo komen als .eml-bestand in {maildir}" in result.stdout
    subjects = sorted(str(m["Subject"]).strip() for m in read_maildir(maildir))
    assert subjects == sorted(f"Actie nodig: ZRM-meting invullen voor zaak {ref}" for ref in waiting)
    # Nothing personal in what the demo prints: only references and addresses.
    assert "Demo Cliënt" not in result.stdout and "111222333" not in result.stdout
