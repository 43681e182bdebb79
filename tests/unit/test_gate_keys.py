"""Every form key is stable and of the only shape Prefect stores run inputs under."""

import re
from datetime import datetime

from flows.outflow import gate_key
from weerthuis.domain.procedure import PROCEDURE, Step
from weerthuis.service.views import CaseView


def view(step: Step, attempt: int = 1, reviews_held: int = 0) -> CaseView:
    return CaseView(
        reference="WT-2026-0001",
        region="emmen",
        institution_type="MO",
        care_provider="leger-des-heils",
        stage=PROCEDURE[step].stage,
        attempt=attempt,
        stage_since=datetime(2026, 3, 2),
        waiting_for=step,
        waiting_on=None,
        due_on=None,
        refusals=0,
        corporation=None,
        reviews_held=reviews_held,
        next_review_on=None,
        history=(),
    )


def test_every_gate_key_is_lowercase_letters_digits_and_dashes() -> None:
    for step in Step:
        for attempt in (1, 12):
            key = gate_key(view(step, attempt))
            assert re.fullmatch(r"[a-z0-9-]+", key), key
            assert re.fullmatch(r"[a-z0-9-]+", f"suspended-{key}-2-schema")


def test_gate_keys_name_stage_attempt_and_step() -> None:
    assert gate_key(view(Step.READINESS_DECISION, 2)) == "readiness-2-decision"
    assert gate_key(view(Step.OFFER_RESPONSE, 3)) == "offer-3-answer"
    assert gate_key(view(Step.REVIEW, 1, reviews_held=1)) == "follow-up-1-review-2"
