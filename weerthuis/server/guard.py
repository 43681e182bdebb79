"""Who may do what on the Prefect server: every request is someone's, and every answer to a form is authorized.

- Nobody anonymous: a browser is sent to the login, any other request gets 401 — except the health checks.
- A form is answered by Resume (`POST /api/flow_runs/{id}/resume`) only, by a person who may decide the step the
  case waits on (weerthuis.domain.rules' `deciders`: the role, the region, the corporation the case is with, the care
  provider the client is with). The answer's "Wie beslist?" is overwritten with the logged-in person's code, so the
  history names who really decided; the form the UI shows has that code filled in already.
- A form's answer stored directly (`POST /api/flow_runs/{id}/input`) comes only from a machine, only as the answer
  to the form the run waits on now, and only from a counterpart's system that may answer that step (`api:domesta`):
  nobody can plant an answer for a form that does not exist yet.
- State changes of runs and every other write: machines, and coordinators (never a paused case run moved on past
  its form). Everybody else reads.

A refusal is a 403 whose `detail` is a Dutch sentence (the Prefect UI shows it); each answer and each refusal is
written to the access log with who, which case and why.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from uuid import UUID

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from config.regions import Region
from weerthuis.domain.vocabulary import Role
from weerthuis.server.asgi import call, read_body
from weerthuis.server.identity import Logouts, Person, Principal, Service, TokenCheck, principal

logger = logging.getLogger("weerthuis.server")

RUN = r"/api/flow_runs/(?P<id>[0-9a-fA-F-]{36})"
RESUME = re.compile(rf"^{RUN}/resume$")
INPUT = re.compile(rf"^{RUN}/input$")
INPUT_KEY = re.compile(rf"^{RUN}/input/(?P<key>[a-z0-9-]+)$")
SET_STATE = re.compile(rf"^{RUN}/set_state$")
# POSTs that only read (Prefect's filters and counts, the UI's summaries, a form's check while it is filled in).
READING_POST = re.compile(r"/(filter|count|paginate|history|lateness|next_runs|count-by/[a-z_]+)/?$|^/api/ui/")
PUBLIC = frozenset({"/api/health", "/api/ready", "/api/version", "/favicon.ico", "/robots.txt"})
DECIDER_FIELDS = ("decided_by", "assessor")  # the form's "Wie beslist?"
MOVING_ON = frozenset({"SCHEDULED", "PENDING", "RUNNING"})


@dataclass(frozen=True)
class WaitingRun:
    """What the server knows of a run: its case (if it is a case's run) and the form it waits on (if paused)."""

    reference: str | None
    region: str | None
    paused: bool
    pause_key: str | None
    response_key: str | None
    schema_key: str | None


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str
    reference: str | None = None


def json_response(status: int, detail: str) -> tuple[dict[str, Any], bytes]:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return {"type": "http.response.start", "status": status, "headers": headers}, body


async def respond(send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    start, body = json_response(status, detail)
    start["headers"] = [*start["headers"], *(extra or [])]
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def read_run(flow_run_id: UUID) -> WaitingRun | None:
    """The run as Prefect's database has it (read in the server itself, no HTTP round trip)."""
    from prefect.server import models
    from prefect.server.database import provide_database_interface

    read: Any = models.flow_runs.read_flow_run  # (their db-injecting decorators lose the types)
    async with provide_database_interface().session_context() as session:
        run = await read(session, flow_run_id)
    if run is None:
        return None
    parameters = run.parameters or {}
    state = run.state
    paused = state is not None and state.type.value == "PAUSED"
    details = state.state_details if state is not None else None
    keyset = (details.run_input_keyset or {}) if details is not None else {}
    return WaitingRun(
        reference=parameters.get("zaakreferentie") if isinstance(parameters.get("zaakreferentie"), str) else None,
        region=parameters.get("regio") if isinstance(parameters.get("regio"), str) else None,
        paused=paused,
        pause_key=details.pause_key if paused and details is not None else None,
        response_key=keyset.get("response") if paused else None,
        schema_key=keyset.get("schema") if paused else None,
    )


async def decider_fields(flow_run_id: UUID, schema_key: str | None) -> list[str]:
    """The fields of the waiting form that say who decides ("Wie beslist?")."""
    if schema_key is None:
        return []
    from prefect.server import models
    from prefect.server.database import provide_database_interface

    read: Any = models.flow_run_input.read_flow_run_input
    async with provide_database_interface().session_context() as session:
        stored = await read(session=session, flow_run_id=flow_run_id, key=schema_key)
    properties = json.loads(stored.value).get("properties", {}) if stored is not None else {}
    return [field for field in DECIDER_FIELDS if field in properties]


class Guard:
    """ASGI middleware around Prefect's app; `log(kind, who, reference=…, flow_run_id=…, reason=…, address=…)`
    writes the access log, `deciders(run, person_or_service) -> (codes, reason_if_none)` says who may answer."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        regions: dict[str, Region],
        tokens: TokenCheck,
        decide: Callable[[WaitingRun], tuple[list[str], str | None]],
        log: Callable[..., None],
        reads: Any = None,
        logouts: Logouts | None = None,
    ) -> None:
        self.app = app
        # How a person's reads are narrowed to their cases (needtoknow.NeedToKnow around the same app).
        self.reads = reads
        self.logouts = logouts
        self.regions = regions
        self.tokens = tokens
        self.decide = decide
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in PUBLIC:
            await self.app(scope, receive, send)
            return
        who = await principal(scope, self.regions, self.tokens, self.logouts)
        if who is None:
            await self.anonymous(scope, send)
            return
        if scope["type"] == "websocket":
            if isinstance(who, Person) and not who.is_coordinator and self.reads is not None:
                await send({"type": "websocket.close", "code": 1008, "reason": "Alleen voor coördinatoren."})
                return
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if method == "POST" and (found := RESUME.match(path)):
            await self.resume(scope, receive, send, who, UUID(found["id"]))
        elif method == "POST" and (found := INPUT.match(path)):
            await self.stored_answer(scope, receive, send, who, UUID(found["id"]))
        elif (
            method == "GET"
            and (found := INPUT_KEY.match(path))
            and found["key"].endswith("-schema")
            and isinstance(who, Person)
        ):
            await self.form_for(scope, receive, send, who, UUID(found["id"]), found["key"])
        elif isinstance(who, Service):
            await self.app(scope, receive, send)
        elif method in ("GET", "HEAD", "OPTIONS") or (method == "POST" and READING_POST.search(path)):
            if self.reads is not None:
                await self.reads.read(scope, receive, send, who)
            else:
                await self.app(scope, receive, send)
        else:
            await self.change(scope, receive, send, who)

    async def anonymous(self, scope: Scope, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "Niet aangemeld."})
            return
        accepts = dict(scope.get("headers", [])).get(b"accept", b"")
        if scope["method"] == "GET" and not scope["path"].startswith("/api") and b"text/html" in accepts:
            query = scope.get("query_string", b"").decode("latin-1")
            target = scope["path"] + (f"?{query}" if query else "")
            await send(
                {
                    "type": "http.response.start",
                    "status": 302,
                    "headers": [
                        (b"location", f"/auth/login?next={quote(target, safe='')}".encode()),
                        (b"content-length", b"0"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await respond(
            send,
            401,
            "Niet aangemeld: log in via /auth/login, of geef het API-token van deze dienst mee.",
            [(b"www-authenticate", b'Bearer realm="weerthuis"')],
        )

    def address(self, scope: Scope) -> str | None:
        client = scope.get("client")
        return client[0] if client else None

    async def record(
        self, scope: Scope, kind: str, who: Principal, run_id: UUID, reference: str | None, reason: str
    ) -> None:
        try:
            await anyio.to_thread.run_sync(
                lambda: self.log(
                    kind,
                    who.who,
                    reference=reference,
                    flow_run_id=str(run_id),
                    reason=reason,
                    address=self.address(scope),
                )
            )
        except Exception:  # the refusal or answer stands; a log line that cannot be written is an error to see
            logger.exception("Toegangslog niet geschreven (%s, %s, %s)", kind, who.who, reference)

    async def verdict(self, who: Principal, run_id: UUID, answer_as: str | None) -> tuple[Verdict, WaitingRun | None]:
        """May `who` answer the form run `run_id` waits on (a machine: as `answer_as`)?"""
        run = await read_run(run_id)
        if run is None:
            return Verdict(False, "Deze run bestaat niet (meer)."), None
        if not run.paused:
            return Verdict(False, "Deze run wacht niet op een formulier.", run.reference), run
        if run.reference is None:  # a pause outside the procedure (none in our flows): coordinators only
            allowed = isinstance(who, Person) and who.is_coordinator
            return Verdict(allowed, "" if allowed else "Alleen een coördinator kan deze run hervatten."), run
        codes, why_none = await anyio.to_thread.run_sync(self.decide, run)
        if why_none is not None:
            return Verdict(False, why_none, run.reference), run
        # A machine answers only as a counterpart's system (`api:domesta`), never in a person's name.
        code = who.code if isinstance(who, Person) else answer_as if (answer_as or "").startswith("api:") else None
        if code is not None and code in codes:
            return Verdict(True, "", run.reference), run
        return Verdict(False, self.why_not(who, codes, run), run.reference), run

    def why_not(self, who: Principal, codes: list[str], run: WaitingRun) -> str:
        region = self.regions.get(run.region or "")
        people = [p for p in (region.people if region else []) if p.code in codes]
        roles = sorted({p.role.noun for p in people})
        organisations = sorted({p.organisation for p in people if p.role is not Role.COORDINATOR})
        wanted = " of ".join(roles) if roles else "een koppeling"
        where = f" van {', '.join(organisations)}" if organisations and len(organisations) <= 3 else ""
        if isinstance(who, Service):
            return f"Dienst {who.name} mag dit formulier van zaak {run.reference} niet beantwoorden."
        if region is not None and who.region != region.code:
            return f"Zaak {run.reference} hoort bij regio {region.name}; u werkt in een andere regio."
        return (
            f"U ({who.code}, {who.role.noun} bij {who.organisation}) mag deze stap van zaak {run.reference} niet "
            f"beslissen: dat doet een {wanted}{where}."
        )

    async def resume(self, scope: Scope, receive: Receive, send: Send, who: Principal, run_id: UUID) -> None:
        body = await read_body(receive)
        try:
            asked = json.loads(body or b"{}")
            run_input = asked.get("run_input") if isinstance(asked, dict) else None
        except ValueError:
            await respond(send, 400, "Het antwoord is geen geldige JSON.")
            return
        if isinstance(who, Service):
            answer_as = run_input.get("decided_by") if isinstance(run_input, dict) else None
            verdict, run = await self.verdict(who, run_id, answer_as if isinstance(answer_as, str) else None)
        else:
            verdict, run = await self.verdict(who, run_id, None)
        if not verdict.allowed and (run is None or run.paused):  # not paused: Prefect itself says so (ABORT)
            await self.record(scope, "ANSWER_REFUSED", who, run_id, verdict.reference, verdict.reason)
            await respond(send, 403, verdict.reason)
            return
        if isinstance(who, Person) and isinstance(run_input, dict) and run is not None and run.paused:
            for field in await decider_fields(run_id, run.schema_key):
                run_input[field] = who.code  # what the person chose in the form does not count: who logged in
            body = json.dumps(asked).encode()
        start, chunks = await call(self.app, _without_length(scope), body, receive)
        if run is not None and run.paused:
            outcome = _outcome(start, chunks)
            await self.record(scope, "ANSWER", who, run_id, verdict.reference, outcome)
        await send(start)
        await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": False})

    async def stored_answer(self, scope: Scope, receive: Receive, send: Send, who: Principal, run_id: UUID) -> None:
        body = await read_body(receive)
        try:
            asked = json.loads(body or b"{}")
            key = str(asked.get("key", ""))
        except (ValueError, AttributeError):
            await respond(send, 400, "Het verzoek is geen geldige JSON.")
            return
        if isinstance(who, Person):
            reason = "Een formulier beantwoordt u met Hervatten (Resume), niet door een antwoord op te slaan."
            await self.record(scope, "ANSWER_REFUSED", who, run_id, None, reason)
            await respond(send, 403, reason)
            return
        if key.endswith("-response"):
            try:
                value = json.loads(asked.get("value") or "{}")
            except (TypeError, ValueError):
                value = {}
            answer_as = value.get("decided_by") if isinstance(value, dict) else None
            verdict, run = await self.verdict(who, run_id, answer_as if isinstance(answer_as, str) else None)
            if verdict.allowed and (run is None or run.response_key != key):
                verdict = Verdict(
                    False,
                    "De run wacht niet op dit formulier: een antwoord vooraf wordt niet bewaard.",
                    verdict.reference,
                )
            if not verdict.allowed:
                await self.record(scope, "ANSWER_REFUSED", who, run_id, verdict.reference, verdict.reason)
                await respond(send, 403, verdict.reason)
                return
            await self.record(scope, "ANSWER", who, run_id, verdict.reference, f"antwoord als {answer_as}")
        start, chunks = await call(self.app, _without_length(scope), body, receive)
        await send(start)
        await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": False})

    async def form_for(self, scope: Scope, receive: Receive, send: Send, who: Person, run_id: UUID, key: str) -> None:
        """The form's schema as this person will fill it in: "Wie beslist?" is their own code, filled in."""
        plain = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]}
        start, chunks = await call(self.app, plain, None, receive)
        body = b"".join(chunks)
        if key.endswith("-schema") and start.get("status") == 200:
            try:
                body = _schema_for(body, who) or body
            except Exception:  # the form as stored is still the form
                logger.exception("Formulier niet aangepast voor %s", who.code)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"etag")]
            start = {**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def change(self, scope: Scope, receive: Receive, send: Send, who: Person) -> None:
        """Any other write by a person: coordinators only, and a waiting case goes on through its form only."""
        found = SET_STATE.match(scope["path"])
        if not who.is_coordinator:
            reason = f"Alleen een coördinator kan dit wijzigen; u bent {who.role.noun}."
            await self._refuse_change(scope, send, who, found, reason)
            return
        if found is None:
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        try:
            wanted = str(((json.loads(body or b"{}").get("state") or {}).get("type")) or "").upper()
        except (ValueError, AttributeError):
            wanted = ""
        run = await read_run(UUID(found["id"]))
        if run is not None and run.region is not None and run.region != who.region:
            await self._refuse_change(
                scope, send, who, found, f"Deze run hoort bij regio {run.region}; u werkt in {who.region}."
            )
            return
        if run is not None and run.paused and run.reference is not None and wanted in MOVING_ON:
            reason = (
                f"Zaak {run.reference} wacht op een formulier: die gaat verder met Hervatten (Resume), met een besluit."
            )
            await self._refuse_change(scope, send, who, found, reason)
            return
        start, chunks = await call(self.app, _without_length(scope), body, receive)
        await send(start)
        await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": False})

    async def _refuse_change(
        self, scope: Scope, send: Send, who: Person, found: re.Match[str] | None, reason: str
    ) -> None:
        if found is not None:
            run = await read_run(UUID(found["id"]))
            await self.record(scope, "CHANGE_REFUSED", who, UUID(found["id"]), run.reference if run else None, reason)
        await respond(send, 403, reason)


def _without_length(scope: Scope) -> Scope:
    """The body may have been rewritten: let the app read it whole, not by the client's Content-Length."""
    return {
        **scope,
        "headers": [(k, v) for k, v in scope["headers"] if k.lower() not in (b"content-length", b"accept-encoding")],
    }


def _outcome(start: Any, chunks: list[bytes]) -> str:
    try:
        result = json.loads(b"".join(chunks))
    except ValueError:
        return f"HTTP {start.get('status')}"
    if isinstance(result, dict) and result.get("status") == "ACCEPT":
        return "aangenomen"
    reason = (result.get("details") or {}).get("reason") if isinstance(result, dict) else None
    return f"niet aangenomen: {reason}" if reason else f"niet aangenomen (HTTP {start.get('status')})"


def _schema_for(body: bytes, who: Person) -> bytes | None:
    """The stored schema (Prefect answers the input's value as plain text) with "Wie beslist?" as `who` only."""
    schema = json.loads(body)
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return None
    for field in DECIDER_FIELDS:
        if isinstance(properties.get(field), dict):
            title = properties[field].get("title", "Wie beslist?")
            properties[field] = {
                "title": title,
                "type": "string",
                "enum": [who.code],
                "default": who.code,
                "description": f"U bent aangemeld als {who.code}; dit komt in de zaakhistorie.",
            }
    return json.dumps(schema).encode()
