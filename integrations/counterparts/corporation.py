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
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.counterparts.common import (
    Check,
    Register,
    amount,
    boolean,
    check_fields,
    code,
    counterpart_app,
    household_size,
    iso_date,
    iso_datetime,
    json_body,
    now_iso,
    one_of,
    param,
    problem,
    reference,
    refused,
    text,
)
from integrations.counterparts.faults import Faults
from integrations.counterparts.server import serve
from integrations.fakes import CallLedger

SYSTEM = "corporation"

NOMINATION_STATUSES = ("ontvangen", "geaccepteerd", "afgewezen")
DECLINE_REASONS = ("geen-passend-aanbod", "doelgroep-past-niet", "eerdere-huurachterstand", "overig")
CONTRACT_FORMS = ("regulier", "driepartijen", "intermediair")
SIGNAL_KINDS = ("huurachterstand", "overlast")
SEVERITIES = ("geel", "rood")
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


class CorporationRegister(Register):
    """What the fake corporation holds."""

    system = SYSTEM

    def __init__(self, ledger: CallLedger, api_key: str, corporations: set[str] | None) -> None:
        self.corporations = corporations  # None: any corporation code is accepted
        super().__init__(ledger, api_key)

    def reset(self) -> None:
        super().reset()
        self.voordrachten: dict[str, dict[str, Any]] = {}
        self.aanbiedingen: dict[str, list[dict[str, Any]]] = {}  # by voordracht id
        self.huurovereenkomsten: dict[str, dict[str, Any]] = {}
        self.signalen: list[dict[str, Any]] = []

    def unknown_corporation(self, value: Any) -> bool:
        """A well-formed corporation code this fake does not answer for."""
        return self.corporations is not None and code(value) is None and value not in self.corporations


# The app ------------------------------------------------------------------------------------------------------------

Handler = Callable[[Request], Awaitable[Response]]
Maker = Callable[[dict[str, Any]], dict[str, Any]]


def corporation_app(
    ledger: CallLedger, api_key: str, *, corporations: set[str] | None = None, faults: Faults | None = None
) -> Starlette:
    """The fake corporation; `corporations`: the codes it answers for (None: any)."""
    register = CorporationRegister(ledger, api_key, corporations)
    faults = faults or Faults()

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
    return counterpart_app(register, faults, api, control)


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
