"""An action another system refuses waits on a coordinator: tried again, or settled by hand; never lost."""

from __future__ import annotations

import pytest

from tests.integration.helpers import register
from weerthuis.domain.vocabulary import ProblemDecision
from weerthuis.service.casework import Casework
from weerthuis.service.errors import UnknownDecider


def refused_registration(casework: Casework) -> tuple[str, str]:
    ref = register(casework)
    casework.start_assessment(ref)
    (key,) = [k for k in casework.pending_actions(ref) if k.endswith("register_case")]
    casework.action_failed(key, "zaaksysteem: POST zaken geweigerd (400): zaaktype: onbekend")
    casework.action_refused(key, "zaaksysteem: POST zaken geweigerd (400): zaaktype: onbekend")
    return ref, key


def test_a_refused_action_is_a_problem_on_the_case_and_no_longer_pending(casework: Casework) -> None:
    ref, key = refused_registration(casework)
    assert key not in casework.pending_actions(ref)
    (problem,) = casework.refused_actions(ref)
    assert (problem.key, problem.system, problem.tries) == (key, "municipality", 1)
    assert casework.view(ref).problem == "zaaksysteem: POST zaken geweigerd (400): zaaktype: onbekend"


def test_retry_puts_it_back_in_line_and_by_hand_settles_it(casework: Casework) -> None:
    ref, key = refused_registration(casework)
    casework.settle_problem(key, ProblemDecision.RETRY, "EMM-TP-01")
    assert key in casework.pending_actions(ref) and casework.refused_actions(ref) == []
    assert casework.view(ref).problem is None

    casework.action_refused(key, "zaaksysteem: niet bereikbaar na 5 pogingen")
    casework.settle_problem(key, ProblemDecision.DONE_BY_HAND, "EMM-TP-02")
    casework.settle_problem(key, ProblemDecision.RETRY, "EMM-TP-01")  # a replayed answer changes nothing
    assert key not in casework.pending_actions(ref) and casework.refused_actions(ref) == []


def test_only_a_coordinator_of_the_region_settles_a_problem(casework: Casework) -> None:
    ref, key = refused_registration(casework)
    with pytest.raises(UnknownDecider, match="'EMM-TB-01' is geen coördinator"):
        casework.settle_problem(key, ProblemDecision.RETRY, "EMM-TB-01")
    assert [p.key for p in casework.refused_actions(ref)] == [key]
