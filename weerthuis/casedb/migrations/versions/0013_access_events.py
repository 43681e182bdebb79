"""a log of logins and form answers (AVG verwerkingenlogging): who, when (UTC), what, on which case; append-only

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05

weerthuis.accesslog writes a row for each login, logout and form answer, and for each one refused; `weerthuis
access-log` prints them beside the personal data access log (0011). The rows hold codes (a staff code, a service,
`anoniem`), a case reference, a flow run id, a reason and the client's address, never personal data. The reference
is no foreign key: a refused attempt may name a run whose case is unknown. Like 0011, a trigger refuses UPDATE and
DELETE.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

APPEND_ONLY_SQLITE = [
    "CREATE TRIGGER access_events_no_update BEFORE UPDATE ON access_events "
    "BEGIN SELECT RAISE(ABORT, 'the access event log is append-only'); END",
    "CREATE TRIGGER access_events_no_delete BEFORE DELETE ON access_events "
    "BEGIN SELECT RAISE(ABORT, 'the access event log is append-only'); END",
]
APPEND_ONLY_POSTGRESQL = [
    "CREATE FUNCTION access_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the access event log is append-only'; END $$",
    "CREATE TRIGGER access_events_append_only BEFORE UPDATE OR DELETE ON access_events "
    "FOR EACH ROW EXECUTE FUNCTION access_events_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "access_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("who", sa.String(length=60), nullable=False),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=True),
        sa.Column("flow_run_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.String(length=400), nullable=True),
        sa.Column("address", sa.String(length=45), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_events")),
    )
    with op.batch_alter_table("access_events") as batch_op:
        batch_op.create_index(batch_op.f("ix_access_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_events_reference"), ["reference"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_events_who"), ["who"], unique=False)
    dialect = op.get_bind().dialect.name
    for statement in APPEND_ONLY_POSTGRESQL if dialect == "postgresql" else APPEND_ONLY_SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER access_events_append_only ON access_events")
        op.execute("DROP FUNCTION access_events_append_only()")
    with op.batch_alter_table("access_events") as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_events_who"))
        batch_op.drop_index(batch_op.f("ix_access_events_reference"))
        batch_op.drop_index(batch_op.f("ix_access_events_at"))
    op.drop_table("access_events")
