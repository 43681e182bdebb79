"""API tokens for machines (the workers, the CLI, the counterpart-answers flow, a counterpart's system): stored hashed

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

`weerthuis token issue` shows a token once and keeps only its public prefix (to find the row), a random salt and
HMAC-SHA256(salt, token) here; `weerthuis token revoke` marks a row revoked with who and why, never deletes it, so
the list stays an account of every token ever handed out. Times are UTC, as in the personal data access log.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=60), nullable=False),
        sa.Column("prefix", sa.String(length=8), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=40), nullable=True),
        sa.Column("revoke_reason", sa.String(length=400), nullable=True),
        sa.CheckConstraint(
            "(revoked_at IS NULL AND revoked_by IS NULL AND revoke_reason IS NULL) OR "
            "(revoked_at IS NOT NULL AND revoked_by IS NOT NULL AND revoke_reason IS NOT NULL)",
            name=op.f("ck_service_tokens_revoked_with_who_and_why"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_tokens")),
        sa.UniqueConstraint("prefix", name=op.f("uq_service_tokens_prefix")),
    )
    with op.batch_alter_table("service_tokens") as batch_op:
        batch_op.create_index(batch_op.f("ix_service_tokens_service"), ["service"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("service_tokens") as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_tokens_service"))
    op.drop_table("service_tokens")
