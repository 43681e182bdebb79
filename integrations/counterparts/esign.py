"""A fake e-signature service (e-ondertekening) speaking Weer Thuis' own contract, on loopback.

It serves exactly `integrations/contracts/esign-api.yaml` under /api/v1: a lease (huurovereenkomst) is sent for
signing (ondertekeningen) to its signers, and its status — verzonden, ondertekend, geweigerd, verlopen — can be read
back. Bodies are checked by hand and refused with problem details that name the field; a missing or wrong Bearer
token is a 401. The Idempotency-Key is honoured: the same key with the same body gets the first answer back (with
`Idempotent-Replayed: true`) and has no second effect (another body under a used key is a 422). Every effect (a new
signing — not a repeat) is kept in the call ledger, so a test can count effects from elsewhere.

When the status changes and the signing was started with a `webhookUrl`, the fake POSTs a status notice
(Statusmelding) there, signed as the contract says: `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>` with the
shared webhook secret. Delivery runs in the background on the server's own event loop, so the control call that
changed the status returns at once; an answer other than 2xx (or no answer) is tried again a few times with a short,
growing wait.

What the signers would do at the service is done over control paths, which are not part of the contract:

    GET    /_control/ondertekeningen[?zaakreferentie=WT-2026-0042]    the signings received (find the id)
    POST   /_control/ondertekeningen/{id}/status   {"status": "ondertekend"}
                                                   {"status": "geweigerd", "weigerreden": "Huurprijs klopt niet."}
                                                   {"status": "verlopen"}
    GET    /_control/webhooks                      every webhook delivery: event, attempts, delivered or not
    DELETE /_control                               forget everything (the ledger stays)

plus the fault switches of `faults.py` on /_faults.

    python -m integrations.counterparts.esign --port 8104 --token geheim --webhook-secret ook-geheim \\
        --ledger .data/ledger.sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# The corporation fake's problem details, field checks and body handling are the same for every fake of ours.
from integrations.counterparts.common import (
    Check,
    Register,
    check_fields,
    counterpart_app,
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

SYSTEM = "esign"
OPERATION = "send_for_signing"

CONTRACT_FORMS = ("regulier", "driepartijen", "intermediair")
ROLES = ("huurder", "verhuurder", "zorgaanbieder", "intermediair")
STATUSES = ("verzonden", "ondertekend", "geweigerd", "verlopen")
FINAL_STATUSES = STATUSES[1:]
MAX_SIGNERS = 4
OPAQUE = re.compile(r"^[A-Za-z0-9:._-]+$")


# Field checks the corporation fake does not have --------------------------------------------------------------------


def opaque(max_length: int) -> Check:
    """A reference that means nothing outside the systems that made it: no spaces, so no name, no e-mail address."""

    def check(value: Any) -> str | None:
        if not isinstance(value, str) or len(value) > max_length or not OPAQUE.fullmatch(value):
            return f"Een referentie van 1 tot {max_length} tekens: letters, cijfers en : . _ -"
        return None

    return check


def web_address(value: Any) -> str | None:
    parsed = urlparse(value) if isinstance(value, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc or len(value) > 2000:
        return "Een absolute http(s)-URL, zoals https://weerthuis.example.org/webhooks/ondertekening."
    return None


def signers(value: Any) -> list[dict[str, str]]:
    """What is wrong with the list of signers, each item named by its place (`ondertekenaars[1].rol`)."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_SIGNERS:
        return [param("ondertekenaars", f"Een lijst van 1 tot {MAX_SIGNERS} ondertekenaars.")]
    invalid: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, signer in enumerate(value):
        where = f"ondertekenaars[{index}]"
        if not isinstance(signer, dict):
            invalid.append(param(where, "Een object met rol en referentie."))
            continue
        for found in check_fields(signer, {"rol": one_of(*ROLES), "referentie": opaque(100)}):
            invalid.append({**found, "name": f"{where}.{found['name']}"})
        if signer.get("rol") in seen:
            invalid.append(param(f"{where}.rol", "Elke rol hoogstens één keer.", "duplicate"))
        seen.add(str(signer.get("rol")))
    return invalid


SIGNING_FIELDS: dict[str, Check] = {
    "zaakreferentie": reference,
    "documentreferentie": opaque(60),
    "contractvorm": one_of(*CONTRACT_FORMS),
    "ondertekenaars": lambda value: None,  # checked item by item in `signers`
}
SIGNING_OPTIONAL: dict[str, Check] = {"webhookUrl": web_address}


def signature(body: bytes, secret: str) -> str:
    """The X-Signature header of a webhook body: `sha256=` and the hex HMAC-SHA256 with the shared secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# State --------------------------------------------------------------------------------------------------------------


class SigningRegister(Register):
    """What the fake service holds; its callers show a Bearer token instead of an API key."""

    system = SYSTEM

    def __init__(self, ledger: CallLedger, token: str) -> None:
        self.deliveries: set[asyncio.Task[None]] = set()  # webhooks still being delivered (kept from the GC)
        super().__init__(ledger, token)

    def reset(self) -> None:
        super().reset()
        self.ondertekeningen: dict[str, dict[str, Any]] = {}
        self.webhooks: list[dict[str, Any]] = []  # every delivery: event, attempts, delivered

    def authorised(self, request: Request) -> Response | None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given or not hmac.compare_digest(given.encode(), self.api_key.encode()):
            return problem(
                401, "Niet geautoriseerd", "Geen of een onbekend Bearer-token.", headers={"WWW-Authenticate": "Bearer"}
            )
        return None

    def start(self, key: str, request: dict[str, Any]) -> Response:
        """A new signing: kept, its first answer kept under its key, the effect written to the ledger; 201."""
        made = {
            "id": str(uuid.uuid4()),
            **request,
            "status": "verzonden",
            "ondertekendOp": None,
            "weigerreden": None,
            "aangemaaktOp": now_iso(),
        }
        self.ondertekeningen[made["id"]] = made
        return self.effect(key, OPERATION, request, made)


# Webhooks -----------------------------------------------------------------------------------------------------------


def status_notice(signing: dict[str, Any]) -> dict[str, Any]:
    """The contract's Statusmelding for a signing as it now stands."""
    return {name: signing[name] for name in ("id", "zaakreferentie", "status", "ondertekendOp", "weigerreden")}


async def deliver(
    url: str, event: dict[str, Any], secret: str, log: dict[str, Any], *, attempts: int, backoff: float
) -> None:
    """POST the signed notice to `url`, trying again after `backoff`, 2×, 4×… seconds until a 2xx or out of tries."""
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "X-Signature": signature(body, secret)}
    async with httpx.AsyncClient(timeout=httpx.Timeout(5)) as client:
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(backoff * 2 ** (attempt - 1))
            log["pogingen"] = attempt + 1
            try:
                answer = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                log["laatsteFout"] = type(exc).__name__
                continue
            if answer.is_success:
                log.update(afgeleverd=True, laatsteFout=None)
                return
            log["laatsteFout"] = f"HTTP {answer.status_code}"


# The app ------------------------------------------------------------------------------------------------------------

Handler = Callable[[Request], Awaitable[Response]]


def esign_app(
    ledger: CallLedger,
    token: str,
    webhook_secret: str,
    *,
    faults: Faults | None = None,
    webhook_attempts: int = 4,
    webhook_backoff: float = 0.2,
) -> Starlette:
    """The fake e-signature service; a failed webhook is tried `webhook_attempts` times, waiting `webhook_backoff`
    seconds after the first failure and twice as long after each next one."""
    register = SigningRegister(ledger, token)
    faults = faults or Faults()

    def guarded(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            refusal = register.authorised(request)
            return refusal if refusal is not None else await handler(request)

        return endpoint

    async def start(request: Request) -> Response:
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
            invalid = check_fields(body, SIGNING_FIELDS, SIGNING_OPTIONAL)
            if "ondertekenaars" in body:
                invalid += signers(body["ondertekenaars"])
            if invalid:
                return refused(invalid)
            return register.start(key, body)

    def signing_of(request: Request) -> dict[str, Any] | Response:
        found = register.ondertekeningen.get(request.path_params["id"])
        if found is None:
            return problem(404, "Niet gevonden", f"Er is geen ondertekening {request.path_params['id']}.")
        return found

    async def ondertekening(request: Request) -> Response:
        with register.lock:
            found = signing_of(request)
            return found if isinstance(found, Response) else JSONResponse(found)

    # Control paths: what the signers would do at the service -------------------------------------------------------

    async def control_ondertekeningen(request: Request) -> Response:
        wanted = request.query_params.get("zaakreferentie")
        with register.lock:
            found = [o for o in register.ondertekeningen.values() if wanted in (None, o["zaakreferentie"])]
        return JSONResponse(found)

    async def control_status(request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        invalid = check_fields(body, {"status": one_of(*FINAL_STATUSES)}, {"weigerreden": text(500)})
        if body.get("status") == "geweigerd" and body.get("weigerreden") is None:
            invalid.append(param("weigerreden", "Vereist bij geweigerd.", "required"))
        if body.get("status") != "geweigerd" and body.get("weigerreden") is not None:
            invalid.append(param("weigerreden", "Alleen bij geweigerd."))
        if invalid:
            return refused(invalid)
        with register.lock:
            found = signing_of(request)
            if isinstance(found, Response):
                return found
            if found["status"] != "verzonden":
                if found["status"] == body["status"] and found["weigerreden"] == body.get("weigerreden"):
                    return JSONResponse(found)  # the same again: no change, no second webhook
                return problem(409, "Al afgerond", f"De ondertekening is al {found['status']}.")
            found.update(
                status=body["status"],
                weigerreden=body.get("weigerreden"),
                ondertekendOp=now_iso() if body["status"] == "ondertekend" else None,
            )
            url = found.get("webhookUrl")
            if url:  # told in the background: this answer does not wait for the receiver
                event = status_notice(found)
                log = {"url": url, "event": event, "pogingen": 0, "afgeleverd": False, "laatsteFout": None}
                register.webhooks.append(log)
                task = asyncio.create_task(
                    deliver(url, event, webhook_secret, log, attempts=webhook_attempts, backoff=webhook_backoff)
                )
                register.deliveries.add(task)
                task.add_done_callback(register.deliveries.discard)
            return JSONResponse(found)

    async def control_webhooks(request: Request) -> Response:
        with register.lock:
            return JSONResponse(copy.deepcopy(register.webhooks))

    api = [
        Route("/ondertekeningen", guarded(start), methods=["POST"]),
        Route("/ondertekeningen/{id}", guarded(ondertekening), methods=["GET"]),
    ]
    control = [
        Route("/ondertekeningen", control_ondertekeningen, methods=["GET"]),
        Route("/ondertekeningen/{id}/status", control_status, methods=["POST"]),
        Route("/webhooks", control_webhooks, methods=["GET"]),
    ]
    return counterpart_app(register, faults, api, control)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Nep-dienst voor e-ondertekening (Weer Thuis-contract) op 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8104)
    parser.add_argument("--token", default="geheim", help="het Bearer-token dat Weer Thuis moet meesturen")
    parser.add_argument("--webhook-secret", default="geheim", help="het gedeelde geheim waarmee webhooks tekenen")
    parser.add_argument("--ledger", type=Path, default=Path(".data/fake-counterparts.sqlite"))
    args = parser.parse_args(argv)
    serve(esign_app(CallLedger(args.ledger), args.token, args.webhook_secret), args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
