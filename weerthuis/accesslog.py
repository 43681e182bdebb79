"""The access log (AVG verwerkingenlogging): who logged in or out and who answered a form, when, on which case.

The personal data access log (`personal_data_access`, migration 0011) says who opened or erased a client's personal
data; this one says who came in at all and what they answered, and which attempts were refused: a login with a wrong
password or token, a form answer the procedure refused, a change someone was not allowed to make. A data protection
officer asks both questions ("who had access to this case, and when?"), so `weerthuis access-log` prints both, merged
in time, and exports them with `--csv`.

What is kept (`access_events`, migration 0013), one row per event, in UTC: who (a staff code like EMM-TP-01, a service
like `api:domesta` or `worker`, or `anoniem` when nobody could be named), what (AccessKind, in Dutch), the case
reference and flow run if there is one, a reason, and the client's IP address. Never personal data: codes,
references and reasons only, so a reason must not quote a name, a BSN or a form's free text. The reference is no
foreign key: a refused attempt may name a run whose case is unknown, and that attempt is worth keeping most of all.

Append-only: a database trigger refuses UPDATE and DELETE, on SQLite and PostgreSQL alike. Each event is its own
short unit of work (SQLite takes its write lock at BEGIN and waits for it, as every writer of the case database).
Text is cut to its column (a reason to 400 characters, who to 60) and control characters become spaces, so an
attempt with a strange name is still written, and a line break in it cannot fake a line of the printed log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select

from weerthuis.casedb.models import AccessEvent
from weerthuis.casedb.uow import UnitOfWork
from weerthuis.tokens import store_of  # a Casework or a bare session factory, as the token store takes it

ANONYMOUS = "anoniem"  # who, when nobody could be named (a login refused before any code was known)

# The column widths of access_events.
WHO_LENGTH, REFERENCE_LENGTH, RUN_LENGTH, REASON_LENGTH, ADDRESS_LENGTH = 60, 20, 36, 400, 45

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class AccessKind(StrEnum):
    """What happened; the value is what is stored and printed (Dutch)."""

    LOGIN = "aanmelding"
    LOGIN_REFUSED = "aanmelding geweigerd"
    LOGOUT = "afmelding"
    ANSWER = "antwoord"
    ANSWER_REFUSED = "antwoord geweigerd"
    CHANGE_REFUSED = "wijziging geweigerd"
    VIEW = "inzage"


@dataclass(frozen=True)
class AccessEventLine:
    """One event of the access log; `at` in UTC."""

    at: datetime
    who: str
    kind: AccessKind
    reference: str | None
    flow_run_id: str | None
    reason: str | None
    address: str | None


def record(
    store: Any,
    kind: AccessKind,
    who: str,
    *,
    reference: str | None = None,
    flow_run_id: str | None = None,
    reason: str | None = None,
    address: str | None = None,
    at: datetime | None = None,
) -> None:
    """Write one event, in its own transaction. `store` is a Casework (its clock gives the moment) or a bare
    `sessionmaker` (then now, UTC); `at`, if given, must carry a time zone. An empty `who` is written as `anoniem`."""
    sessions, now, _ = store_of(store)
    kind = AccessKind(kind)
    if at is not None and at.tzinfo is None:
        raise ValueError("at must carry a time zone (the access log keeps UTC)")
    moment = (at if at is not None else now()).astimezone(UTC)
    with UnitOfWork(sessions) as uow:
        uow.session.add(
            AccessEvent(
                at=moment,
                who=_text(who, WHO_LENGTH) or ANONYMOUS,
                event=kind.value,
                reference=_text(reference, REFERENCE_LENGTH),
                flow_run_id=_text(flow_run_id, RUN_LENGTH),
                reason=_text(reason, REASON_LENGTH),
                address=_text(address, ADDRESS_LENGTH),
            )
        )
        uow.commit()


def events(store: Any, reference: str | None = None) -> list[AccessEventLine]:
    """Every event, oldest first, or those naming one case reference."""
    sessions, _, _ = store_of(store)
    with UnitOfWork(sessions) as uow:
        query = select(AccessEvent).order_by(AccessEvent.at, AccessEvent.id)
        if reference is not None:
            query = query.where(AccessEvent.reference == reference)
        return [_line(row) for row in uow.session.execute(query).scalars()]


def last_logout(store: Any, who: str) -> datetime | None:
    """When `who` last logged out (UTC), if ever: every session of theirs from before then has ended."""
    sessions, _, _ = store_of(store)
    with sessions() as session:
        found = session.execute(
            select(func.max(AccessEvent.at)).where(AccessEvent.who == who, AccessEvent.event == AccessKind.LOGOUT.value)
        ).scalar_one_or_none()
    return found.replace(tzinfo=UTC) if found is not None and found.tzinfo is None else found


# ------------------------------------------------------------------------------------------------------------------


def _text(value: str | None, length: int) -> str | None:
    """The value on one line, trimmed and cut to its column; None for nothing."""
    if value is None:
        return None
    value = _CONTROL.sub(" ", str(value)).strip()[:length].strip()
    return value or None


def _utc(moment: datetime) -> datetime:
    """A stored moment in UTC (SQLite gives it back without a zone; it was written in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _line(row: AccessEvent) -> AccessEventLine:
    return AccessEventLine(
        at=_utc(row.at),
        who=row.who,
        kind=AccessKind(row.event),
        reference=row.reference,
        flow_run_id=row.flow_run_id,
        reason=row.reason,
        address=row.address,
    )
