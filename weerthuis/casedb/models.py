"""SQLAlchemy 2.0 models of the case database. Personal data lives only in `clients`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from weerthuis.domain.zrm import ZrmDomain

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Client(Base):
    """The person; kept apart from the case so Prefect-facing code never loads it by accident."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    bsn_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Keyed digest of the BSN (weerthuis.personal.bsn_digest): finds an earlier registration of the same person,
    # as the encryption cannot. None without a BSN, or for a row migration 0009 could not read (no key then).
    bsn_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    consent_on: Mapped[date | None] = mapped_column(Date)
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CaseDatabase(Base):
    """This case database's identity: one row with a random id, made once (migration 0009). Its runs in Prefect
    carry it (idempotency key and a `zaakdb:` tag), so a case reference never finds another database's run."""

    __tablename__ = "case_database"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    database_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    region: Mapped[str] = mapped_column(String(40), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    institution_type: Mapped[str] = mapped_column(String(2))
    care_provider: Mapped[str] = mapped_column(String(60))
    origin_municipality: Mapped[str] = mapped_column(String(80))
    registration_reason: Mapped[str] = mapped_column(String(200))
    region_tie: Mapped[bool]
    household_size: Mapped[int]
    housing_wishes: Mapped[str] = mapped_column(String(400), default="")
    registered_by: Mapped[str] = mapped_column(String(40))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    stage: Mapped[str] = mapped_column(String(20), index=True)
    stage_attempt: Mapped[int] = mapped_column(default=1)
    stage_since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # What the case waits on now, and by when: due dates live here, not in Prefect timeouts.
    waiting_on: Mapped[str | None] = mapped_column(String(40))
    waiting_for: Mapped[str | None] = mapped_column(String(60))
    due_on: Mapped[date | None] = mapped_column(Date)
    refusals: Mapped[int] = mapped_column(default=0)
    next_review_on: Mapped[date | None] = mapped_column(Date)
    # The Prefect flow run that carries the case, for links from the worklist and case page.
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    # A run the recovery flow restarted again and again without it getting anywhere (flows/recovery.py).
    stuck_run: Mapped[str | None] = mapped_column(String(36))
    stuck_reason: Mapped[str | None] = mapped_column(String(400))
    stuck_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    client: Mapped[Client] = relationship()
    history: Mapped[list[Transition]] = relationship(order_by="Transition.seq", viewonly=True)


class Transition(Base):
    """Append-only: a database trigger refuses UPDATE and DELETE."""

    __tablename__ = "transitions"
    # (event, at): the monitor counts a few rare events (cards, declined signings) in a period.
    __table_args__ = (UniqueConstraint("case_id", "seq"), Index("ix_transitions_event_at", "event", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int]
    move: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(40))
    from_stage: Mapped[str] = mapped_column(String(20))
    # The position answered: attempt in from_stage and the step the case waited on (None for system moves).
    from_attempt: Mapped[int]
    answered_step: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    attempt: Mapped[int]
    decided_by: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(400), default="")


class CaseMilestones(Base):
    """The first Dutch calendar day a case reached each milestone (`weerthuis.domain.milestones` names them), written
    with the event that reached it, so the monitor reads one row per case instead of the whole history."""

    __tablename__ = "case_milestones"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    # The first day the case entered each stage: `nomination` is the day it was found ready, `support` its keys.
    readiness: Mapped[date | None] = mapped_column(Date)
    nomination: Mapped[date | None] = mapped_column(Date)
    offer: Mapped[date | None] = mapped_column(Date)
    tenancy: Mapped[date | None] = mapped_column(Date)
    support: Mapped[date | None] = mapped_column(Date)
    follow_up: Mapped[date | None] = mapped_column(Date)
    nominated: Mapped[date | None] = mapped_column(Date)  # first nomination to a corporation
    offered: Mapped[date | None] = mapped_column(Date)  # first offer of a home
    transferred: Mapped[date | None] = mapped_column(Date)  # omklap: the lease in the client's own name


def _score_checks() -> list[CheckConstraint]:
    return [CheckConstraint(f"{d.value} BETWEEN 1 AND 5", name=f"{d.value}_range") for d in ZrmDomain]


class Assessment(Base):
    """One scored ZRM; every assessment is kept, not only the verdict."""

    __tablename__ = "assessments"
    __table_args__ = (UniqueConstraint("case_id", "attempt"), *_score_checks())

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    attempt: Mapped[int]
    assessed_on: Mapped[date] = mapped_column(Date)
    assessor: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ambulant_support_indication: Mapped[bool]
    can_live_alone_with_support: Mapped[bool]
    region_tie: Mapped[bool]
    financien: Mapped[int] = mapped_column(Integer)
    werk_opleiding: Mapped[int] = mapped_column(Integer)
    tijdsbesteding: Mapped[int] = mapped_column(Integer)
    huisvesting: Mapped[int] = mapped_column(Integer)
    huiselijke_relaties: Mapped[int] = mapped_column(Integer)
    geestelijke_gezondheid: Mapped[int] = mapped_column(Integer)
    lichamelijke_gezondheid: Mapped[int] = mapped_column(Integer)
    middelengebruik: Mapped[int] = mapped_column(Integer)
    basale_adl: Mapped[int] = mapped_column(Integer)
    instrumentele_adl: Mapped[int] = mapped_column(Integer)
    sociaal_netwerk: Mapped[int] = mapped_column(Integer)
    maatschappelijke_participatie: Mapped[int] = mapped_column(Integer)
    justitie: Mapped[int] = mapped_column(Integer)


class Contingent(Base):
    """A corporation's yearly quota of homes for this region; the row is the lock for claiming a place."""

    __tablename__ = "contingents"
    __table_args__ = (UniqueConstraint("region", "corporation", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(40))
    corporation: Mapped[str] = mapped_column(String(60))
    year: Mapped[int]
    size: Mapped[int]


class NeighbourhoodQuota(Base):
    """A neighbourhood's yearly cap on outflow placements (draagkracht); the row is the lock."""

    __tablename__ = "neighbourhood_quotas"
    __table_args__ = (UniqueConstraint("region", "neighbourhood", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(40))
    neighbourhood: Mapped[str] = mapped_column(String(60))
    year: Mapped[int]
    cap: Mapped[int]


class Nomination(Base):
    __tablename__ = "nominations"
    __table_args__ = (
        UniqueConstraint("case_id", "attempt"),
        Index("ix_nominations_claims", "region", "corporation", "year", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    attempt: Mapped[int]
    region: Mapped[str] = mapped_column(String(40))
    corporation: Mapped[str] = mapped_column(String(60))
    year: Mapped[int]
    # proposed and accepted hold a contingent place; declined and released give it back.
    status: Mapped[str] = mapped_column(String(20))
    proposed_by: Mapped[str] = mapped_column(String(40))
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[str | None] = mapped_column(String(40))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decline_reason: Mapped[str | None] = mapped_column(String(80))


class Offer(Base):
    __tablename__ = "offers"
    __table_args__ = (
        UniqueConstraint("case_id", "attempt"),
        Index("ix_offers_spread", "region", "neighbourhood", "year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    attempt: Mapped[int]
    region: Mapped[str] = mapped_column(String(40))
    corporation: Mapped[str] = mapped_column(String(60))
    dwelling_reference: Mapped[str] = mapped_column(String(40))
    neighbourhood: Mapped[str] = mapped_column(String(60))
    year: Mapped[int]
    rent: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    viewing_on: Mapped[date] = mapped_column(Date)
    offered_by: Mapped[str] = mapped_column(String(40))
    offered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answer: Mapped[str | None] = mapped_column(String(20))
    refusal_reason: Mapped[str | None] = mapped_column(String(80))
    answered_by: Mapped[str | None] = mapped_column(String(40))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Lease(Base):
    __tablename__ = "leases"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    corporation: Mapped[str] = mapped_column(String(60))
    contract_form: Mapped[str] = mapped_column(String(60))
    temporary: Mapped[bool]
    ends_on: Mapped[date | None] = mapped_column(Date)
    # None while the drawn-up lease is out for signing.
    signed_on: Mapped[date | None] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(40))


class SupportArrangement(Base):
    __tablename__ = "support_arrangements"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    wmo_decision: Mapped[str] = mapped_column(String(60))
    provider: Mapped[str] = mapped_column(String(60))
    starts_on: Mapped[date] = mapped_column(Date)
    plan_agreed: Mapped[bool]
    recorded_by: Mapped[str] = mapped_column(String(40))


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("case_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    number: Mapped[int]
    due_on: Mapped[date] = mapped_column(Date)
    held_on: Mapped[date] = mapped_column(Date)
    living_situation: Mapped[str] = mapped_column(String(40))
    rent_arrears: Mapped[bool]
    nuisance: Mapped[bool]
    support_reached: Mapped[bool]
    outcome: Mapped[str] = mapped_column(String(40))
    recorded_by: Mapped[str] = mapped_column(String(40))
    # The signals the corporation and the care provider reported since the last review ("huurachterstand:geel"),
    # and the card they and the review earned (None, geel, rood).
    signals: Mapped[str] = mapped_column(String(200), default="")
    card: Mapped[str | None] = mapped_column(String(10))


class RejectedAnswer(Base):
    """A form answer the procedure refused after resume; replay skips it instead of re-applying it."""

    __tablename__ = "rejected_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    gate_key: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(400))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("case_id", "gate_key"),)


class ReviewSignals(Base):
    """The signals gathered for a review, kept the first time: the form shows them and the answer is weighed with
    them, also when the run replays (and even if a counterpart is away by then)."""

    __tablename__ = "review_signals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    number: Mapped[int]
    signals: Mapped[str] = mapped_column(String(200))  # "huurachterstand:geel,overlast:rood"; "" for none
    read: Mapped[bool]  # False: the counterparts could not be read then
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("case_id", "number"),)


class Action(Base):
    """A side effect owed to an external system, written in the same transaction as the event causing it."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    # case + stage + attempt + operation; the unique index makes "already owed" a no-op.
    key: Mapped[str] = mapped_column(String(120), unique=True)
    system: Mapped[str] = mapped_column(String(40))
    operation: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending → done; refused (the counterpart said no, or stayed away after every retry) waits for a
    # coordinator, who has it tried again (pending) or settles it by hand (done, settled_by set).
    status: Mapped[str] = mapped_column(String(20), server_default=text("'pending'"))
    tries: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_by: Mapped[str | None] = mapped_column(String(40))
    # The counterpart's id of what the action made (a nomination, a signing, a support request): the answer is
    # read back under it.
    receipt: Mapped[str | None] = mapped_column(String(120))


class OutboxMail(Base):
    """A rendered mail waiting for delivery; the unique key makes queueing the same mail twice a no-op."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    # case : stage : attempt : step/event : recipient code
    key: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # pending → sending (claimed by one deliverer) → sent; back to pending on a passing error;
    # failed when the server refuses the recipient for good.
    status: Mapped[str] = mapped_column(String(20), server_default=text("'pending'"))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tries: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PersonalDataAccess(Base):
    """Who opened or erased a client's personal data, when (UTC) and for what. Append-only: a database trigger
    refuses UPDATE and DELETE (migration 0011). Holds staff codes, a case and a purpose, never the data itself."""

    __tablename__ = "personal_data_access"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    # UTC, also on SQLite (which keeps no zone): unlike the case's own moments, not Dutch wall-clock time.
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accessed_by: Mapped[str] = mapped_column(String(40))  # the staff code that asked
    os_user: Mapped[str | None] = mapped_column(String(64))  # the account that ran the command, if known
    what: Mapped[str] = mapped_column(String(20))  # casework.PersonalDataUse: show, export, erase
    purpose: Mapped[str] = mapped_column(String(400))


class ServiceToken(Base):
    """An API token of a machine (a worker, the CLI, the counterpart-answers flow, `api:domesta`), one per service.
    Holds the token's public prefix (to find the row), a random salt and HMAC-SHA256(salt, token), never the token
    (weerthuis.tokens). Revoked, not deleted: the rows are the account of every token handed out. Times in UTC."""

    __tablename__ = "service_tokens"
    __table_args__ = (
        CheckConstraint(
            "(revoked_at IS NULL AND revoked_by IS NULL AND revoke_reason IS NULL) OR "
            "(revoked_at IS NOT NULL AND revoked_by IS NOT NULL AND revoke_reason IS NOT NULL)",
            name="revoked_with_who_and_why",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[str] = mapped_column(String(60), index=True)  # lowercase letters, digits, '-', ':'
    prefix: Mapped[str] = mapped_column(String(8), unique=True)  # public: the `wt_<prefix>_` of the token
    salt: Mapped[str] = mapped_column(String(32))  # hex of 16 random bytes, this token's own
    token_hash: Mapped[str] = mapped_column(String(64))  # hex HMAC-SHA256 keyed by the salt, over the whole token
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(40))  # the coordinator's staff code
    # Written at most once a minute: a busy worker does not make every request a write.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(40))
    revoke_reason: Mapped[str | None] = mapped_column(String(400))


class AccessEvent(Base):
    """A login, logout or form answer, or one refused (weerthuis.accesslog: the AVG verwerkingenlogging). Append-only:
    a database trigger refuses UPDATE and DELETE (migration 0013). Holds codes, a case reference, a reason and the
    client's address, never personal data. Times in UTC."""

    __tablename__ = "access_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)  # UTC, also on SQLite
    # A staff code (EMM-TP-01), a service (api:domesta), or anoniem; indexed for a person's last logout.
    who: Mapped[str] = mapped_column(String(60), index=True)
    event: Mapped[str] = mapped_column(String(30))  # accesslog.AccessKind: aanmelding, antwoord geweigerd, …
    # No foreign key: a refused attempt may name a run whose case is unknown.
    reference: Mapped[str | None] = mapped_column(String(20), index=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str | None] = mapped_column(String(400))
    address: Mapped[str | None] = mapped_column(String(45))  # the client's IP address
