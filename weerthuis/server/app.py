"""The Prefect server as Weer Thuis runs it: Prefect's own FastAPI app (API, UI and its services), wrapped.

Prefect OSS is served unchanged. On the embedded SQLite database a write that hit "database is locked" is tried
again inside the server (RetryWhenLocked). The wrapper rewrites what people read, in Dutch (refusals.py): the UI's
check of a form while it is filled in (POST /api/ui/schemas/validate: the message under each field), and a
refused form (POST /api/flow_runs/{id}/resume: the notice naming each field as the form shows it). The UI's pages
get a small style correction (ui.py: the case summary above a long form keeps its height). Around it all, login
and who-may-decide (secured.py, guard.py): nothing is served to anyone who did not log in or show a token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from starlette.types import ASGIApp, Receive, Scope, Send

from config.settings import Settings
from weerthuis.server.asgi import call, read_body
from weerthuis.server.refusals import field_messages, refusal
from weerthuis.server.secured import secured
from weerthuis.server.ui import UiTweaks

logger = logging.getLogger("weerthuis.server")

RESUME = re.compile(r"^/api/flow_runs/(?P<id>[0-9a-fA-F-]{36})/resume$")
VALIDATE = "/api/ui/schemas/validate"


class DutchRefusals:
    """ASGI middleware: a form's check and a form's refusal say in Dutch what is wrong, field by field."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" and scope["method"] == "POST" else ""
        match = RESUME.match(path)
        if match is None and path != VALIDATE:
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        # Read plainly (Prefect's API gzips larger answers); these answers are small.
        plain = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]}
        start, chunks = await call(self.app, plain, body, receive)
        answer = b"".join(chunks)
        try:
            if match is not None:
                rewritten = await _refusal_in_dutch(UUID(match["id"]), body, answer)
            else:
                rewritten = _check_in_dutch(body, answer)
        except Exception:  # the English answer is still an answer: never fail a request over its wording
            logger.exception("Kon de melding niet in het Nederlands zetten")
            rewritten = None
        if rewritten is not None:
            answer = rewritten
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            start = {**start, "headers": [*headers, (b"content-length", str(len(answer)).encode())]}
        await send(start)
        await send({"type": "http.response.body", "body": answer, "more_body": False})


def _check_in_dutch(request: bytes, response: bytes) -> bytes | None:
    from prefect.utilities.schema_tools.validation import preprocess_schema, validate

    result = json.loads(response)
    if not isinstance(result, dict) or result.get("valid", True):
        return None
    asked = json.loads(request)
    schema = preprocess_schema(asked["schema"])
    dutch = field_messages(validate(asked.get("values") or {}, schema, preprocess=False), schema)
    for entry in result.get("errors", []):
        if isinstance(entry, dict) and entry.get("property") in dutch:
            entry["errors"] = dutch[entry["property"]]
    return json.dumps(result).encode()


async def _refusal_in_dutch(flow_run_id: UUID, request: bytes, response: bytes) -> bytes | None:
    result = json.loads(response)
    run_input = json.loads(request or b"{}").get("run_input") or {}
    reason = (result.get("details") or {}).get("reason", "") if isinstance(result, dict) else ""
    if result.get("status") != "REJECT" or "Validation failed" not in reason:
        return None
    schema = await _form_schema(flow_run_id)
    if schema is None:
        return None
    from prefect.utilities.schema_tools.validation import validate

    errors = validate(run_input, schema, raise_on_error=False)
    if not errors:
        return None
    result["details"]["reason"] = refusal(errors, schema)
    return json.dumps(result).encode()


async def _form_schema(flow_run_id: UUID) -> dict[str, Any] | None:
    """The schema of the form the run waits on, as the server stored it."""
    from prefect.server import models
    from prefect.server.database import provide_database_interface

    read_run: Any = models.flow_runs.read_flow_run  # (their db-injecting decorators lose the types)
    read_input: Any = models.flow_run_input.read_flow_run_input
    db = provide_database_interface()
    async with db.session_context() as session:
        run = await read_run(session, flow_run_id)
        keyset = run.state.state_details.run_input_keyset if run is not None and run.state is not None else None
        if not keyset:
            return None
        stored = await read_input(session=session, flow_run_id=flow_run_id, key=keyset["schema"])
    return json.loads(stored.value) if stored is not None else None


class RetryWhenLocked:
    """ASGI middleware for the embedded SQLite database: a write that the server answers with 500 or 503 (SQLite's
    "database is locked" under a burst; the failed transaction was rolled back) is tried again inside the server,
    a few times with a growing wait, before the client sees it. Prefect's own clients retry 503 but not 500, and
    the UI shows "Something went wrong"; with this a burst of approvals lands."""

    WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, app: ASGIApp, waits: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)) -> None:
        self.app = app
        self.waits = waits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in self.WRITES or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        for attempt, wait in enumerate((*self.waits, None)):
            start, chunks = await call(self.app, scope, body, receive)
            if start.get("status") not in (500, 503) or wait is None:
                break
            logger.warning(
                "%s %s gaf %s; opnieuw (poging %d)", scope["method"], scope["path"], start["status"], attempt + 2
            )
            await asyncio.sleep(wait)
        await send(start)
        await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": False})


def on_sqlite() -> bool:
    from prefect.settings import get_current_settings

    url = get_current_settings().server.database.connection_url
    return url is None or url.get_secret_value().startswith("sqlite")


def immediate_sqlite_transactions() -> None:
    """Every SQLite write transaction of the server starts with BEGIN IMMEDIATE, so it waits its turn (the busy
    timeout) instead of failing. Prefect 3.8.8 begins most of them DEFERRED: one that reads and then writes while
    another writer committed gets "database is locked" at once, without waiting — the 503s and 500s of a burst.
    Reads outside a transaction are untouched (WAL lets them run beside the writer)."""
    from prefect.server.database.configurations import AioSqliteConfiguration

    original = AioSqliteConfiguration.begin_transaction
    if getattr(original, "immediate", False):
        return

    @asynccontextmanager
    async def begin_transaction(self: Any, session: Any, with_for_update: bool = False) -> AsyncIterator[Any]:
        async with original(self, session, with_for_update=True) as transaction:
            yield transaction

    begin_transaction.immediate = True  # type: ignore[attr-defined]
    AioSqliteConfiguration.begin_transaction = begin_transaction  # type: ignore[method-assign]


class HttpRequestLimit:
    """Prefect's request limit on SQLite (at most `limit` requests at once), for HTTP requests only.

    Prefect 3.8.8 counts websockets too, and every flow-run process keeps its event sockets (`/api/events/in`)
    open as long as it runs: measured, 50 case runs started at once filled the 100 places with sockets and every
    request after that — the runs' own state changes, `/api/health` — waited forever; the server hung."""

    def __init__(self, app: ASGIApp, limit: float) -> None:
        import anyio

        self.app = app
        self._limiter = anyio.CapacityLimiter(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with self._limiter:
            await self.app(scope, receive, send)


def limit_http_requests_only(app: Any) -> None:
    """Put HttpRequestLimit where Prefect's app has its RequestLimitMiddleware (before the app first runs)."""
    from prefect.server.api.server import RequestLimitMiddleware
    from starlette.middleware import Middleware

    assert app.middleware_stack is None, "the middleware of a running app cannot change"
    app.user_middleware = [
        Middleware(HttpRequestLimit, *m.args, **m.kwargs) if m.cls is RequestLimitMiddleware else m
        for m in app.user_middleware
    ]


def create_app(settings: Settings | None = None) -> ASGIApp:
    """Prefect's app, wrapped: behind login (secured.py), Dutch refusals, the UI's corrections, SQLite retries."""
    from prefect.server.api.server import create_app as prefect_app

    prefect = prefect_app(final=True)
    if on_sqlite():
        immediate_sqlite_transactions()
        limit_http_requests_only(prefect)
    app: ASGIApp = UiTweaks(DutchRefusals(prefect))
    if on_sqlite():
        app = RetryWhenLocked(app)
    return secured(app, settings or Settings())
