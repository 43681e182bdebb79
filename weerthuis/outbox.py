"""The outbox of rendered mails: which are still to go, who is sending which, what became of each.

A deliverer claims one row at a time (pending → sending) in its own transaction, so two deliverers never send
the same row; a claim older than CLAIM_EXPIRES (a deliverer that died) may be taken over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import ColumnElement

from integrations.ports import TransientFailure
from notifications.smtp import Connection, MailRefused, Outgoing, SmtpServer
from weerthuis.casedb.models import Case, OutboxMail

CLAIM_EXPIRES = timedelta(minutes=10)


def _deliverable(now: datetime) -> ColumnElement[bool]:
    return or_(
        OutboxMail.status == "pending",
        (OutboxMail.status == "sending") & (OutboxMail.claimed_at < now - CLAIM_EXPIRES),
    )


class Outbox:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._clock = clock

    def waiting(self, reference: str | None = None, limit: int = 1000) -> list[int]:
        """Rows still to be sent (of one case, or of all), oldest first."""
        now = self._clock()
        query = select(OutboxMail.id).where(_deliverable(now)).order_by(OutboxMail.id).limit(limit)
        if reference is not None:
            query = query.join(Case, Case.id == OutboxMail.case_id).where(Case.reference == reference)
        with self._sessions() as session:
            return list(session.execute(query).scalars())

    def claim(self, mail_id: int) -> Outgoing | None:
        """Take the row for sending, or None if another deliverer has it or it is done."""
        now = self._clock()
        with self._sessions() as session, session.begin():
            result = session.execute(
                update(OutboxMail)
                .where(OutboxMail.id == mail_id, _deliverable(now))
                .values(status="sending", claimed_at=now)
            )
            taken = cast(CursorResult[Any], result).rowcount
            if not taken:
                return None
            row = session.get_one(OutboxMail, mail_id)
            return Outgoing(row.key, row.address, row.subject, row.text_body, row.html_body)

    def _finish(self, mail_id: int, **values: object) -> None:
        with self._sessions() as session, session.begin():
            session.execute(
                update(OutboxMail)
                .where(OutboxMail.id == mail_id)
                .values(tries=OutboxMail.tries + 1, claimed_at=None, **values)
            )

    def sent(self, mail_id: int) -> None:
        self._finish(mail_id, status="sent", sent_at=self._clock(), last_error=None)

    def try_later(self, mail_id: int, error: str) -> None:
        self._finish(mail_id, status="pending", last_error=error[:400])

    def refused(self, mail_id: int, error: str) -> None:
        self._finish(mail_id, status="failed", last_error=error[:400])

    def counts(self, reference: str | None = None) -> dict[str, int]:
        """Rows per status, for the reports and the tests."""
        query = select(OutboxMail.status, func.count()).group_by(OutboxMail.status)
        if reference is not None:
            query = query.join(Case, Case.id == OutboxMail.case_id).where(Case.reference == reference)
        with self._sessions() as session:
            return {status: count for status, count in session.execute(query)}


@dataclass
class Delivered:
    sent: int = 0
    refused: int = 0


def deliver(outbox: Outbox, server: SmtpServer, reference: str | None, now: Callable[[], datetime]) -> Delivered:
    """Send what waits (for one case, or all) over one SMTP connection, claiming and marking row by row.

    Passing trouble puts the row back and raises TransientFailure, so a retry resumes where this stopped; a row
    the server refuses for good is marked failed and the rest goes on.
    """
    done = Delivered()
    waiting = outbox.waiting(reference)
    if not waiting:
        return done
    with Connection(server) as connection:
        for mail_id in waiting:
            mail = outbox.claim(mail_id)
            if mail is None:
                continue  # another deliverer has it, or it went meanwhile
            try:
                connection.send(mail, now())
            except MailRefused as exc:
                outbox.refused(mail_id, str(exc))
                done.refused += 1
                continue
            except BaseException as exc:
                outbox.try_later(mail_id, str(exc) if isinstance(exc, TransientFailure) else repr(exc))
                raise
            outbox.sent(mail_id)
            done.sent += 1
    return done
