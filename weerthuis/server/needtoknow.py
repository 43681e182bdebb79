"""Need to know: a person reads in the Prefect UI only what their work needs.

Which cases a person may know: coordinators and Wmo consultants those of their region, a corporation's consultant
the cases with their corporation, a case manager the clients of their care provider (weerthuis.domain.rules keeps
which). Prefect never holds a name, BSN or address (the case database does), but it does hold what a case is
about — the case summary above each form (with the ZRM scores), the case pages, the logs, the history. So:

- lists of runs (the runs page, a deployment's runs) show only the runs of the person's cases; the runs of the
  system flows (monitor, reminders, recovery…) only to coordinators;
- the contents of a run — its form's case summary, its artifacts (case pages), its logs and task runs — only for
  the person's cases: of another case the form shows a sentence saying so, and the rest is left out or refused;
- a run opened by its address (a forwarded mail) still shows its state and its form's fields, so the person
  learns in the form itself why they may not answer it (guard.py refuses the answer, with the reason);
- events, blocks, variables and automations are the coordinators' (the operations side of the server).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from weerthuis.server.asgi import call
from weerthuis.server.guard import json_response, read_run
from weerthuis.server.identity import Person

KNOWN_FOR_SECONDS = 10.0  # a case newly nominated to a corporation is seen by its consultant within this long

RUN_LISTS = re.compile(r"^/api/flow_runs/(filter|paginate)$")
RUN_CONTENT_LISTS = re.compile(
    r"^/api/(task_runs/filter|task_runs/paginate|logs/filter|artifacts/filter|artifacts/latest/filter)$"
)
ARTIFACT = re.compile(r"^/api/artifacts/([0-9a-fA-F-]{36}|[a-z0-9-]+/latest)$")
TASK_RUN = re.compile(r"^/api/task_runs/[0-9a-fA-F-]{36}$")
DESCRIPTION = re.compile(r"^/api/flow_runs/(?P<id>[0-9a-fA-F-]{36})/input/(?P<key>[a-z0-9-]+-description)$")
LOG_DOWNLOAD = re.compile(r"^/api/flow_runs/(?P<id>[0-9a-fA-F-]{36})/logs/download$")
OPERATIONS = re.compile(
    r"^/api/(events|block_documents|block_types|block_schemas|variables|automations"
    r"|concurrency_limits|v2/concurrency_limits|saved_searches|logs/out)(/|$)"
)
NOT_YOURS = (
    "Deze zaak hoort niet bij uw organisatie; u ziet haar gegevens niet. Staat hier toch een besluit voor u open, "
    "vraag dan het Transferpunt."
)


class NeedToKnow:
    """Narrows what a logged-in person reads; `cases(person)` gives the references they may know."""

    def __init__(self, app: ASGIApp, cases: Callable[[Person], set[str]]) -> None:
        self.app = app
        self.cases = cases
        self._known: dict[tuple[str, str, str], tuple[float, set[str]]] = {}
        self._run_case: dict[UUID, str | None] = {}

    async def known(self, person: Person) -> set[str]:
        group = (person.region, person.role.value, person.organisation)
        now = time.monotonic()
        seen = self._known.get(group)
        if seen is None or now - seen[0] > KNOWN_FOR_SECONDS:
            seen = (now, await anyio.to_thread.run_sync(self.cases, person))
            self._known[group] = seen
        return seen[1]

    async def case_of(self, flow_run_id: Any) -> str | None:
        """The case reference of a run ('' for a run outside the procedure); runs keep their parameters."""
        try:
            run_id = UUID(str(flow_run_id))
        except ValueError:
            return ""
        if run_id not in self._run_case:
            run = await read_run(run_id)
            if len(self._run_case) > 50_000:
                self._run_case.clear()
            self._run_case[run_id] = (run.reference or "") if run is not None else None
        return self._run_case[run_id]

    async def may_see_run(self, person: Person, flow_run_id: Any) -> bool:
        if flow_run_id is None:
            return person.is_coordinator
        reference = await self.case_of(flow_run_id)
        if reference is None:
            return False
        if reference == "":
            return person.is_coordinator
        return reference in await self.known(person)

    async def read(self, scope: Scope, receive: Receive, send: Send, person: Person) -> None:
        path = scope["path"]
        if OPERATIONS.match(path) and not person.is_coordinator:
            await _send(
                send, *json_response(403, f"Dit deel van de server is voor coördinatoren; u bent {person.role.noun}.")
            )
            return
        if (found := DESCRIPTION.match(path)) and not await self.may_see_run(person, found["id"]):
            await _send_text(send, json.dumps(NOT_YOURS))
            return
        if (found := LOG_DOWNLOAD.match(path)) and not await self.may_see_run(person, found["id"]):
            await _send(send, *json_response(403, NOT_YOURS))
            return
        lists_runs = scope["method"] == "POST" and RUN_LISTS.match(path)
        lists_contents = scope["method"] == "POST" and RUN_CONTENT_LISTS.match(path)
        one_item = scope["method"] == "GET" and (ARTIFACT.match(path) or TASK_RUN.match(path))
        if not (lists_runs or lists_contents or one_item):
            await self.app(scope, receive, send)
            return
        plain = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]}
        start, chunks = await call(self.app, plain, None, receive)
        body = b"".join(chunks)
        if start.get("status") == 200:
            answer = json.loads(body)
            if one_item:
                if isinstance(answer, dict) and not await self.may_see_run(person, answer.get("flow_run_id")):
                    await _send(send, *json_response(403, NOT_YOURS))
                    return
            else:
                answer = await self.narrowed(person, answer, runs=bool(lists_runs))
                body = json.dumps(answer).encode()
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"etag")]
                start = {**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        await _send(send, start, body)

    async def narrowed(self, person: Person, answer: Any, *, runs: bool) -> Any:
        """The list (or a page of it) without the items of cases the person may not know."""
        items = answer.get("results") if isinstance(answer, dict) else answer
        if not isinstance(items, list):
            return answer
        kept = [item for item in items if await self.may_see_run(person, item.get("id" if runs else "flow_run_id"))]
        if isinstance(answer, dict):
            return {**answer, "results": kept}
        return kept


async def _send(send: Send, start: Any, body: bytes) -> None:
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_text(send: Send, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await _send(send, {"type": "http.response.start", "status": 200, "headers": headers}, body)
