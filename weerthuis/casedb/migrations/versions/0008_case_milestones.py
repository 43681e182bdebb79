"""each case's milestone days kept beside it, filled from the history; transitions indexed by (event, at)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from datetime import date
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# The events of each milestone as the table of moves had them when this migration was written (frozen here: later
# changes to the procedure must not change what this migration did).
MILESTONES = {
    "readiness": "AssessmentStarted",
    "nomination": "ReadinessApproved",
    "offer": "NominationAccepted",
    "tenancy": "OfferAccepted",
    "support": "LeaseSigned",
    "follow_up": "SupportArranged",
    "nominated": "NominationProposed",
    "offered": "OfferMade",
    "transferred": "LeaseTransferred",
}


def upgrade() -> None:
    milestones = op.create_table(
        "case_milestones",
        sa.Column("case_id", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Date(), nullable=True) for name in MILESTONES),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_milestones_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_milestones")),
    )
    with op.batch_alter_table("transitions") as batch_op:
        batch_op.create_index("ix_transitions_event_at", ["event", "at"], unique=False)
    _backfill(milestones)


def _backfill(milestones: sa.Table) -> None:
    """The first Dutch day of each milestone, from the history of every case there is."""
    transitions = sa.table(
        "transitions",
        sa.column("case_id", sa.Integer()),
        sa.column("event", sa.String()),
        sa.column("at", sa.DateTime(timezone=True)),
    )
    named = {event: name for name, event in MILESTONES.items()}
    query = sa.select(transitions.c.case_id, transitions.c.event, transitions.c.at).where(
        transitions.c.event.in_(list(named))
    )
    days: dict[int, dict[str, date | None]] = {}
    for case_id, event, at in op.get_bind().execute(query):
        day = (at if at.tzinfo is None else at.astimezone(AMSTERDAM)).date()  # SQLite keeps Dutch wall-clock time
        row = days.setdefault(case_id, dict.fromkeys(MILESTONES))
        first = row[named[event]]
        if first is None or day < first:
            row[named[event]] = day
    if days:
        op.bulk_insert(milestones, [{"case_id": case_id, **row} for case_id, row in days.items()])


def downgrade() -> None:
    with op.batch_alter_table("transitions") as batch_op:
        batch_op.drop_index("ix_transitions_event_at")
    op.drop_table("case_milestones")

