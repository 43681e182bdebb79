"""the signals gathered for a review, kept once

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("signals", sa.String(length=200), nullable=False),
        sa.Column("read", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_review_signals_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_signals")),
        sa.UniqueConstraint("case_id", "number", name=op.f("uq_review_signals_case_id")),
    )
    with op.batch_alter_table("review_signals") as batch_op:
        batch_op.create_index(batch_op.f("ix_review_signals_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_table("review_signals")
