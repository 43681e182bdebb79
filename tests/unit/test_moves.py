"""The table of allowed moves: every allowed move works, forbidden ones raise one named error."""

from datetime import datetime

import pytest

from weerthuis.domain.moves import MOVES, Event, IllegalMove, Move, after_refusal, allowed_moves, transition
from weerthuis.domain.stages import END_STAGES, Stage

AT = datetime(2026, 3, 2, 9, 0)
ALLOWED = [(move, stage) for move, rule in MOVES.items() for stage in sorted(rule.sources)]


@pytest.mark.parametrize(("move", "stage"), ALLOWED, ids=[f"{m.value}-from-{s.value}" for m, s in ALLOWED])
def test_every_allowed_move_reaches_its_target(move: Move, stage: Stage) -> None:
    step = transition("WT-2026-0001", stage, move, entries={stage: 1}, decided_by="EMM-TP-01", at=AT)
    expected = MOVES[move].target or stage
    assert (step.from_stage, step.to_stage, step.event) == (stage, expected, MOVES[move].event)


FORBIDDEN = [
    (Stage.REGISTERED, Move.APPROVE_READINESS),
    (Stage.READINESS, Move.ACCEPT_OFFER),
    (Stage.NOMINATION, Move.SIGN_LEASE),
    (Stage.OFFER, Move.APPROVE_READINESS),
    (Stage.TENANCY, Move.REFUSE_OFFER),
    (Stage.SUPPORT, Move.CLOSE_HOUSED),
    (Stage.READINESS, Move.RECORD_RELAPSE),  # relapse only once a home is in sight
    (Stage.CLOSED, Move.WITHDRAW),
    (Stage.WITHDRAWN, Move.START_ASSESSMENT),
    (Stage.EVICTED, Move.HOLD_REVIEW),
]


@pytest.mark.parametrize(("stage", "move"), FORBIDDEN, ids=[f"{m.value}-from-{s.value}" for s, m in FORBIDDEN])
def test_forbidden_move_names_case_stage_and_move(stage: Stage, move: Move) -> None:
    with pytest.raises(IllegalMove) as raised:
        transition("WT-2026-0042", stage, move, entries={}, decided_by="x", at=AT)
    message = str(raised.value)
    assert "WT-2026-0042" in message and stage.value in message and move.value in message
    assert raised.value.stage is stage and raised.value.move is move


def test_end_states_allow_no_move() -> None:
    for stage in END_STAGES:
        assert allowed_moves(stage) == frozenset()


def test_reentering_a_stage_starts_a_new_attempt_and_steps_within_keep_it() -> None:
    again = transition("R", Stage.OFFER, Move.REFUSE_OFFER, entries={Stage.OFFER: 2}, decided_by="x", at=AT)
    assert (again.to_stage, again.attempt, again.event) == (Stage.OFFER, 3, Event.OFFER_REFUSED)
    within = transition("R", Stage.OFFER, Move.MAKE_OFFER, entries={Stage.OFFER: 2}, decided_by="x", at=AT)
    assert (within.to_stage, within.attempt) == (Stage.OFFER, 2)
    onward = transition("R", Stage.OFFER, Move.ACCEPT_OFFER, entries={Stage.OFFER: 2}, decided_by="x", at=AT)
    assert (onward.to_stage, onward.attempt) == (Stage.TENANCY, 1)


def test_priority_lapses_at_the_refusal_limit() -> None:
    assert after_refusal(0, limit=2) is Move.REFUSE_OFFER
    assert after_refusal(1, limit=2) is Move.LAPSE_PRIORITY
    assert after_refusal(0, limit=1) is Move.LAPSE_PRIORITY


def test_every_event_has_a_dutch_label() -> None:
    from weerthuis.domain.moves import EVENT_LABELS

    assert set(EVENT_LABELS) == set(Event)


# The allowed edges between stages, written out by hand from DOMAIN.md's procedure (not read from MOVES): a change
# to the table of moves that this list does not also make is a change to the procedure, and must be looked at.
REG, RDY, NOM, OFF, TEN, SUP, FU = "registered", "readiness", "nomination", "offer", "tenancy", "support", "follow_up"
HAND_WRITTEN_EDGES = {
    (REG, RDY), (RDY, NOM), (RDY, RDY), (NOM, OFF), (NOM, NOM), (OFF, TEN), (OFF, OFF), (OFF, "withdrawn"),
    (TEN, SUP), (TEN, TEN), (SUP, FU),
    (FU, "closed"), (FU, "evicted"), (FU, "moved"),
    *((stage, "relapsed") for stage in (NOM, OFF, TEN, SUP, FU)),
    *((stage, "withdrawn") for stage in (REG, RDY, NOM, OFF, TEN, SUP, FU)),
}  # fmt: skip
# Steps recorded within a stage (the case stays where it is), by hand as well.
HAND_WRITTEN_WITHIN = {
    RDY: {"record_assessment"},
    NOM: {"propose_nomination"},
    OFF: {"make_offer"},
    TEN: {"draw_up_lease"},
    FU: {"hold_review", "raise_warning", "open_escalation", "decide_escalation", "transfer_lease", "extend_guidance"},
}


def test_the_moves_make_exactly_the_hand_written_edges() -> None:
    edges = {(source.value, rule.target.value) for rule in MOVES.values() if rule.target for source in rule.sources}
    assert edges == HAND_WRITTEN_EDGES


def test_the_steps_within_a_stage_are_exactly_the_hand_written_ones() -> None:
    within: dict[str, set[str]] = {}
    for move, rule in MOVES.items():
        if rule.target is None:
            for source in rule.sources:
                within.setdefault(source.value, set()).add(move.value)
    assert within == HAND_WRITTEN_WITHIN
