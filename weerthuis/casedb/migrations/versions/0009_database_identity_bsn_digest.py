"""the case database gets an identity (for its runs in Prefect); clients get a keyed digest of their BSN

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

`case_database` holds one row with a random id, made here once: runs carry it, so the same case reference in two
databases never finds the other's run. `clients.bsn_digest` finds an earlier registration of the same BSN (the
encryption is not deterministic). Existing rows get their digest here only when the BSN key is at hand
(WEERTHUIS_BSN_KEY, or the key file in WEERTHUIS_DATA_DIR) and decrypts them; the others stay NULL until
`weerthuis migrate` (or `register`) runs with the key.
"""

import logging
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    identity = op.create_table(
        "case_database",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("database_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_case_database_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_database")),
    )
    op.bulk_insert(identity, [{"id": 1, "database_id": uuid.uuid4().hex, "created_at": datetime.now(UTC)}])
    with op.batch_alter_table("clients") as batch_op:
        batch_op.add_column(sa.Column("bsn_digest", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_clients_bsn_digest"), ["bsn_digest"], unique=False)
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    waiting = bind.execute(sa.text("SELECT count(*) FROM clients WHERE bsn_encrypted IS NOT NULL")).scalar_one()
    if not waiting:
        return
    from config.settings import Settings
    from weerthuis.personal import fill_bsn_digests, stored_bsn_key

    key = stored_bsn_key(Settings())
    if key is None:
        log.warning("BSN key not available: %d clients keep bsn_digest NULL until `weerthuis migrate` with it", waiting)
        return
    filled, unreadable = fill_bsn_digests(bind, key)
    if unreadable:
        log.warning("%d clients' BSN not readable with this key: bsn_digest stays NULL", unreadable)
    log.info("bsn_digest filled for %d clients", filled)


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_index(batch_op.f("ix_clients_bsn_digest"))
        batch_op.drop_column("bsn_digest")
    op.drop_table("case_database")
