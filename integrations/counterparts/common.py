"""What the fake counterparts share: problem details, field checks, the Idempotency-Key register, the app's frame.

Each fake (corporation, care provider, e-signing) serves its own contract; these are the parts that behave the
same everywhere: errors as RFC 7807 problem details naming the field, the same key giving the first answer back
(another body under a used key is a 422), each effect written once to the call ledger, and control paths, fault
switches and error handlers around the contract's routes.
"""

from __future__ import annotations

import copy
import hmac
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from integrations.counterparts.faults import FaultMiddleware, Faults
from integrations.fakes import CallLedger

API = "/api/v1"
PROBLEM = "application/problem+json"
REFERENCE = re.compile(r"^WT-\d{4}-\d{4}$")
CODE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

# What may never be in free text sent to or from a counterpart: an e-mail address or a long run of digits
# (a BSN, a phone number). Names and addresses cannot be told apart by pattern; the text says what is asked.
PERSONAL_DATA = re.compile(r"@|\d[\d\s-]{7,}\d")


# Errors -------------------------------------------------------------------------------------------------------------


def problem(
    status: int,
    title: str,
    detail: str = "",
    invalid: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Problem details (RFC 7807), with `invalidParams` naming the fields of a refused request."""
    body: dict[str, Any] = {
        "type": f"https://weerthuis.example.org/problemen/{status}",
        "title": title,
        "status": status,
        "detail": detail or title,
        "instance": f"urn:uuid:{uuid.uuid4()}",
    }
    if invalid:
        body["invalidParams"] = invalid
    return JSONResponse(body, status, headers=headers, media_type=PROBLEM)


def refused(invalid: list[dict[str, str]]) -> Response:
    detail = "; ".join(f"{p['name']}: {p['reason']}" for p in invalid)
    return problem(400, "Ongeldig verzoek", detail, invalid)


def param(name: str, reason: str, code: str = "invalid") -> dict[str, str]:
    return {"name": name, "code": code, "reason": reason}


# Field checks: each returns why a value is wrong, or None -----------------------------------------------------------

Check = Callable[[Any], str | None]


def reference(value: Any) -> str | None:
    if not isinstance(value, str) or not REFERENCE.fullmatch(value):
        return "Een zaakreferentie van Weer Thuis, zoals WT-2026-0042."
    return None


def code(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 60 or not CODE.fullmatch(value):
        return "Een code: kleine letters, cijfers en streepjes, zoals domesta."
    return None


def text(max_length: int) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or not value.strip() or len(value) > max_length:
            return f"Tekst van 1 tot {max_length} tekens."
        if PERSONAL_DATA.search(value):
            return "Geen persoonsgegevens (e-mailadres, telefoonnummer, BSN)."
        return None

    return check


def household_size(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20:
        return "Een geheel getal van 1 tot en met 20."
    return None


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true of false."


def one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else f"Een van: {', '.join(choices)}."

    return check


def iso_date(value: Any) -> str | None:
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return "Een datum als 2026-03-02."
    return None if len(value) == 10 else "Een datum als 2026-03-02."


def iso_datetime(value: Any) -> str | None:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return "Een tijdstip met tijdzone, zoals 2026-03-10T14:00:00+01:00."
    return None if moment.tzinfo is not None else "Een tijdstip met tijdzone, zoals 2026-03-10T14:00:00+01:00."


def amount(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or round(value, 2) != value:
        return "Een bedrag in euro's, niet negatief, op twee decimalen."
    return None


def check_fields(
    body: dict[str, Any], required: dict[str, Check], optional: dict[str, Check] | None = None
) -> list[dict[str, str]]:
    """Every field that is missing, unknown or wrong, each with its reason."""
    optional = optional or {}
    invalid = [
        param(name, "Onbekend veld.", "unknown") for name in body if name not in required and name not in optional
    ]
    for name, check in {**required, **optional}.items():
        if name not in body or body[name] is None:
            if name in required:
                invalid.append(param(name, "Dit veld is vereist.", "required"))
            continue
        reason = check(body[name])
        if reason:
            invalid.append(param(name, reason))
    return invalid


# State --------------------------------------------------------------------------------------------------------------


@dataclass
class Reply:
    """The first answer to an Idempotency-Key, with what was asked, so a repeat can be told from a misuse."""

    operation: str
    request: dict[str, Any]
    status: int
    body: dict[str, Any]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Register:
    """What a fake holds, under one lock (uvicorn serves requests concurrently), with its first answers by key."""

    system = ""  # the ledger's name for this counterpart

    def __init__(self, ledger: CallLedger, api_key: str) -> None:
        self.ledger = ledger
        self.api_key = api_key
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.replies: dict[str, Reply] = {}
        self.replays = 0  # how many repeats got their first answer back

    def authorised(self, request: Request) -> Response | None:
        given = request.headers.get("x-api-key", "")
        if not given or not hmac.compare_digest(given.encode(), self.api_key.encode()):
            return problem(401, "Niet geautoriseerd", "Geen of een onbekende X-Api-Key.")
        return None

    def replay(self, key: str, operation: str, body: dict[str, Any]) -> Response | None:
        """The first answer to this key again, a 422 if the key was used for something else, or None."""
        first = self.replies.get(key)
        if first is None:
            return None
        if first.operation != operation or first.request != body:
            return problem(
                422,
                "Idempotency-Key al gebruikt",
                "Deze Idempotency-Key is al gebruikt voor een verzoek met een andere inhoud.",
                [param("Idempotency-Key", "Al gebruikt voor een ander verzoek.", "idempotency-key-reused")],
            )
        self.replays += 1
        return JSONResponse(copy.deepcopy(first.body), first.status, headers={"Idempotent-Replayed": "true"})

    def effect(self, key: str, operation: str, request: dict[str, Any], made: dict[str, Any]) -> Response:
        """Keep the new thing's first answer under its key, write the effect to the ledger, answer 201."""
        self.replies[key] = Reply(operation, copy.deepcopy(request), 201, copy.deepcopy(made))
        self.ledger.record(self.system, operation, key, request)
        return JSONResponse(made, 201)


# The body is read before the fault switches run ---------------------------------------------------------------------


class ReadBodyFirst:
    """Reads the whole request body first, as a real server has it before it starts working.

    A planned `timeout:N` answers only after N seconds; by then the client has given up and closed the
    connection, and uvicorn would hand the app a disconnect instead of the body. Read up front, the request is still
    carried out — the late effect a retry with the same Idempotency-Key must not double.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # gone before the request was complete: nothing to carry out
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def json_body(request: Request) -> dict[str, Any] | Response:
    """The request's JSON object, or the problem to answer."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return problem(415, "Verkeerd mediatype", "Content-Type moet application/json zijn.")
    try:
        body = await request.json()
    except ValueError:
        return refused([param("body", "Geen geldige JSON.", "parse-error")])
    return body if isinstance(body, dict) else refused([param("body", "Moet een JSON-object zijn.")])


def counterpart_app(
    register: Register, faults: Faults, api: Sequence[BaseRoute], control: Sequence[BaseRoute]
) -> Starlette:
    """The contract's routes under /api/v1, control paths under /_control (DELETE forgets all), fault switches,
    the body read first, and every error — unknown path, wrong method, crash — as problem details."""

    async def control_reset(request: Request) -> Response:
        with register.lock:
            register.reset()
        return Response(status_code=204)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        titles = {404: "Niet gevonden", 405: "Methode niet toegestaan"}
        return problem(status, titles.get(status, "Fout"), f"{request.method} {request.url.path}")

    async def crashed(request: Request, exc: Exception) -> Response:
        return problem(500, "Interne fout", type(exc).__name__)

    app = Starlette(
        routes=[
            *faults.routes(),
            Route("/_control", control_reset, methods=["DELETE"]),
            Mount("/_control", routes=list(control)),
            Mount(API, routes=list(api)),
        ],
        middleware=[Middleware(ReadBodyFirst), Middleware(FaultMiddleware, faults=faults)],
        exception_handlers={HTTPException: not_found, Exception: crashed},
    )
    app.state.register = register
    app.state.faults = faults
    return app
