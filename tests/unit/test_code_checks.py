"""ruff on the whole tree and mypy on the core (domain, case database, commands, mail, integrations, config, the
monitor with its synthetic data, the flows and their tasks)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORE = [
    "weerthuis/domain",
    "weerthuis/casedb",
    "weerthuis/service",
    "weerthuis/mailing.py",
    "weerthuis/outbox.py",
    "weerthuis/monitor",
    "weerthuis/synthetic.py",
    "weerthuis/answers.py",
    "weerthuis/server",
    "weerthuis/act.py",
    "config",
    "notifications",
    "integrations",
    "flows",
    "tasks",
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing() -> None:
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing_in_the_core() -> None:
    result = run("mypy", *CORE)
    assert result.returncode == 0, result.stdout + result.stderr
