"""The procedure table: consistent with the table of moves, the regions' due days, the gates and the counterparts'
readers; and the domain it lives in stays pure (no Prefect, database, HTTP or templates)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from config.regions import DueDays
from weerthuis.domain.moves import Move
from weerthuis.domain.procedure import PROCEDURE, STAGES, Step, StepRule, check, steps_in
from weerthuis.domain.stages import Stage
from weerthuis.domain.vocabulary import Role

REPO = Path(__file__).resolve().parents[2]
DOMAIN = sorted(p.stem for p in (REPO / "weerthuis" / "domain").glob("*.py") if p.stem != "__init__")
FORBIDDEN = ("prefect", "sqlalchemy", "httpx", "jinja2", "alembic", "starlette", "fastapi")


def test_the_domain_imports_no_infrastructure() -> None:
    modules = ", ".join(f"weerthuis.domain.{name}" for name in DOMAIN)
    probe = (
        f"import sys, importlib; [importlib.import_module(m) for m in {modules.split(', ')!r}]; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r})))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"the domain pulls in {result.stdout.strip()}"


def test_the_purity_probe_sees_a_forbidden_import() -> None:
    """The probe above is not blind: a module importing sqlalchemy is caught the same way."""
    probe = "import sys, weerthuis.casedb.models; print('sqlalchemy' in {m.split('.')[0] for m in sys.modules})"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "True"


def test_the_procedure_table_is_consistent_with_the_moves() -> None:
    assert check(PROCEDURE) == []


def test_a_step_whose_move_its_stage_does_not_allow_is_reported() -> None:
    wrong = {Step.LEASE: StepRule(Stage.READINESS, (Role.COORDINATOR,), frozenset({Move.SIGN_LEASE}), "lease", "x")}
    assert check(wrong) == ["lease: sign_lease kan niet in fase readiness"]


def test_every_step_has_a_due_days_field_a_label_and_deciders() -> None:
    for step, rule in PROCEDURE.items():
        assert rule.due in DueDays.model_fields, step
        assert rule.label and rule.roles, step


def test_the_stages_come_in_procedure_order() -> None:
    assert STAGES == (Stage.READINESS, Stage.NOMINATION, Stage.OFFER, Stage.TENANCY, Stage.SUPPORT, Stage.FOLLOW_UP)
    assert steps_in(Stage.TENANCY) == (Step.LEASE, Step.SIGNING)
    assert [step for stage in STAGES for step in steps_in(stage)] == list(PROCEDURE)


def test_every_step_has_a_gate_and_every_counterpart_step_a_reader() -> None:
    from flows.outflow import GATES
    from weerthuis.answers import READERS

    assert set(GATES) == set(PROCEDURE)
    assert set(READERS) == {step for step, rule in PROCEDURE.items() if rule.counterpart is not None}
