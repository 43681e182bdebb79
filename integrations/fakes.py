"""In-process fakes of the external systems, keeping every call in a ledger another process can read.

The ledger is a SQLite file: the flow runs in a worker's subprocess, the test or the person checking runs
elsewhere. Like a real counterpart the fakes honour idempotency keys (a repeated key gets the first receipt),
but they count every call, so a test can prove each action was attempted exactly once.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    system TEXT NOT NULL,
    operation TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    body TEXT NOT NULL,
    at TEXT NOT NULL
)
"""


class CallLedger:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def record(self, system: str, operation: str, key: str, body: dict[str, Any]) -> str:
        """Keep the call; return the receipt of the first call with this key (the effect happens once)."""
        with closing(self._connect()) as db, db:
            db.execute("BEGIN IMMEDIATE")
            first = db.execute(
                "SELECT id FROM calls WHERE system = ? AND idempotency_key = ? ORDER BY id LIMIT 1",
                (system, key),
            ).fetchone()
            cursor = db.execute(
                "INSERT INTO calls (system, operation, idempotency_key, body, at) VALUES (?, ?, ?, ?, ?)",
                (system, operation, key, json.dumps(body, sort_keys=True), datetime.now(UTC).isoformat()),
            )
            return f"{system}-{first[0] if first else cursor.lastrowid}"

    def calls(self, system: str | None = None) -> list[tuple[str, str, str, dict[str, Any]]]:
        """Every call so far as (system, operation, idempotency key, body), oldest first."""
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT system, operation, idempotency_key, body FROM calls WHERE ? IS NULL OR system = ? ORDER BY id",
                (system, system),
            ).fetchall()
        return [(s, o, k, json.loads(b)) for s, o, k, b in rows]


# The in-process fakes take every write and never answer on their own: people answer by the forms.


class FakeCorporation:
    def __init__(self, ledger: CallLedger) -> None:
        self.ledger = ledger

    def submit_nomination(self, nomination: dict[str, Any], *, idempotency_key: str) -> str:
        return self.ledger.record("corporation", "submit_nomination", idempotency_key, nomination)

    def register_lease(self, lease: dict[str, Any], *, idempotency_key: str) -> str:
        return self.ledger.record("corporation", "register_lease", idempotency_key, lease)

    def nomination(self, corporation: str, nomination_id: str) -> dict[str, Any]:
        return {"id": nomination_id, "corporation": corporation, "answer": None}

    def offers(self, corporation: str, nomination_id: str) -> list[dict[str, Any]]:
        return []

    def signals(self, corporation: str, reference: str, since: date) -> list[dict[str, Any]]:
        return []


class FakeMunicipalCaseSystem:
    def __init__(self, ledger: CallLedger) -> None:
        self.ledger = ledger

    def register_case(self, case: dict[str, Any], *, idempotency_key: str) -> str:
        return self.ledger.record("municipality", "register_case", idempotency_key, case)

    def set_status(self, status: dict[str, Any], *, idempotency_key: str) -> str:
        return self.ledger.record("municipality", "set_status", idempotency_key, status)


class FakeCareProvider:
    def __init__(self, ledger: CallLedger) -> None:
        self.ledger = ledger

    def request_support(self, request: dict[str, Any], *, idempotency_key: str) -> str:
        return self.ledger.record("care_provider", "request_support", idempotency_key, request)

    def support_request(self, provider: str, request_id: str) -> dict[str, Any]:
        return {"id": request_id, "provider": provider, "status": "ontvangen", "confirmed": False}

    def wmo_decision(self, provider: str, reference: str) -> dict[str, Any] | None:
        return None

    def reach(self, provider: str, request_id: str, on: date) -> dict[str, Any]:
        return {"reached": True, "last_contact": None}


class FakeLeaseSigning:
    def __init__(self, ledger: CallLedger) -> None:
        self.ledger = ledger

    def send_for_signing(self, lease: dict[str, Any], *, idempotency_key: str) -> str:
        return self.ledger.record("esign", "send_for_signing", idempotency_key, lease)

    def signing_status(self, region: str, signing_id: str) -> dict[str, Any]:
        return {"id": signing_id, "status": "sent"}
