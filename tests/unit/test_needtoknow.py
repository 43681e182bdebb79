"""What a person reads is narrowed to their cases (weerthuis/server/needtoknow.py), around an app that answers as
Prefect's API does. The same rules on the real server: tests/e2e/test_login.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID, uuid4

import pytest

from weerthuis.domain.vocabulary import Role
from weerthuis.server import needtoknow
from weerthuis.server.guard import WaitingRun
from weerthuis.server.identity import Person

MINE, OTHERS, SYSTEM = uuid4(), uuid4(), uuid4()
CASE_OF = {MINE: "WT-2026-0001", OTHERS: "WT-2026-0002", SYSTEM: None}
CONSULTANT = Person("EMM-LEF-01", Role.CORPORATION_CONSULTANT, "lefier", "emmen")
COORDINATOR = Person("EMM-TP-01", Role.COORDINATOR, "transferpunt-emmen", "emmen")


@pytest.fixture(autouse=True)
def runs(monkeypatch: pytest.MonkeyPatch) -> None:
    async def read_run(run_id: UUID) -> WaitingRun:
        return WaitingRun(CASE_OF[run_id], "emmen", False, None, None, None)

    monkeypatch.setattr(needtoknow, "read_run", read_run)


def read(person: Person, method: str, path: str, answer: Any) -> tuple[int, Any]:
    """`path` read by `person` through NeedToKnow, the app behind it answering `answer`."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = (answer if isinstance(answer, str) else json.dumps(answer)).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    narrowing = needtoknow.NeedToKnow(
        app, lambda person: {"WT-2026-0001"} if person is CONSULTANT else set(CASE_OF.values()) - {None}
    )  # type: ignore[arg-type]
    scope = {"type": "http", "method": method, "path": path, "headers": []}
    asyncio.run(narrowing.read(scope, receive, send, person))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def test_lists_of_runs_hold_only_the_persons_cases() -> None:
    every = [{"id": str(MINE)}, {"id": str(OTHERS)}, {"id": str(SYSTEM)}]
    assert read(CONSULTANT, "POST", "/api/flow_runs/filter", every) == (200, [{"id": str(MINE)}])
    status, page = read(CONSULTANT, "POST", "/api/flow_runs/paginate", {"results": every, "pages": 1})
    assert page["results"] == [{"id": str(MINE)}]
    # A coordinator sees the region's cases and the system flows' runs.
    assert read(COORDINATOR, "POST", "/api/flow_runs/filter", every) == (200, every)


@pytest.mark.parametrize("path", ["/api/logs/filter", "/api/artifacts/filter", "/api/task_runs/filter"])
def test_contents_of_other_cases_are_left_out(path: str) -> None:
    items = [{"flow_run_id": str(MINE), "n": 1}, {"flow_run_id": str(OTHERS), "n": 2}, {"flow_run_id": None, "n": 3}]
    assert read(CONSULTANT, "POST", path, items) == (200, [items[0]])


def test_another_cases_summary_and_artifact_are_not_shown() -> None:
    summary = f"/api/flow_runs/{OTHERS}/input/suspended-nomination-1-response-description"
    status, text = read(CONSULTANT, "GET", summary, json.dumps("Zaak WT-2026-0002 — ZRM financiën 2"))
    assert status == 200 and text.startswith("Deze zaak hoort niet bij uw organisatie")
    own = f"/api/flow_runs/{MINE}/input/suspended-nomination-1-response-description"
    assert read(CONSULTANT, "GET", own, json.dumps("Zaak WT-2026-0001")) == (200, "Zaak WT-2026-0001")
    status, refused = read(CONSULTANT, "GET", f"/api/artifacts/{uuid4()}", {"flow_run_id": str(OTHERS)})
    assert status == 403 and refused["detail"].startswith("Deze zaak hoort niet bij uw organisatie")


def test_the_operations_side_is_for_coordinators() -> None:
    status, refused = read(CONSULTANT, "POST", "/api/variables/filter", [])
    assert status == 403 and "coördinatoren" in refused["detail"]
    assert read(COORDINATOR, "POST", "/api/variables/filter", [{"name": "x"}]) == (200, [{"name": "x"}])
