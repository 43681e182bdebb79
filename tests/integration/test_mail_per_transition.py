"""The right people get the right mail at each transition: rendered in the case database, sent over real SMTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from notifications.sink import MaildirHandler, Sink
from tests.integration.helpers import offer, register, review, to_follow_up, zrm
from tests.integration.mailhelpers import received, server_for, sink_on_free_port
from weerthuis.casedb.models import OutboxMail
from weerthuis.domain.vocabulary import (
    ContractForm,
    NominationAnswer,
    OfferAnswer,
    ReadinessVerdict,
    ReviewOutcome,
    SigningResult,
)
from weerthuis.outbox import Outbox, deliver
from weerthuis.service.casework import Casework

COORDINATORS = ["coordinator.emmen@example.org", "gemeente.emmen@example.org"]
CASE_MANAGER = "trajectbegeleider1.emmen@example.org"
DOMESTA = "woonconsulent@domesta.example.org"


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Sink]:
    with sink_on_free_port(tmp_path / "mail") as running:
        yield running


@pytest.fixture
def outbox(casework: Casework) -> Outbox:
    return Outbox(casework._sessions, casework.now)


def test_each_transition_mails_whoever_acts_next_and_whoever_must_know(
    casework: Casework, outbox: Outbox, sink: Sink
) -> None:
    server = server_for(sink)

    def step(action) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
        before = len(sink.messages())
        action()
        deliver(outbox, server, None, casework.now)
        return sorted(received(sink)[before:])

    ref = register(casework)
    assert step(lambda: casework.start_assessment(ref)) == [
        (CASE_MANAGER, f"Actie nodig: ZRM-meting invullen voor zaak {ref}")
    ]
    assert step(lambda: casework.record_assessment(ref, 1, zrm(casework.today()))) == [
        (address, f"Actie nodig: besluit klaar voor uitstroom voor zaak {ref}") for address in COORDINATORS
    ]
    assert step(lambda: casework.decide_readiness(ref, 1, ReadinessVerdict.READY, "EMM-TP-01")) == [
        (address, f"Actie nodig: voordracht aan een corporatie voor zaak {ref}") for address in COORDINATORS
    ]
    # The corporation hears of the nomination; its other corporations do not.
    assert step(lambda: casework.propose_nomination(ref, 1, "domesta", "EMM-TP-01")) == [
        (DOMESTA, f"Voordracht voor een woning: zaak {ref}")
    ]
    assert step(lambda: casework.answer_nomination(ref, 1, NominationAnswer.ACCEPTED, "EMM-DOM-01")) == [
        (DOMESTA, f"Actie nodig: woning aanbieden voor zaak {ref}")
    ]
    viewing = casework.today() + timedelta(days=3)
    assert step(lambda: offer(casework, ref, 1)) == [
        (CASE_MANAGER, f"Woningaanbod voor zaak {ref}: bezichtiging {viewing:%d-%m-%Y}")
    ]
    assert step(lambda: casework.answer_offer(ref, 1, OfferAnswer.ACCEPTED, "EMM-TB-01")) == [
        (DOMESTA, f"Actie nodig: huurovereenkomst opstellen voor zaak {ref}")
    ]
    drawn_up = step(
        lambda: casework.draw_up_lease(
            ref, 1, contract_form=ContractForm.THREE_PARTY, temporary=True, decided_by="EMM-DOM-01"
        )
    )
    assert drawn_up == [(DOMESTA, f"Actie nodig: huurovereenkomst laten ondertekenen voor zaak {ref}")]
    signed = step(
        lambda: casework.record_signing(
            ref, 1, result=SigningResult.SIGNED, signed_on=casework.today(), decided_by="EMM-DOM-01"
        )
    )
    assert signed == sorted(
        [(address, f"Huurovereenkomst getekend: zaak {ref}") for address in COORDINATORS]
        + [(CASE_MANAGER, f"Actie nodig: begeleiding aan huis regelen voor zaak {ref}")]
    )


def test_support_arranged_tells_the_corporation_and_coordinators_and_asks_for_the_review(
    casework: Casework, outbox: Outbox, sink: Sink
) -> None:
    ref = to_follow_up(casework)
    queued = {row.key for row in _rows(casework)}
    assert any(key.endswith(":support_arranged:EMM-DOM-01") for key in queued)
    deliver(outbox, server_for(sink), ref, casework.now)
    got = received(sink)
    assert (DOMESTA, f"Begeleiding aan huis geregeld: zaak {ref}") in got
    assert {a for a, s in got if s.startswith("Begeleiding aan huis geregeld")} == {DOMESTA, *COORDINATORS}
    # The review is asked by its own scheduled run: the mail waits until the case is handed to that run, and links
    # to it, not to the run that arranged the support.
    assert not any(s.startswith("Nazorgmoment") for _, s in got)
    casework.ui_url = "http://127.0.0.1:4200"
    casework.await_review_in(ref, "0b7e4a36-0000-4000-8000-00000000000a")
    casework.await_review_in(ref, "0b7e4a36-0000-4000-8000-00000000000a")  # a replay asks nothing twice
    deliver(outbox, server_for(sink), ref, casework.now)
    got = received(sink)
    assert [m for m in got if m[1].startswith("Nazorgmoment")] == [
        (CASE_MANAGER, f"Nazorgmoment 1 voor zaak {ref} op 02-06-2026")  # support started 02-03
    ]
    (asking,) = [m for m in sink.messages() if str(m["Subject"]).startswith("Nazorgmoment 1")]
    body = asking.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "http://127.0.0.1:4200/runs/flow-run/0b7e4a36-0000-4000-8000-00000000000a" in body
    assert casework.view(ref).flow_run_id == "0b7e4a36-0000-4000-8000-00000000000a"
    # Each review is its own request: after the first, the second is asked for once, by its own run.
    before = len(got)
    review(casework, ref, 1, ReviewOutcome.CONTINUE)
    casework.await_review_in(ref, "0b7e4a36-0000-4000-8000-00000000000b")
    deliver(outbox, server_for(sink), ref, casework.now)
    assert received(sink)[before:] == [(CASE_MANAGER, f"Nazorgmoment 2 voor zaak {ref} op 02-09-2026")]


def test_every_mail_is_multipart_dutch_and_carries_no_personal_data(
    casework: Casework, outbox: Outbox, sink: Sink
) -> None:
    ref = to_follow_up(casework)
    deliver(outbox, server_for(sink), ref, casework.now)
    messages = sink.messages()
    assert len(messages) >= 10
    for message in messages:
        assert message.get_content_type() == "multipart/alternative"
        plain = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert plain is not None and html is not None
        body = plain.get_content() + html.get_content()  # type: ignore[attr-defined]
        assert message["Content-Language"] == "nl"
        assert ref in body
        assert "Test Cliënt" not in body and "Test Cliënt" not in str(message["Subject"])
        assert "Beste " in body


def test_a_mail_is_queued_once_however_often_a_command_is_repeated(casework: Casework, outbox: Outbox) -> None:
    ref = register(casework)
    casework.start_assessment(ref)
    casework.start_assessment(ref)  # a replayed flow asks again; the case is already past it
    casework.record_assessment(ref, 1, zrm(casework.today()))
    casework.record_assessment(ref, 1, zrm(casework.today()))  # the same answer replayed
    assert outbox.counts(ref) == {"pending": 3}  # one case manager, then two coordinators


def test_a_recipient_refused_for_good_is_marked_failed_and_the_rest_still_goes(
    casework: Casework, outbox: Outbox, tmp_path: Path
) -> None:
    sink = sink_on_free_port(tmp_path / "mail", RefusingDomesta(tmp_path / "mail"))
    ref = register(casework)
    casework.start_assessment(ref)
    casework.record_assessment(ref, 1, zrm(casework.today()))
    casework.decide_readiness(ref, 1, ReadinessVerdict.READY, "EMM-TP-01")
    casework.propose_nomination(ref, 1, "domesta", "EMM-TP-01")
    with sink:
        done = deliver(outbox, server_for(sink), ref, casework.now)
    assert (done.sent, done.refused) == (5, 1)
    failed = [row for row in _rows(casework) if row.status == "failed"]
    assert [row.recipient for row in failed] == ["EMM-DOM-01"]
    assert failed[0].last_error == "ontvanger geweigerd (550)"
    assert outbox.waiting(ref) == []


class RefusingDomesta(MaildirHandler):
    """A mail server that does not know Domesta's mailbox (550 for good)."""

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.endswith("@domesta.example.org"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def _rows(casework: Casework) -> list[OutboxMail]:
    with casework._sessions() as session:
        return list(session.execute(select(OutboxMail).order_by(OutboxMail.id)).scalars())
