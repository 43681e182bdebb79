"""Follow-up after the keys: reviews as scheduled runs on a real Prefect server, cards, escalation, omklap, closure.

The review plan lives in the case database; `sync_review_runs` makes the `follow-up` deployment's scheduled runs
match it (what the flows call at the end of each run, also when a run is replayed).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from prefect import get_client
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import select

from flows.follow_up import follow_up
from tasks.reviews import review_runs, sync_review_runs
from tests.conftest import Clock
from tests.integration.helpers import to_follow_up
from weerthuis.casedb.models import OutboxMail
from weerthuis.domain.calendar import AMSTERDAM
from weerthuis.domain.procedure import Step
from weerthuis.domain.stages import Stage
from weerthuis.domain.vocabulary import (
    CaseOutcome,
    ContractForm,
    EscalationDecision,
    OmklapDecision,
    ReviewOutcome,
)
from weerthuis.service.casework import Casework
from weerthuis.service.errors import UnknownDecider

COORDINATORS = ["EMM-TP-01", "EMM-TP-02"]


@pytest.fixture(scope="module")
def follow_up_deployment() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        with get_client(sync_client=True) as client:
            client.create_deployment(flow_id=client.create_flow(follow_up), name="follow-up")
        yield


def hold(casework: Casework, ref: str, number: int, *signals: str, outcome: ReviewOutcome = ReviewOutcome.CONTINUE):
    casework.hold_review(
        ref,
        1,
        number,
        held_on=casework.today(),
        living_situation="gaat goed",
        rent_arrears=any(s.startswith("huurachterstand") for s in signals),
        nuisance=any(s.startswith("overlast") for s in signals),
        support_reached=True,
        outcome=outcome,
        decided_by="EMM-TB-01",
        signals=signals,
    )


def scheduled(casework: Casework, ref: str) -> dict[int, tuple[str, datetime | None]]:
    runs = review_runs(ref, casework.database_id())
    return {n: (run.state.type.value, run.state.state_details.scheduled_time) for n, run in runs.items()}


def at_nine(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=AMSTERDAM)


def mails(casework: Casework, ref: str, event: str, about: str = "") -> list[str]:
    """Who the case's queued mails of this kind go to (`about`: a part of the mail's key, e.g. the step)."""
    with casework._uow() as uow:
        rows = uow.session.execute(select(OutboxMail.recipient, OutboxMail.key).filter_by(event=event)).all()
    return sorted(recipient for recipient, key in rows if key.startswith(ref) and about in key)


def test_reviews_are_scheduled_once_each_at_nine_dutch_time(follow_up_deployment: None, casework: Casework) -> None:
    ref = to_follow_up(casework)  # support started on 2 March 2026; Emmen reviews at 3, 6, 12 and 24 months
    first = sync_review_runs(casework, ref)
    again = sync_review_runs(casework, ref)  # what a replayed flow does
    assert first == again
    assert scheduled(casework, ref) == {
        1: ("SCHEDULED", at_nine(date(2026, 6, 2))),
        2: ("SCHEDULED", at_nine(date(2026, 9, 2))),
        3: ("SCHEDULED", at_nine(date(2027, 3, 2))),
        4: ("SCHEDULED", at_nine(date(2028, 3, 2))),
    }
    # 09:00 in Amsterdam is 07:00 UTC in summer time and 08:00 UTC in winter time.
    moments = [when for _, (_, when) in sorted(scheduled(casework, ref).items())]
    assert [datetime.fromtimestamp(when.timestamp(), UTC).hour for when in moments] == [7, 7, 8, 8]
    with get_client(sync_client=True) as client:
        runs = [client.read_flow_run(run_id) for run_id in first.values()]
    assert [run.name for run in runs] == [f"{ref} · nazorg {n}" for n in (1, 2, 3, 4)]
    assert all(
        run.parameters == {"zaakreferentie": ref, "regio": "emmen", "nazorgmoment": n}
        for n, run in zip((1, 2, 3, 4), runs, strict=True)
    )


def test_a_yellow_card_mails_and_brings_the_next_review_closer(
    follow_up_deployment: None, casework: Casework, clock: Clock
) -> None:
    ref = to_follow_up(casework)
    sync_review_runs(casework, ref)
    clock.now = datetime(2026, 6, 2, 10, tzinfo=AMSTERDAM)
    hold(casework, ref, 1, "huurachterstand:geel")
    case = casework.view(ref)
    assert (case.waiting_for, case.next_review_on) == (Step.REVIEW, date(2026, 7, 2))  # a month on, not September
    assert [line.event for line in case.history][-2:] == ["ReviewHeld", "WarningRaised"]
    assert mails(casework, ref, "warning_raised") == sorted([*COORDINATORS, "EMM-DOM-01"])
    sync_review_runs(casework, ref)
    assert scheduled(casework, ref)[2] == ("SCHEDULED", at_nine(date(2026, 7, 2)))
    assert scheduled(casework, ref)[3] == ("SCHEDULED", at_nine(date(2027, 3, 2)))


def test_a_red_card_waits_on_the_coordinator_and_closing_cancels_the_reviews_left(
    follow_up_deployment: None, casework: Casework, clock: Clock
) -> None:
    ref = to_follow_up(casework)
    sync_review_runs(casework, ref)
    clock.now = datetime(2026, 6, 2, 10, tzinfo=AMSTERDAM)
    hold(casework, ref, 1, "overlast:rood")
    case = casework.view(ref)
    assert (case.stage, case.waiting_for, case.waiting_on) == (Stage.FOLLOW_UP, Step.ESCALATION, "coordinator")
    assert mails(casework, ref, "decision_needed", about=":escalation:") == COORDINATORS
    assert mails(casework, ref, "warning_raised") == ["EMM-DOM-01"]  # the corporation hears of it
    with pytest.raises(UnknownDecider):
        casework.decide_escalation(ref, 1, EscalationDecision.EVICTED, "EMM-TB-01")  # the coordinator decides
    casework.decide_escalation(ref, 1, EscalationDecision.EVICTED, "EMM-TP-02")
    case = casework.view(ref)
    assert case.stage is Stage.EVICTED and not case.is_waiting
    assert [(line.event, line.decided_by) for line in case.history][-2:] == [
        ("EscalationDecided", "EMM-TP-02"),
        ("TenantEvicted", "EMM-TP-02"),
    ]
    assert sync_review_runs(casework, ref) == {}
    # Review 1 was held outside its own run here, so that run is no longer needed either.
    assert {n: state for n, (state, _) in scheduled(casework, ref).items()} == dict.fromkeys((1, 2, 3, 4), "CANCELLED")


REVIEW_DAYS = (date(2026, 6, 2), date(2026, 9, 2), date(2027, 3, 2), date(2028, 3, 2))


def hold_the_guided_period(casework: Casework, clock: Clock, ref: str) -> None:
    """Every review of Emmen's guided period, each on its day, with nothing to worry about."""
    for number, day in enumerate(REVIEW_DAYS, 1):
        clock.now = datetime(day.year, day.month, day.day, 10, tzinfo=AMSTERDAM)
        hold(casework, ref, number)


def test_the_omklap_flips_a_three_party_lease_and_closes_the_case_housed(casework: Casework, clock: Clock) -> None:
    ref = to_follow_up(casework)  # a three-party lease
    hold_the_guided_period(casework, clock, ref)
    case = casework.view(ref)
    assert (case.waiting_for, case.waiting_on, casework.review_plan(ref)) == (Step.OMKLAP, "coordinator", [])
    casework.decide_omklap(ref, 1, OmklapDecision.EXTEND, "EMM-TP-01")
    assert casework.review_plan(ref) == [(5, date(2028, 9, 2))]  # the region extends by six months
    clock.now = datetime(2028, 9, 2, 10, tzinfo=AMSTERDAM)
    hold(casework, ref, 5)
    casework.decide_omklap(ref, 1, OmklapDecision.TRANSFER, "EMM-TP-01")
    case = casework.view(ref)
    assert case.stage is Stage.CLOSED
    assert [line.event for line in case.history][-3:] == ["ReviewHeld", "LeaseTransferred", "CaseClosed"]


def test_ending_at_the_omklap_records_the_outcome(casework: Casework, clock: Clock) -> None:
    ref = to_follow_up(casework)
    hold_the_guided_period(casework, clock, ref)
    casework.decide_omklap(ref, 1, OmklapDecision.END, "EMM-TP-01", CaseOutcome.MOVED)
    case = casework.view(ref)
    assert case.stage is Stage.MOVED and case.history[-1].reason == CaseOutcome.MOVED.value


def test_a_lease_in_the_clients_own_name_closes_after_the_last_review(casework: Casework, clock: Clock) -> None:
    ref = to_follow_up(casework, ContractForm.REGULAR)
    hold_the_guided_period(casework, clock, ref)
    case = casework.view(ref)
    assert case.stage is Stage.CLOSED and [line.event for line in case.history][-1] == "CaseClosed"


def test_a_reviews_signals_are_gathered_once_and_kept_for_the_replay(casework: Casework) -> None:
    ref = to_follow_up(casework)
    asked: list[int] = []

    def gathered() -> tuple[str, ...] | None:
        asked.append(1)
        return ("huurachterstand:geel",)

    def away() -> tuple[str, ...] | None:
        raise AssertionError("a replay must not ask the counterparts again")

    assert casework.review_signals(ref, 1, gathered) == (("huurachterstand:geel",), True)
    assert casework.review_signals(ref, 1, away) == (("huurachterstand:geel",), True)
    assert asked == [1]
    # Counterparts away at the first gathering: kept as "not read", and the form says so.
    assert casework.review_signals(ref, 2, lambda: None) == ((), False)
    assert casework.review_signals(ref, 2, away) == ((), False)
