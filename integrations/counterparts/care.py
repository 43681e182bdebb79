"""A fake care provider (zorgaanbieder) and Wmo desk speaking Weer Thuis' own contract, on loopback.

It serves exactly `integrations/contracts/care-api.yaml` under /api/v1: support requests (ondersteuningsverzoeken)
in, the provider's confirmation or refusal out, the municipality's Wmo decisions (wmo-beschikkingen) for a case,
and whether support still reaches the client on a given date (bereikt). Bodies are checked by hand and refused with
problem details that name the field; a missing or wrong X-Api-Key is a 401. The Idempotency-Key is honoured: the
same key with the same body gets the first answer back and has no second effect (another body under a used key is
a 422). Every effect (a new support request — not a repeat) is kept in the call ledger, so a test can count effects
from elsewhere.

What the provider's staff and the Wmo consultant would do is done over control paths, which are not part of the
contract:

    GET    /_control/ondersteuningsverzoeken[?zaakreferentie=WT-2026-0042]   the requests received (find the id)
    POST   /_control/ondersteuningsverzoeken/{id}/bevestiging
           {"status": "bevestigd", "bevestigdeStartdatum": "2026-04-15"}
           {"status": "afgewezen", "afwijzingsreden": "geen-capaciteit"}
    POST   /_control/ondersteuningsverzoeken/{id}/bereikt
           {"bereikt": true, "laatsteContactOp": "2026-05-04", "vanaf": "2026-05-04"}
                                      how it stands from `vanaf` (default today) on; only for a confirmed request
    POST   /_control/wmo-beschikkingen
           {"zaakreferentie": "WT-2026-0042", "besluit": "toegekend", "ingangsdatum": "2026-04-01",
            "besluitdatum": "2026-03-20"}                     a Wmo decision (besluitdatum: default today)
    DELETE /_control                                          forget everything (the ledger stays)

plus the fault switches of `faults.py` on /_faults.

    python -m integrations.counterparts.care --port 8103 --api-key geheim --ledger .data/ledger.sqlite
"""

from __future__ import annotations

import argparse
import copy
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# The corporation fake's problem details, field checks and body handling are the same for every fake of ours.
from integrations.counterparts.common import (
    Check,
    Register,
    boolean,
    check_fields,
    code,
    counterpart_app,
    iso_date,
    json_body,
    now_iso,
    one_of,
    param,
    problem,
    reference,
    refused,
)
from integrations.counterparts.faults import Faults
from integrations.counterparts.server import serve
from integrations.fakes import CallLedger

SYSTEM = "care_provider"
OPERATION = "request_support"

WMO_DECISIONS = ("toegekend", "afgewezen", "in-behandeling")
REQUEST_STATUSES = ("ontvangen", "bevestigd", "afgewezen")
DECLINE_REASONS = ("geen-capaciteit", "buiten-werkgebied", "doelgroep-past-niet", "geen-financiering", "overig")

REQUEST_FIELDS: dict[str, Check] = {
    "zaakreferentie": reference,
    "zorgaanbieder": code,
    "gewensteStartdatum": iso_date,
}
# wmoBeschikking must be there, but may be null: no Wmo decision is needed, support is financed otherwise.
NULLABLE_REQUEST_FIELDS: dict[str, Check] = {"wmoBeschikking": one_of(*WMO_DECISIONS)}
DECISION_FIELDS: dict[str, Check] = {"zaakreferentie": reference, "besluit": one_of(*WMO_DECISIONS)}


def today() -> str:
    return datetime.now(UTC).date().isoformat()


# State --------------------------------------------------------------------------------------------------------------


class CareRegister(Register):
    """What the fake provider and Wmo desk hold."""

    system = SYSTEM

    def __init__(self, ledger: CallLedger, api_key: str, providers: set[str] | None) -> None:
        self.providers = providers  # None: any provider code is accepted
        super().__init__(ledger, api_key)

    def reset(self) -> None:
        super().reset()
        self.verzoeken: dict[str, dict[str, Any]] = {}
        self.bereikt: dict[str, list[dict[str, Any]]] = {}  # by verzoek id: how it stands from a date on
        self.beschikkingen: list[dict[str, Any]] = []

    def unknown_provider(self, value: Any) -> bool:
        """A well-formed provider code this fake does not answer for."""
        return self.providers is not None and code(value) is None and value not in self.providers

    def reached_on(self, verzoek: dict[str, Any], on: date) -> dict[str, Any]:
        """Whether support reaches the client on `on`: confirmed, started, and the provider said so from a date."""
        unreached: dict[str, Any] = {"bereikt": False, "laatsteContactOp": None}
        if verzoek["status"] != "bevestigd" or date.fromisoformat(verzoek["bevestigdeStartdatum"]) > on:
            return unreached
        stands = [s for s in self.bereikt[verzoek["id"]] if date.fromisoformat(s["vanaf"]) <= on]
        if not stands:
            return unreached
        latest = sorted(stands, key=lambda s: s["vanaf"])[-1]  # a stable sort: of one day, the last posted
        return {"bereikt": latest["bereikt"], "laatsteContactOp": latest["laatsteContactOp"]}


# The app ------------------------------------------------------------------------------------------------------------

Handler = Callable[[Request], Awaitable[Response]]


def care_app(
    ledger: CallLedger, api_key: str, *, providers: set[str] | None = None, faults: Faults | None = None
) -> Starlette:
    """The fake care provider and Wmo desk; `providers`: the provider codes it answers for (None: any)."""
    register = CareRegister(ledger, api_key, providers)
    faults = faults or Faults()

    def guarded(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            refusal = register.authorised(request)
            return refusal if refusal is not None else await handler(request)

        return endpoint

    def query_checked(request: Request, checks: dict[str, Check]) -> list[dict[str, str]]:
        """Every query parameter that is unknown, missing or wrong (all of `checks` are required)."""
        query = request.query_params
        invalid = [param(n, "Onbekende parameter.", "unknown") for n in query if n not in checks]
        for name, check in checks.items():
            if name not in query:
                invalid.append(param(name, "Deze parameter is vereist.", "required"))
            elif reason := check(query[name]):
                invalid.append(param(name, reason))
        return invalid

    async def create_verzoek(request: Request) -> Response:
        key = request.headers.get("idempotency-key", "").strip()
        if not key or len(key) > 255:
            return refused([param("Idempotency-Key", "Deze header is vereist (1 tot 255 tekens).", "required")])
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        with register.lock:
            repeat = register.replay(key, OPERATION, body)
            if repeat is not None:
                return repeat
            invalid = check_fields(body, REQUEST_FIELDS, NULLABLE_REQUEST_FIELDS)
            if "wmoBeschikking" not in body:
                reason = "Dit veld is vereist (null als er geen Wmo-beschikking nodig is)."
                invalid.append(param("wmoBeschikking", reason, "required"))
            if register.unknown_provider(body.get("zorgaanbieder")):
                invalid.append(param("zorgaanbieder", "Deze zorgaanbieder is hier niet bekend.", "unknown"))
            if invalid:
                return refused(invalid)
            made = {
                "id": str(uuid.uuid4()),
                **{name: body[name] for name in (*REQUEST_FIELDS, *NULLABLE_REQUEST_FIELDS)},
                "status": "ontvangen",
                "bevestigdeStartdatum": None,
                "afwijzingsreden": None,
                "ontvangenOp": now_iso(),
                "beantwoordOp": None,
            }
            register.verzoeken[made["id"]] = made
            register.bereikt[made["id"]] = []
            return register.effect(key, OPERATION, body, copy.deepcopy(made))

    def verzoek_of(request: Request) -> dict[str, Any] | Response:
        found = register.verzoeken.get(request.path_params["id"])
        if found is None:
            return problem(404, "Niet gevonden", f"Er is geen ondersteuningsverzoek {request.path_params['id']}.")
        return found

    async def verzoek(request: Request) -> Response:
        with register.lock:
            found = verzoek_of(request)
            return found if isinstance(found, Response) else JSONResponse(found)

    async def bereikt(request: Request) -> Response:
        invalid = query_checked(request, {"peildatum": iso_date})
        with register.lock:
            found = verzoek_of(request)
            if isinstance(found, Response):
                return found
            if invalid:
                return refused(invalid)
            return JSONResponse(register.reached_on(found, date.fromisoformat(request.query_params["peildatum"])))

    async def beschikkingen(request: Request) -> Response:
        invalid = query_checked(request, {"zaakreferentie": reference})
        if invalid:
            return refused(invalid)
        wanted = request.query_params["zaakreferentie"]
        with register.lock:
            found = [b for b in register.beschikkingen if b["zaakreferentie"] == wanted]
        return JSONResponse(sorted(found, key=lambda b: b["besluitdatum"]))  # stable: same day, oldest first

    # Control paths: what the provider's staff and the Wmo consultant would do -----------------------------------

    async def control_verzoeken(request: Request) -> Response:
        wanted = request.query_params.get("zaakreferentie")
        with register.lock:
            found = [v for v in register.verzoeken.values() if wanted in (None, v["zaakreferentie"])]
        return JSONResponse(found)

    async def control_bevestiging(request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        invalid = check_fields(
            body,
            {"status": one_of("bevestigd", "afgewezen")},
            {"bevestigdeStartdatum": iso_date, "afwijzingsreden": one_of(*DECLINE_REASONS)},
        )
        confirmed = body.get("status") == "bevestigd"
        for field, wanted in (("bevestigdeStartdatum", confirmed), ("afwijzingsreden", not confirmed)):
            if wanted and body.get(field) is None:
                invalid.append(param(field, f"Vereist bij {body.get('status')}.", "required"))
            if not wanted and body.get(field) is not None:
                invalid.append(param(field, f"Niet bij {body.get('status')}."))
        if invalid:
            return refused(invalid)
        answer = {
            "status": body["status"],
            "bevestigdeStartdatum": body.get("bevestigdeStartdatum"),
            "afwijzingsreden": body.get("afwijzingsreden"),
        }
        with register.lock:
            found = verzoek_of(request)
            if isinstance(found, Response):
                return found
            if found["status"] != "ontvangen":
                if all(found[name] == value for name, value in answer.items()):
                    return JSONResponse(found)  # the same answer again
                return problem(409, "Al beantwoord", f"Het ondersteuningsverzoek is al {found['status']}.")
            found.update(answer, beantwoordOp=now_iso())
            return JSONResponse(found)

    async def control_bereikt(request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        invalid = check_fields(body, {"bereikt": boolean}, {"laatsteContactOp": iso_date, "vanaf": iso_date})
        since: str = body.get("vanaf") or today()
        last_contact: str | None = body.get("laatsteContactOp")
        if not invalid and last_contact is not None and last_contact > since:
            invalid.append(param("laatsteContactOp", "Niet na vanaf: een contact ligt niet in de toekomst."))
        if invalid:
            return refused(invalid)
        stand = {"vanaf": since, "bereikt": body["bereikt"], "laatsteContactOp": last_contact}
        with register.lock:
            found = verzoek_of(request)
            if isinstance(found, Response):
                return found
            if found["status"] != "bevestigd":
                return problem(409, "Niet bevestigd", "Alleen bevestigde begeleiding kan de cliënt bereiken.")
            register.bereikt[found["id"]].append(stand)
            return JSONResponse(stand, 201)

    async def control_beschikking(request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        invalid = check_fields(body, DECISION_FIELDS, {"ingangsdatum": iso_date, "besluitdatum": iso_date})
        granted = body.get("besluit") == "toegekend"
        if granted and body.get("ingangsdatum") is None:
            invalid.append(param("ingangsdatum", "Vereist bij toegekend.", "required"))
        if not granted and body.get("ingangsdatum") is not None:
            invalid.append(param("ingangsdatum", "Alleen bij toegekend."))
        if invalid:
            return refused(invalid)
        decision = {
            "id": str(uuid.uuid4()),
            "zaakreferentie": body["zaakreferentie"],
            "besluit": body["besluit"],
            "ingangsdatum": body.get("ingangsdatum"),
            "besluitdatum": body.get("besluitdatum") or today(),
        }
        with register.lock:
            register.beschikkingen.append(decision)
        return JSONResponse(decision, 201)

    api = [
        Route("/ondersteuningsverzoeken", guarded(create_verzoek), methods=["POST"]),
        Route("/ondersteuningsverzoeken/{id}", guarded(verzoek), methods=["GET"]),
        Route("/ondersteuningsverzoeken/{id}/bereikt", guarded(bereikt), methods=["GET"]),
        Route("/wmo-beschikkingen", guarded(beschikkingen), methods=["GET"]),
    ]
    control = [
        Route("/ondersteuningsverzoeken", control_verzoeken, methods=["GET"]),
        Route("/ondersteuningsverzoeken/{id}/bevestiging", control_bevestiging, methods=["POST"]),
        Route("/ondersteuningsverzoeken/{id}/bereikt", control_bereikt, methods=["POST"]),
        Route("/wmo-beschikkingen", control_beschikking, methods=["POST"]),
    ]
    return counterpart_app(register, faults, api, control)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Nep-zorgaanbieder en Wmo-loket (Weer Thuis zorgaanbieder-API) op 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=8103)
    parser.add_argument("--api-key", default="geheim", help="de X-Api-Key die Weer Thuis moet meesturen")
    parser.add_argument("--ledger", type=Path, default=Path(".data/fake-counterparts.sqlite"))
    parser.add_argument(
        "--provider", action="append", default=[], help="zorgaanbiedercode die deze nep-zorgaanbieder bedient"
    )
    args = parser.parse_args(argv)
    app = care_app(CallLedger(args.ledger), args.api_key, providers=set(args.provider) or None)
    serve(app, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
