"""A fake housing corporation (woningcorporatie) speaking Weer Thuis' own contract, on loopback.

It serves exactly `integrations/contracts/corporation-api.yaml` under /api/v1: nominations (voordrachten) in,
the corporation's answer and its offers (aanbiedingen) out, signed leases (huurovereenkomsten) registered,
signals (signalen) about a tenancy read. Bodies are checked by hand and refused with problem details that name the
field; a missing or wrong X-Api-Key is a 401. The Idempotency-Key is honoured: the same key with the same body
gets the first answer back and has no second effect (another body under a used key is a 422). Every effect (a new
nomination, a new lease — not a repeat) is kept in the call ledger, so a test can count effects from elsewhere.

What a woonconsulent would do at the corporation is done over control paths, which are not part of the contract:

    GET    /_control/voordrachten[?zaakreferentie=WT-2026-0042]     the nominations received (find the id)
    POST   /_control/voordrachten/{id}/antwoord    {"status": "geaccepteerd"}
                                                   {"status": "afgewezen", "afwijzingsreden": "overig"}
    POST   /_control/voordrachten/{id}/aanbiedingen
           {"verhuureenheid": "DOM-EMM-0815", "wijk": "angelslo", "kaleHuurprijs": 612.35,
            "bezichtiging": "2026-03-10T14:00:00+01:00"}                  an offer (after acceptance)
    POST   /_control/signalen {"zaakreferentie": "WT-2026-0042", "soort": "huurachterstand", "ernst": "geel",
                               "omschrijving": "Twee maanden achterstand."}                 a signal
    GET    /_control/huurovereenkomsten                            the leases registered
    DELETE /_control                                              forget everything (the ledger stays)

plus the fault switches of `faults.py` on /_faults.

    python -m integrations.counterparts.corporation --port 8102 --api-key geheim --ledger .data/ledger.sqlite
"""

from __future__ import annotations

import argparse
import copy
import hmac
import re
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from integrations.counterparts.faults import FaultMiddleware, Faults
from integrations.counterparts.server import serve
from integrations.fakes import CallLedger

API = "/api/v1"
SYSTEM = "corporation"
PROBLEM = "application/problem+json"

REFERENCE = re.compile(r"^WT-\d{4}-\d{4}$")
CODE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
NOMINATION_STATUSES = ("ontvangen", "geaccepteerd", "afgewezen")
DECLINE_REASONS = ("geen-passend-aanbod", "doelgroep-past-niet", "eerdere-huurachterstand", "overig")
CONTRACT_FORMS = ("regulier", "driepartijen", "intermediair")
SIGNAL_KINDS = ("huurachterstand", "overlast")
SEVERITIES = ("geel", "rood")
# What may never be in free text sent to or from the corporation: an e-mail address or a long run of digits
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


NOMINATION_FIELDS: dict[str, Check] = {
    "zaakreferentie": reference,
    "corporatie": code,
    "huishoudgrootte": household_size,
    "ambulanteBegeleiding": boolean,
    "zorgaanbieder": code,
}
LEASE_FIELDS: dict[str, Check] = {
    "zaakreferentie": reference,
    "verhuureenheid": text(60),
    "contractvorm": one_of(*CONTRACT_FORMS),
    "tijdelijk": boolean,
    "getekendOp": iso_date,
}
OFFER_FIELDS: dict[str, Check] = {
    "verhuureenheid": text(60),
    "wijk": code,
    "kaleHuurprijs": amount,
    "bezichtiging": iso_datetime,
}
SIGNAL_FIELDS: dict[str, Check] = {
    "zaakreferentie": reference,
    "soort": one_of(*SIGNAL_KINDS),
    "ernst": one_of(*SEVERITIES),
    "omschrijving": text(500),
}


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


class CorporationRegister:
    """What the fake corporation holds; one lock, since uvicorn serves requests concurrently."""

    def __init__(self, ledger: CallLedger, api_key: str, corporations: set[str] | None) -> None:
        self.ledger = ledger
        self.api_key = api_key
        self.corporations = corporations  # None: any corporation code is accepted
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.voordrachten: dict[str, dict[str, Any]] = {}
        self.aanbiedingen: dict[str, list[dict[str, Any]]] = {}  # by voordracht id
        self.huurovereenkomsten: dict[str, dict[str, Any]] = {}
        self.signalen: list[dict[str, Any]] = []
        self.replies: dict[str, Reply] = {}
        self.replays = 0  # how many repeats got their first answer back

    def unknown_corporation(self, value: Any) -> bool:
        """A well-formed corporation code this fake does not answer for."""
        return self.corporations is not None and code(value) is None and value not in self.corporations

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
        self.ledger.record(SYSTEM, operation, key, request)
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


# The app ------------------------------------------------------------------------------------------------------------

Handler = Callable[[Request], Awaitable[Response]]
Maker = Callable[[dict[str, Any]], dict[str, Any]]


def corporation_app(
    ledger: CallLedger, api_key: str, *, corporations: set[str] | None = None, faults: Faults | None = None
) -> Starlette:
    """The fake corporation; `corporations`: the codes it answers for (None: any)."""
    register = CorporationRegister(ledger, api_key, corporations)
    faults = faults or Faults()

    async def json_body(request: Request) -> dict[str, Any] | Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return problem(415, "Verkeerd mediatype", "Content-Type moet application/json zijn.")
        try:
            body = await request.json()
        except ValueError:
            return refused([param("body", "Geen geldige JSON.", "parse-error")])
        return body if isinstance(body, dict) else refused([param("body", "Moet een JSON-object zijn.")])

    def guarded(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            refusal = register.authorised(request)
            return refusal if refusal is not None else await handler(request)

        return endpoint

    def once(operation: str, required: dict[str, Check], optional: dict[str, Check], make: Maker) -> Handler:
        """A POST that makes something: Idempotency-Key, body, replay or checks, then the effect."""

        async def endpoint(request: Request) -> Response:
            key = request.headers.get("idempotency-key", "").strip()
            if not key or len(key) > 255:
                return refused([param("Idempotency-Key", "Deze header is vereist (1 tot 255 tekens).", "required")])
            body = await json_body(request)
            if isinstance(body, Response):
                return body
            with register.lock:
                repeat = register.replay(key, operation, body)
                if repeat is not None:
                    return repeat
                invalid = check_fields(body, required, optional)
                if register.unknown_corporation(body.get("corporatie")):
                    invalid.append(param("corporatie", "Deze corporatie is hier niet bekend.", "unknown"))
                if invalid:
                    return refused(invalid)
                return register.effect(key, operation, body, make(body))

        return guarded(endpoint)

    def new_voordracht(body: dict[str, Any]) -> dict[str, Any]:
        made = {
            "id": str(uuid.uuid4()),
            **{name: body[name] for name in NOMINATION_FIELDS},
            "status": "ontvangen",
            "afwijzingsreden": None,
            "ontvangenOp": now_iso(),
            "beantwoordOp": None,
        }
        register.voordrachten[made["id"]] = made
        register.aanbiedingen[made["id"]] = []
        return copy.deepcopy(made)

    def new_huurovereenkomst(body: dict[str, Any]) -> dict[str, Any]:
        made = {"id": str(uuid.uuid4()), **body, "geregistreerdOp": now_iso()}
        register.huurovereenkomsten[made["id"]] = made
        return copy.deepcopy(made)

    def voordracht_of(request: Request) -> dict[str, Any] | Response:
        found = register.voordrachten.get(request.path_params["id"])
        if found is None:
            return problem(404, "Niet gevonden", f"Er is geen voordracht {request.path_params['id']}.")
        return found

    async def voordracht(request: Request) -> Response:
        with register.lock:
            found = voordracht_of(request)
            return found if isinstance(found, Response) else JSONResponse(found)

    async def aanbiedingen(request: Request) -> Response:
        with register.lock:
            found = voordracht_of(request)
            if isinstance(found, Response):
                return found
            return JSONResponse(register.aanbiedingen[found["id"]])

    async def signalen(request: Request) -> Response:
        query = request.query_params
        invalid = [param(n, "Onbekende parameter.", "unknown") for n in query if n not in ("zaakreferentie", "sinds")]
        if "zaakreferentie" not in query:
            invalid.append(param("zaakreferentie", "Deze parameter is vereist.", "required"))
        elif reason := reference(query["zaakreferentie"]):
            invalid.append(param("zaakreferentie", reason))
        if "sinds" in query and (reason := iso_date(query["sinds"])):
            invalid.append(param("sinds", reason))
        if invalid:
            return refused(invalid)
        since = date.fromisoformat(query["sinds"]) if "sinds" in query else date.min
        with register.lock:
            found = [
                s
                for s in register.signalen
                if s["zaakreferentie"] == query["zaakreferentie"]
                and datetime.fromisoformat(s["gemeldOp"]).date() >= since
            ]
        return JSONResponse(sorted(found, key=lambda s: s["gemeldOp"]))

    # Control paths: what the corporation's own staff would do ---------------------------------------------------

    async def control_voordrachten(request: Request) -> Response:
        wanted = request.query_params.get("zaakreferentie")
        with register.lock:
            found = [v for v in register.voordrachten.values() if wanted in (None, v["zaakreferentie"])]
        return JSONResponse(found)

    async def control_antwoord(request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        invalid = check_fields(
            body, {"status": one_of("geaccepteerd", "afgewezen")}, {"afwijzingsreden": one_of(*DECLINE_REASONS)}
        )
        if body.get("status") == "afgewezen" and body.get("afwijzingsreden") is None:
            invalid.append(param("afwijzingsreden", "Vereist bij afgewezen.", "required"))
        if body.get("status") == "geaccepteerd" and body.get("afwijzingsreden") is not None:
            invalid.append(param("afwijzingsreden", "Alleen bij afgewezen."))
        if invalid:
            return refused(invalid)
        with register.lock:
            found = voordracht_of(request)
            if isinstance(found, Response):
                return found
            if found["status"] != "ontvangen":
                if found["status"] == body["status"] and found["afwijzingsreden"] == body.get("afwijzingsreden"):
                    return JSONResponse(found)  # the same answer again
                return problem(409, "Al beantwoord", f"De voordracht is al {found['status']}.")
            found.update(status=body["status"], afwijzingsreden=body.get("afwijzingsreden"), beantwoordOp=now_iso())
            return JSONResponse(found)

    async def control_aanbieding(request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        invalid = check_fields(body, OFFER_FIELDS, {"aangebodenOp": iso_datetime})
        if invalid:
            return refused(invalid)
        with register.lock:
            found = voordracht_of(request)
            if isinstance(found, Response):
                return found
            if found["status"] != "geaccepteerd":
                return problem(409, "Niet geaccepteerd", "Alleen een geaccepteerde voordracht krijgt een aanbod.")
            offer = {"id": str(uuid.uuid4()), **body, "aangebodenOp": body.get("aangebodenOp") or now_iso()}
            offer["kaleHuurprijs"] = round(float(offer["kaleHuurprijs"]), 2)
            register.aanbiedingen[found["id"]].append(offer)
            return JSONResponse(offer, 201)

    async def control_signaal(request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        invalid = check_fields(body, SIGNAL_FIELDS, {"gemeldOp": iso_datetime})
        if invalid:
            return refused(invalid)
        signal = {"id": str(uuid.uuid4()), **body, "gemeldOp": body.get("gemeldOp") or now_iso()}
        with register.lock:
            register.signalen.append(signal)
        return JSONResponse(signal, 201)

    async def control_huurovereenkomsten(request: Request) -> Response:
        with register.lock:
            return JSONResponse(list(register.huurovereenkomsten.values()))

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

    api = [
        Route("/voordrachten", once("submit_nomination", NOMINATION_FIELDS, {}, new_voordracht), methods=["POST"]),
        Route("/voordrachten/{id}", guarded(voordracht), methods=["GET"]),
        Route("/voordrachten/{id}/aanbiedingen", guarded(aanbiedingen), methods=["GET"]),
        Route(
            "/huurovereenkomsten",
            once("register_lease", LEASE_FIELDS, {"corporatie": code}, new_huurovereenkomst),
            methods=["POST"],
        ),
        Route("/signalen", guarded(signalen), methods=["GET"]),
    ]
    control = [
        Route("/voordrachten", control_voordrachten, methods=["GET"]),
        Route("/voordrachten/{id}/antwoord", control_antwoord, methods=["POST"]),
        Route("/voordrachten/{id}/aanbiedingen", control_aanbieding, methods=["POST"]),
        Route("/signalen", control_signaal, methods=["POST"]),
        Route("/huurovereenkomsten", control_huurovereenkomsten, methods=["GET"]),
    ]
    app = Starlette(
        routes=[
            *faults.routes(),
            Route("/_control", control_reset, methods=["DELETE"]),
            Mount("/_control", routes=control),
            Mount(API, routes=api),
        ],
        middleware=[Middleware(ReadBodyFirst), Middleware(FaultMiddleware, faults=faults)],
        exception_handlers={HTTPException: not_found, Exception: crashed},
    )
    app.state.register = register
    app.state.faults = faults
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Nep-woningcorporatie (Weer Thuis corporatie-API) op 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8102)
    parser.add_argument("--api-key", default="geheim", help="de X-Api-Key die Weer Thuis moet meesturen")
    parser.add_argument("--ledger", type=Path, default=Path(".data/fake-counterparts.sqlite"))
    parser.add_argument(
        "--corporation", action="append", default=[], help="corporatiecode die deze nep-corporatie bedient"
    )
    args = parser.parse_args(argv)
    app = corporation_app(CallLedger(args.ledger), args.api_key, corporations=set(args.corporation) or None)
    serve(app, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
