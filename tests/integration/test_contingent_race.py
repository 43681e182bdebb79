"""Concurrent nominations for the last contingent place: exactly one wins, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading

from sqlalchemy import select, text

from tests.integration.helpers import to_nomination
from weerthuis.casedb.models import Nomination
from weerthuis.casedb.quota import ContingentExhausted
from weerthuis.domain.procedure import Step
from weerthuis.service.casework import Casework

CONTENDERS = 6


def race_for_last_place(casework: Casework, contenders: int) -> tuple[list[str], list[str], list[str]]:
    references = [to_nomination(casework) for _ in range(contenders)]
    with casework._uow() as uow:
        uow.session.execute(text("UPDATE contingents SET size = 1 WHERE corporation = 'lefier'"))
        uow.commit()
    start = threading.Barrier(contenders)
    won, refused, crashed = [], [], []

    def nominate(reference: str) -> None:
        start.wait()
        try:
            casework.propose_nomination(reference, 1, "lefier", "EMM-TP-01")
            won.append(reference)
        except ContingentExhausted:
            refused.append(reference)
        except Exception as exc:  # anything else is a failure of the locking, reported by the test
            crashed.append(f"{reference}: {exc!r}")

    threads = [threading.Thread(target=nominate, args=(r,)) for r in references]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return won, refused, crashed


def test_two_concurrent_nominations_for_the_last_place_exactly_one_succeeds(any_casework: Casework) -> None:
    won, refused, crashed = race_for_last_place(any_casework, 2)
    assert crashed == []
    assert len(won) == 1 and len(refused) == 1


def test_many_concurrent_nominations_never_exceed_the_contingent(any_casework: Casework) -> None:
    casework = any_casework
    won, refused, crashed = race_for_last_place(casework, CONTENDERS)
    assert crashed == []
    assert len(won) == 1 and len(refused) == CONTENDERS - 1
    with casework._uow() as uow:
        holders = (
            uow.session.execute(
                select(Nomination)
                .filter_by(corporation="lefier")
                .where(Nomination.status.in_(["proposed", "accepted"]))
            )
            .scalars()
            .all()
        )
    assert len(holders) == 1
    # The refused cases still wait for the coordinator's next choice, which no longer offers Lefier.
    for reference in refused:
        assert casework.view(reference).waiting_for is Step.NOMINATION_PROPOSAL
    assert "lefier" not in casework.corporations_with_places("emmen")
