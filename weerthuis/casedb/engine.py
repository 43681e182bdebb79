"""Engines for the case database: SQLite takes its write lock at BEGIN, PostgreSQL locks rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

# How long a writer waits for SQLite's lock. Measured: 50 case runs resumed at once on a loaded 2-core machine had
# writers wait over 30 s (then "database is locked" and a delivery counted as refused); the embedded default waits.
SQLITE_BUSY_SECONDS = 120


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself, so it can be BEGIN IMMEDIATE below.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            # Every unit of work holds the write lock from its first statement: a count-then-insert
            # (contingent, neighbourhood cap) can never interleave with another writer.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
