"""Mail through Prefect: the delivery task rides out a mail server that is away, and the daily reminders flow.

A real Prefect server (the test harness), a real SMTP server on loopback, the real case database.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from prefect.testing.utilities import prefect_test_harness

from config.settings import Settings
from flows.reminders import mail_outbox, reminders
from notifications.sink import MaildirHandler, Sink
from tasks.pages import latest_artifact
from tests.integration.helpers import register
from tests.integration.mailhelpers import received, server_for, sink_on_free_port
from weerthuis import bootstrap
from weerthuis.devstack import free_port

CASE_MANAGER = "trajectbegeleider1.emmen@example.org"
COORDINATORS = {"coordinator.emmen@example.org", "gemeente.emmen@example.org"}


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def application(prefect_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[bootstrap.App]:
    """The app as the flows see it (`bootstrap.app()`), on a case database of this test."""
    monkeypatch.setenv("WEERTHUIS_DATA_DIR", str(tmp_path / "data"))
    bootstrap.build(Settings(), migrate=True).casework._sessions.kw["bind"].dispose()
    bootstrap.app.cache_clear()
    yield bootstrap.app()
    bootstrap.app().casework._sessions.kw["bind"].dispose()
    bootstrap.app.cache_clear()


def use_mail_server(port: int) -> None:
    server_for(None, port).save(Settings().mail.server_block, overwrite=True, _sync=True)  # type: ignore[call-arg]


class StumblesOnce(MaildirHandler):
    """A mail server that says 'try later' once, in the middle of a batch."""

    def __init__(self, maildir: Path, at: int) -> None:
        super().__init__(maildir)
        self.seen, self.at = 0, at

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.seen += 1
        if self.seen == self.at:
            return "451 4.3.0 tijdelijk probleem, probeer later"
        return await super().handle_DATA(server, session, envelope)


def test_mail_queued_while_the_server_is_down_all_arrives_once_it_is_up(
    application: bootstrap.App, tmp_path: Path
) -> None:
    casework = application.casework
    references = [register(casework) for _ in range(100)]
    for reference in references:
        casework.start_assessment(reference)  # each asks the case manager for a ZRM: 100 mails
    assert application.outbox.counts() == {"pending": 100}

    port = free_port()
    use_mail_server(port)
    sink = Sink(tmp_path / "mail", port=port, handler=StumblesOnce(tmp_path / "mail", at=40))
    comes_up = threading.Timer(3.0, sink.start)  # down for the first tries, then up
    comes_up.start()
    try:
        mail_outbox()
    finally:
        comes_up.join()
        sink.stop()

    messages = sink.messages()
    assert len(messages) == 100
    assert len({m["Message-ID"] for m in messages}) == 100
    assert sorted(str(m["Subject"]).split()[-1] for m in messages) == sorted(references)
    assert application.outbox.counts() == {"sent": 100}
    assert mail_outbox() == 0  # a later round finds nothing to send


def test_reminders_before_and_after_the_due_date_then_escalation_never_twice(
    application: bootstrap.App, tmp_path: Path
) -> None:
    casework = application.casework
    ref = register(casework)
    casework.start_assessment(ref)
    due = casework.view(ref).due_on
    assert due is not None

    with sink_on_free_port(tmp_path / "mail") as sink:
        use_mail_server(sink.controller.port)

        def run_on(day: date) -> list[tuple[str, str]]:
            before = len(sink.messages())
            reminders(peildatum=day)
            return sorted(received(sink)[before:])

        assert run_on(due - timedelta(days=5)) == [(CASE_MANAGER, f"Actie nodig: ZRM-meting invullen voor zaak {ref}")]
        assert run_on(due - timedelta(days=2)) == [(CASE_MANAGER, f"Herinnering: ZRM-meting invullen voor zaak {ref}")]
        assert run_on(due - timedelta(days=2)) == []  # the same day again: nothing
        assert run_on(due) == []  # the reminder before the due date was sent already
        assert run_on(due + timedelta(days=1)) == [
            (CASE_MANAGER, f"Termijn verstreken: ZRM-meting invullen voor zaak {ref}")
        ]
        assert run_on(due + timedelta(days=1)) == []
        assert run_on(due + timedelta(days=2)) == []
        escalation = run_on(due + timedelta(days=3))
        assert {address for address, _ in escalation} == COORDINATORS
        assert {subject for _, subject in escalation} == {
            f"Escalatie: zaak {ref} wacht 3 dagen te lang op trajectbegeleider (Leger des Heils Noord)"
        }
        assert run_on(due + timedelta(days=4)) == []

    worklist = latest_artifact("werkvoorraad")
    assert worklist is not None
    (row,) = json.loads(worklist.data)
    assert (row["zaak"], row["te laat"]) == (ref, "ja")


def test_a_step_that_waits_long_unseen_gets_the_overdue_reminder_first_and_escalation_a_day_later(
    application: bootstrap.App, tmp_path: Path
) -> None:
    casework = application.casework
    ref = register(casework)
    casework.start_assessment(ref)
    due = casework.view(ref).due_on
    assert due is not None
    with sink_on_free_port(tmp_path / "mail") as sink:
        use_mail_server(sink.controller.port)
        reminders(peildatum=due + timedelta(days=10))
        first = {subject.split(":")[0] for _, subject in received(sink)}
        reminders(peildatum=due + timedelta(days=11))
        later = {subject.split(":")[0] for _, subject in received(sink)} - first
    assert first == {"Actie nodig", "Termijn verstreken"}
    assert later == {"Escalatie"}


def test_without_a_mail_server_block_mail_waits_in_the_outbox(
    application: bootstrap.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = register(application.casework)
    application.casework.start_assessment(ref)
    monkeypatch.setenv("WEERTHUIS_MAIL__SERVER_BLOCK", "bestaat-niet")
    application.casework._sessions.kw["bind"].dispose()
    bootstrap.app.cache_clear()  # the flows now see a mail setting that names no block
    assert mail_outbox() == 0
    assert bootstrap.app().outbox.counts(ref) == {"pending": 1}
