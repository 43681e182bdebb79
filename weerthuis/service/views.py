"""What Prefect-facing code may know of a case (references, stages, dates, codes; no personal data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from weerthuis.domain.calendar import AMSTERDAM
from weerthuis.domain.procedure import Step
from weerthuis.domain.stages import Stage


@dataclass(frozen=True)
class CaseView:
    """What Prefect-facing code may know of a case: references, stages, dates, codes. No personal data."""

    reference: str
    region: str
    institution_type: str
    care_provider: str
    stage: Stage
    attempt: int
    stage_since: datetime
    waiting_for: Step | None
    waiting_on: str | None
    due_on: date | None
    refusals: int
    corporation: str | None
    reviews_held: int
    next_review_on: date | None
    history: tuple[HistoryLine, ...]
    flow_run_id: str | None = None
    # An action another system refused, waiting on a coordinator: "zaaksysteem: …reason…".
    problem: str | None = None
    # The case's run keeps crashing and the recovery gave up: why, for the coordinator.
    stuck: str | None = None

    @property
    def is_waiting(self) -> bool:
        return self.waiting_for is not None


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    event: str
    from_stage: Stage
    to_stage: Stage
    decided_by: str
    reason: str


@dataclass(frozen=True)
class Problem:
    """An action the case could not deliver: which system refused what, how often tried, and why."""

    id: int
    key: str
    system: str
    operation: str
    tries: int
    reason: str


def gate_key(case: CaseView) -> str:
    """A stable key per decision: stage, attempt and step (plus the review's number in follow-up).

    Prefect stores the form under this key and accepts only lowercase letters, digits and dashes in it.
    """
    assert case.waiting_for is not None
    key = f"{case.stage.value}-{case.attempt}-{case.waiting_for.value}".replace("_", "-")
    if case.waiting_for is Step.REVIEW:
        return f"{key}-{case.reviews_held + 1}"
    # An escalation or the omklap follows the review held last: `follow-up-1-escalation-2`.
    return f"{key}-{case.reviews_held}" if case.waiting_for in (Step.ESCALATION, Step.OMKLAP) else key


def local(moment: datetime) -> datetime:
    """A stored moment in Dutch time (SQLite gives it back without a zone, PostgreSQL in the session's zone)."""
    return moment.replace(tzinfo=AMSTERDAM) if moment.tzinfo is None else moment.astimezone(AMSTERDAM)
