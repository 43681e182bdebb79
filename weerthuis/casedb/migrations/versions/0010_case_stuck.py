"""a case whose run keeps crashing is marked stuck, with the run and the reason

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

The `recovery` flow restarts a crashed or failed case run by itself; after three restarts in a row without the run
getting anywhere it stops and marks the case stuck here (shown on the case page and the worklist, one mail to the
coordinators). Any move of the case clears it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("stuck_run", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("stuck_reason", sa.String(length=400), nullable=True))
        batch_op.add_column(sa.Column("stuck_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("stuck_since")
        batch_op.drop_column("stuck_reason")
        batch_op.drop_column("stuck_run")
