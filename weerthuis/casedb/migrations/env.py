"""Alembic environment: runs online against the engine the caller passes in `config.attributes`."""

from alembic import context

from weerthuis.casedb.models import Base

config = context.config
target_metadata = Base.metadata

connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through `weerthuis migrate` (weerthuis.casedb.migrate.upgrade).")

context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
