"""a log of who opened or erased a client's personal data, when (UTC) and for what; append-only

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

`weerthuis show --personal` and `weerthuis erase` write a row here in the same transaction as what they do; the
log holds staff codes, the case and a purpose, never the personal data. Like the case history, a trigger refuses
UPDATE and DELETE. Erasing needs no schema change: the client's columns are nullable already and `erased_at` has
been there since 0001.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

APPEND_ONLY_SQLITE = [
    "CREATE TRIGGER personal_data_access_no_update BEFORE UPDATE ON personal_data_access "
    "BEGIN SELECT RAISE(ABORT, 'the personal data access log is append-only'); END",
    "CREATE TRIGGER personal_data_access_no_delete BEFORE DELETE ON personal_data_access "
    "BEGIN SELECT RAISE(ABORT, 'the personal data access log is append-only'); END",
]
APPEND_ONLY_POSTGRESQL = [
    "CREATE FUNCTION personal_data_access_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the personal data access log is append-only'; END $$",
    "CREATE TRIGGER personal_data_access_append_only BEFORE UPDATE OR DELETE ON personal_data_access "
    "FOR EACH ROW EXECUTE FUNCTION personal_data_access_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "personal_data_access",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accessed_by", sa.String(length=40), nullable=False),
        sa.Column("os_user", sa.String(length=64), nullable=True),
        sa.Column("what", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_personal_data_access_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_data_access")),
    )
    with op.batch_alter_table("personal_data_access") as batch_op:
        batch_op.create_index(batch_op.f("ix_personal_data_access_case_id"), ["case_id"], unique=False)
    dialect = op.get_bind().dialect.name
    for statement in APPEND_ONLY_POSTGRESQL if dialect == "postgresql" else APPEND_ONLY_SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER personal_data_access_append_only ON personal_data_access")
        op.execute("DROP FUNCTION personal_data_access_append_only()")
    with op.batch_alter_table("personal_data_access") as batch_op:
        batch_op.drop_index(batch_op.f("ix_personal_data_access_case_id"))
    op.drop_table("personal_data_access")
