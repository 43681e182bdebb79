"""Looks for personal data everywhere Prefect keeps things: every table of its database, and every file it writes.

Prefect's database holds parameters, run inputs, logs, task runs, artifacts, variables, block documents and
events; its home folder holds persisted task results. The Prefect server's and the worker's process logs are read
too: a flow run's log lines also go to the worker's stdout. (The fake counterparts' logs are not Prefect: a
corporation does get the client's name with a nomination.)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import column, create_engine, inspect, select, table


def spellings(secret: str) -> set[str]:
    """The ways a value can be written down: as is, and as JSON escapes it (`Cliënt` becomes `Cli\\u00ebnt`)."""
    return {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}


def sqlite_texts(path: Path) -> Iterator[tuple[str, str]]:
    """(table.column, value) for every value of every table, as text."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    connection.text_factory = lambda raw: raw.decode("utf-8", errors="replace")
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for name in tables:
            cursor = connection.execute(f'SELECT * FROM "{name}"')
            columns = [description[0] for description in cursor.description]
            for row in cursor:
                for column_name, value in zip(columns, row, strict=True):
                    if value is not None:
                        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                        yield f"{name}.{column_name}", text
    finally:
        connection.close()


def database_texts(url: str) -> Iterator[tuple[str, str]]:
    """The same for a Prefect database on PostgreSQL (any SQLAlchemy URL)."""
    engine = create_engine(url.replace("+asyncpg", "+psycopg"))
    try:
        with engine.connect() as connection:
            for name in inspect(connection).get_table_names():
                columns = [c["name"] for c in inspect(connection).get_columns(name)]
                for row in connection.execute(select(*(column(c) for c in columns)).select_from(table(name))):
                    for column_name, value in zip(columns, row, strict=True):
                        if value is not None:
                            yield f"{name}.{column_name}", json.dumps(value, default=str, ensure_ascii=False)
    finally:
        engine.dispose()


def file_texts(folder: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.endswith((".db", ".db-wal", ".db-shm", ".sqlite", ".sqlite-wal")):
            yield str(path.relative_to(folder)), path.read_bytes().decode("utf-8", errors="replace")


def personal_data_in_prefect(
    prefect_home: Path, secrets: Iterable[str], *, logs: Path | None = None, database_url: str | None = None
) -> list[str]:
    """Where any of `secrets` turns up: `"<place>: <secret>"` per find (empty when Prefect holds none of it)."""
    wanted = {secret: spellings(secret) for secret in secrets if secret}
    assert wanted, "nothing to look for"
    places: list[tuple[str, str]] = []
    databases = sorted(prefect_home.glob("*.db"))
    assert databases or database_url, f"no Prefect database in {prefect_home}"
    for path in databases:
        places += sqlite_texts(path)
    if database_url:
        places += database_texts(database_url)
    places += file_texts(prefect_home)
    for name in ("server.log", "worker.log") if logs is not None else ():
        places.append((name, (logs / name).read_text(errors="replace")))
    assert len(places) > 100, "the scan read almost nothing: wrong folder?"
    return [
        f"{place}: {secret}"
        for place, text in places
        for secret, forms in wanted.items()
        if any(form in text for form in forms)
    ]
