"""receipts of actions; a lease drawn up before it is signed

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("actions") as batch_op:
        batch_op.add_column(sa.Column("receipt", sa.String(length=120), nullable=True))
    with op.batch_alter_table("leases") as batch_op:
        batch_op.alter_column("signed_on", existing_type=sa.Date(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("leases") as batch_op:
        batch_op.alter_column("signed_on", existing_type=sa.Date(), nullable=False)
    with op.batch_alter_table("actions") as batch_op:
        batch_op.drop_column("receipt")
