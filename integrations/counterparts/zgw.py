"""A fake municipal zaaksysteem speaking the ZGW Zaken API 1.5.1 (the parts Weer Thuis uses), on loopback.

Zaken, statussen, rollen and resultaten as the standard shapes them (the contract tests check every response
against the official OpenAPI file), JWT (HS256) authorisation with known client ids and secrets, ZGW error bodies,
the fault switches of `faults.py`, and the Idempotency-Key header honoured. Every effect (a new zaak, status,
rol or resultaat — not a repeat) is kept in the call ledger, so a test can count effects from another process.

    python -m integrations.counterparts.zgw --port 8101 --client weerthuis:<geheim> --ledger .data/ledger.sqlite
"""

from __future__ import annotations

import argparse
import json
import threading
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from integrations.counterparts.faults import FaultMiddleware, Faults
from integrations.counterparts.server import serve
from integrations.fakes import CallLedger

API = "/zaken/api/v1"
DEMO_SECRET = "demo-geheim-van-het-lokale-nep-zaaksysteem"  # the demo's only; a real secret lives in the block
HEADERS = {"API-version": "1.5.1"}
CRS_HEADERS = {**HEADERS, "Content-Crs": "EPSG:4326"}


def fout(status: int, code: str, title: str, detail: str = "", invalid: list[dict[str, str]] | None = None) -> Response:
    """The standard's error body (Fout, or ValidatieFout with invalidParams)."""
    body: dict[str, Any] = {
        "type": f"https://zaken.example.nl/ref/fouten/{code}/",
        "code": code,
        "title": title,
        "status": status,
        "detail": detail or title,
        "instance": f"urn:uuid:{uuid.uuid4()}",
    }
    if invalid is not None:
        body["invalidParams"] = invalid
    return JSONResponse(body, status, headers=HEADERS, media_type="application/problem+json")


def invalid(name: str, reason: str, code: str = "invalid") -> Response:
    return fout(400, "invalid", "Invalid input.", reason, [{"name": name, "code": code, "reason": reason}])


class ZaakRegister:
    """What the fake zaaksysteem holds; one lock, since uvicorn serves requests concurrently."""

    def __init__(
        self, ledger: CallLedger, clients: dict[str, str], zaaktypen: set[str] | None, state: Path | None = None
    ) -> None:
        self.ledger = ledger
        self.state = state  # where the register survives a restart (the demo's); None: in memory only
        self.clients = clients
        self.zaaktypen = zaaktypen  # None: any zaaktype URL is known
        self.lock = threading.Lock()
        self.zaken: dict[str, dict[str, Any]] = {}
        self.statussen: dict[str, dict[str, Any]] = {}
        self.rollen: dict[str, dict[str, Any]] = {}
        self.resultaten: dict[str, dict[str, Any]] = {}
        self.replies: dict[str, tuple[int, dict[str, Any]]] = {}  # Idempotency-Key → first answer
        if state is not None and state.exists():
            kept = json.loads(state.read_text(encoding="utf-8"))
            self.zaken, self.statussen = kept["zaken"], kept["statussen"]
            self.rollen, self.resultaten = kept["rollen"], kept["resultaten"]
            self.replies = {key: (status, body) for key, (status, body) in kept["replies"].items()}

    def keep(self) -> None:
        """Write the register to its state file (under the lock, after each effect)."""
        if self.state is None:
            return
        kept = {
            "zaken": self.zaken,
            "statussen": self.statussen,
            "rollen": self.rollen,
            "resultaten": self.resultaten,
            "replies": self.replies,
        }
        partial = self.state.with_suffix(".tmp")
        partial.write_text(json.dumps(kept), encoding="utf-8")
        partial.replace(self.state)

    # Authorisation ----------------------------------------------------------------------------------------------

    def authorised(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return fout(401, "not_authenticated", "Authenticatiegegevens zijn niet opgegeven.")
        token = header.removeprefix("Bearer ")
        try:
            client_id = jwt.decode(token, options={"verify_signature": False}).get("client_id", "")
            secret = self.clients[client_id]
            jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["iat", "client_id"]})
        except (jwt.PyJWTError, KeyError):
            return fout(403, "permission_denied", "Je hebt geen toestemming om deze actie uit te voeren.")
        return None

    # Shapes -----------------------------------------------------------------------------------------------------

    @staticmethod
    def url(request: Request, kind: str, key: str) -> str:
        return f"{str(request.base_url).rstrip('/')}{API}/{kind}/{key}"

    def new_zaak(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """A zaak as the standard returns it. Optional objects that are empty (zaakgeometrie, verlenging,
        processobject) are left out: the standard marks them nullable beside an allOf, which validators read as
        not nullable."""
        key = str(uuid.uuid4())
        return {
            "url": self.url(request, "zaken", key),
            "uuid": key,
            "identificatie": body["identificatie"],
            "bronorganisatie": body["bronorganisatie"],
            "omschrijving": body.get("omschrijving", ""),
            "toelichting": body.get("toelichting", ""),
            "zaaktype": body["zaaktype"],
            "registratiedatum": date.today().isoformat(),
            "verantwoordelijkeOrganisatie": body["verantwoordelijkeOrganisatie"],
            "startdatum": body["startdatum"],
            "einddatum": None,
            "einddatumGepland": None,
            "uiterlijkeEinddatumAfdoening": None,
            "publicatiedatum": None,
            "productenOfDiensten": [],
            "vertrouwelijkheidaanduiding": body.get("vertrouwelijkheidaanduiding", "vertrouwelijk"),
            "betalingsindicatie": "",
            "betalingsindicatieWeergave": "",
            "laatsteBetaaldatum": None,
            "opschorting": {"indicatie": False, "reden": ""},
            "hoofdzaak": None,
            "deelzaken": [],
            "relevanteAndereZaken": [],
            "eigenschappen": [],
            "rollen": [],
            "status": None,
            "zaakinformatieobjecten": [],
            "zaakobjecten": [],
            "kenmerken": [],
            "archiefnominatie": None,
            "archiefstatus": "nog_te_archiveren",
            "archiefactiedatum": None,
            "resultaat": None,
            "processobjectaard": None,
            "startdatumBewaartermijn": None,
        }

    def zaak_by_url(self, url: Any) -> dict[str, Any] | None:
        return next((z for z in self.zaken.values() if z["url"] == url), None)


def _page(results: list[dict[str, Any]]) -> Response:
    return JSONResponse({"count": len(results), "next": None, "previous": None, "results": results}, headers=HEADERS)


def zgw_app(
    ledger: CallLedger,
    clients: dict[str, str],
    *,
    zaaktypen: set[str] | None = None,
    faults: Faults | None = None,
    state: Path | None = None,
) -> Starlette:
    register = ZaakRegister(ledger, clients, zaaktypen, state)
    faults = faults or Faults()

    async def body_of(request: Request) -> dict[str, Any] | Response:
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            return fout(415, "unsupported_media_type", "Content-Type moet application/json zijn.")
        try:
            body = await request.json()
        except ValueError:
            return invalid("nonFieldErrors", "De body is geen geldige JSON.", "parse_error")
        return body if isinstance(body, dict) else invalid("nonFieldErrors", "De body moet een object zijn.")

    def guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """Authorisation, then the Idempotency-Key: a key seen before gets its first answer again."""

        async def endpoint(request: Request) -> Response:
            refused = register.authorised(request)
            if refused is not None:
                return refused
            key = request.headers.get("idempotency-key")
            if request.method == "POST" and key:
                with register.lock:
                    if key in register.replies:
                        status, body = register.replies[key]
                        return JSONResponse(body, status, headers={**CRS_HEADERS, "Location": body.get("url", "")})
            response: Response = await handler(request)
            return response

        return endpoint

    def created(key: str | None, body: dict[str, Any], operation: str, crs: bool = False) -> Response:
        if key:
            register.replies[key] = (201, body)
        register.keep()
        register.ledger.record("municipality", operation, key or body["url"], body)
        return JSONResponse(body, 201, headers={**(CRS_HEADERS if crs else HEADERS), "Location": body["url"]})

    async def zaken(request: Request) -> Response:
        if request.method == "GET":
            wanted = {
                k: request.query_params[k] for k in ("identificatie", "bronorganisatie") if k in request.query_params
            }
            found = [z for z in register.zaken.values() if all(z[k] == v for k, v in wanted.items())]
            return JSONResponse(
                {"count": len(found), "next": None, "previous": None, "results": found}, headers=CRS_HEADERS
            )
        if request.headers.get("content-crs") != "EPSG:4326" or request.headers.get("accept-crs") != "EPSG:4326":
            return fout(412, "precondition_failed", "Content-Crs en Accept-Crs moeten EPSG:4326 zijn.")
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        for field in ("bronorganisatie", "verantwoordelijkeOrganisatie", "zaaktype", "startdatum"):
            if not body.get(field):
                return invalid(field, "Dit veld is vereist.", "required")
        if register.zaaktypen is not None and body["zaaktype"] not in register.zaaktypen:
            return invalid("zaaktype", "Het zaaktype is niet bekend in de Catalogi API.", "bad-url")
        try:
            date.fromisoformat(body["startdatum"])
        except ValueError:
            return invalid("startdatum", "Datum heeft het verkeerde formaat.")
        with register.lock:
            if any(
                z["identificatie"] == body.get("identificatie") and z["bronorganisatie"] == body["bronorganisatie"]
                for z in register.zaken.values()
            ):
                return invalid(
                    "identificatie",
                    "Deze identificatie bestaat al voor deze bronorganisatie.",
                    "identificatie-niet-uniek",
                )
            zaak = register.new_zaak(request, body)
            register.zaken[zaak["uuid"]] = zaak
            return created(request.headers.get("idempotency-key"), zaak, "register_case", crs=True)

    async def zaak(request: Request) -> Response:
        found = register.zaken.get(request.path_params["uuid"])
        if found is None:
            return fout(404, "not_found", "Niet gevonden.")
        return JSONResponse(found, headers=CRS_HEADERS)

    async def statussen(request: Request) -> Response:
        if request.method == "GET":
            wanted = {k: request.query_params[k] for k in ("zaak", "statustype") if k in request.query_params}
            return _page([s for s in register.statussen.values() if all(s[k] == v for k, v in wanted.items())])
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        for field in ("zaak", "statustype", "datumStatusGezet"):
            if not body.get(field):
                return invalid(field, "Dit veld is vereist.", "required")
        with register.lock:
            target = register.zaak_by_url(body["zaak"])
            if target is None:
                return invalid("zaak", "De zaak bestaat niet.", "does_not_exist")
            if target["einddatum"] is not None:
                return fout(403, "zaak-gesloten", "De zaak is afgesloten; alleen met scope zaken.heropenen.")
            key = str(uuid.uuid4())
            for earlier in register.statussen.values():
                if earlier["zaak"] == target["url"]:
                    earlier["indicatieLaatstGezetteStatus"] = False
            status = {
                "url": register.url(request, "statussen", key),
                "uuid": key,
                "zaak": target["url"],
                "statustype": body["statustype"],
                "datumStatusGezet": body["datumStatusGezet"],
                "statustoelichting": body.get("statustoelichting", ""),
                "indicatieLaatstGezetteStatus": True,
                "zaakinformatieobjecten": [],
            }
            register.statussen[key] = status
            target["status"] = status["url"]
            if target["resultaat"] is not None:  # a status after the result is the eindstatus: the zaak closes
                target["einddatum"] = datetime.fromisoformat(body["datumStatusGezet"]).date().isoformat()
            return created(request.headers.get("idempotency-key"), status, "set_status")

    async def rollen(request: Request) -> Response:
        if request.method == "GET":
            params = request.query_params
            found = [
                r
                for r in register.rollen.values()
                if all(r[k] == params[k] for k in ("zaak", "roltype") if k in params)
                and (
                    "betrokkeneIdentificatie__medewerker__identificatie" not in params
                    or r["betrokkeneIdentificatie"].get("identificatie")
                    == params["betrokkeneIdentificatie__medewerker__identificatie"]
                )
            ]
            return _page(found)
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        for field in ("zaak", "betrokkeneType", "roltype", "roltoelichting"):
            if not body.get(field):
                return invalid(field, "Dit veld is vereist.", "required")
        with register.lock:
            target = register.zaak_by_url(body["zaak"])
            if target is None:
                return invalid("zaak", "De zaak bestaat niet.", "does_not_exist")
            key = str(uuid.uuid4())
            rol = {
                "url": register.url(request, "rollen", key),
                "uuid": key,
                "zaak": target["url"],
                "betrokkene": "",
                "betrokkeneType": body["betrokkeneType"],
                "afwijkendeNaamBetrokkene": "",
                "roltype": body["roltype"],
                "omschrijving": body["roltoelichting"][:20],
                "omschrijvingGeneriek": "behandelaar",
                "roltoelichting": body["roltoelichting"],
                "registratiedatum": datetime.now(UTC).isoformat(timespec="seconds"),
                "indicatieMachtiging": "",
                "contactpersoonRol": None,
                "statussen": [],
                "betrokkeneIdentificatie": body.get("betrokkeneIdentificatie") or {},
            }
            register.rollen[key] = rol
            target["rollen"].append(rol["url"])
            return created(request.headers.get("idempotency-key"), rol, "add_role")

    async def resultaten(request: Request) -> Response:
        if request.method == "GET":
            wanted = {k: request.query_params[k] for k in ("zaak", "resultaattype") if k in request.query_params}
            return _page([r for r in register.resultaten.values() if all(r[k] == v for k, v in wanted.items())])
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        for field in ("zaak", "resultaattype"):
            if not body.get(field):
                return invalid(field, "Dit veld is vereist.", "required")
        with register.lock:
            target = register.zaak_by_url(body["zaak"])
            if target is None:
                return invalid("zaak", "De zaak bestaat niet.", "does_not_exist")
            if target["resultaat"] is not None:
                return invalid("zaak", "De zaak heeft al een resultaat.", "unique")
            key = str(uuid.uuid4())
            resultaat = {
                "url": register.url(request, "resultaten", key),
                "uuid": key,
                "zaak": target["url"],
                "resultaattype": body["resultaattype"],
                "toelichting": body.get("toelichting", ""),
            }
            register.resultaten[key] = resultaat
            target["resultaat"] = resultaat["url"]
            return created(request.headers.get("idempotency-key"), resultaat, "record_result")

    api = [
        Route("/zaken", guarded(zaken), methods=["GET", "POST"]),
        Route("/zaken/{uuid}", guarded(zaak), methods=["GET"]),
        Route("/statussen", guarded(statussen), methods=["GET", "POST"]),
        Route("/rollen", guarded(rollen), methods=["GET", "POST"]),
        Route("/resultaten", guarded(resultaten), methods=["GET", "POST"]),
    ]
    app = Starlette(
        routes=[*faults.routes(), Mount(API, routes=api)],
        middleware=[Middleware(FaultMiddleware, faults=faults)],
    )
    app.state.register = register
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Nep-zaaksysteem (ZGW Zaken API 1.5.1) op 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--client", action="append", default=[], help="client_id:secret (herhaalbaar)")
    parser.add_argument("--ledger", type=Path, default=Path(".data/fake-counterparts.sqlite"))
    parser.add_argument("--state", type=Path, help="JSON-bestand waarin de zaken een herstart overleven")
    parser.add_argument(
        "--contract", type=Path, help="OpenAPI-bestand: elk verzoek en antwoord ertegen controleren (GET /_contract)"
    )
    args = parser.parse_args(argv)
    clients = dict(pair.split(":", 1) for pair in args.client) or {"weerthuis": DEMO_SECRET}
    app: ASGIApp = zgw_app(CallLedger(args.ledger), clients, state=args.state)
    if args.contract:
        from integrations.counterparts.contract import ContractCheck, ContractChecking

        app = ContractChecking(app, ContractCheck(args.contract, f"http://127.0.0.1:{args.port}{API}"))
    serve(app, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
