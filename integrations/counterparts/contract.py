"""Check HTTP exchanges against an OpenAPI contract with openapi-core: every request sent, every response given.

Used on both sides: the tests hook it into an adapter's httpx client (tests/contract.py), and a fake counterpart
started with `--contract spec.yaml` checks every exchange it serves (`ContractChecking`), so traffic from a flow run
in another process is checked too; `GET /_contract` tells how many exchanges were checked and what failed.
Findings are kept, never raised: a check must not change what the adapter or the fake does.

openapi-core is a test dependency: import this module only where contract checks are asked for.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict


@cache
def _openapi(path: Path, server_url: str | None) -> OpenAPI:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    if server_url is not None:
        spec["servers"] = [{"url": server_url, "variables": {"port": {"default": "80"}}}]
    # Error bodies are application/problem+json (RFC 7807), which openapi-core reads as JSON only when told so.
    return OpenAPI.from_dict(
        spec, config=Config(extra_media_type_deserializers={"application/problem+json": json.loads})
    )


class _Request:
    def __init__(self, method: str, host_url: str, path: str, query: str, headers: dict[str, str], body: bytes):
        self.method, self.host_url, self.path = method.lower(), host_url, path
        self.body = body or None
        self.content_type = headers.get("content-type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(query)), header=Headers(headers), cookie=ImmutableMultiDict()
        )


class _Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code, self.data = status, body
        self.content_type = headers.get("content-type", "")
        self.headers = Headers(headers)


class ContractCheck:
    def __init__(self, spec: Path, server_url: str | None = None, *, only_status: range = range(200, 300)) -> None:
        """`server_url`: where the contract's paths start on the counterpart (replaces the spec's servers).
        Responses are checked for `only_status` (default: the 2xx a contract describes in full)."""
        # Any loopback port: the spec is parsed once per contract and base path, not once per test server.
        templated = server_url and re.sub(r"^http://127\.0\.0\.1:\d+", "http://127.0.0.1:{port}", server_url)
        self.openapi = _openapi(spec, templated)
        self.only_status = only_status
        self.checked = 0
        self.problems: list[str] = []
        self._lock = threading.Lock()

    def check(
        self,
        request: tuple[str, str, str, str, dict[str, str], bytes],
        response: tuple[int, dict[str, str], bytes],
    ) -> None:
        """`request`: method, host URL, path, query string, headers (lower-case names), body;
        `response`: status, headers (lower-case names), body."""
        method, _host, path, _query, _headers, _body = request
        status = response[0]
        where, found = f"{method} {path}", []
        checked_request = _Request(*request)
        try:
            self.openapi.validate_request(checked_request)
        except Exception as exc:  # every kind of validation error is a finding
            found.append(f"request {where}: {_explain(exc)}")
        if status in self.only_status:
            try:
                self.openapi.validate_response(checked_request, _Response(*response))
            except Exception as exc:
                found.append(f"response {status} to {where}: {_explain(exc)}")
        with self._lock:
            self.problems.extend(found)
            self.checked += 1


def _explain(exc: Exception) -> str:
    causes = [str(exc)]
    inner: BaseException | None = exc.__cause__
    while inner is not None:
        causes.append(str(inner))
        for detail in getattr(inner, "schema_errors", []) or []:
            causes.append(f"{list(detail.path)}: {detail.message}")
        inner = inner.__cause__
    return " | ".join(causes)[:1500]


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
CONTROL = ("/_control", "/_faults")


class ContractChecking:
    """ASGI middleware: checks every exchange on the contract's paths; `GET /_contract` gives the findings."""

    def __init__(self, app: ASGIApp, contract: ContractCheck) -> None:
        self.app, self.contract = app, contract

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL):
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/_contract":
            body = json.dumps({"checked": self.contract.checked, "problems": self.contract.problems}).encode()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": body})
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        request_body = b"".join(chunks)
        delivered = False

        async def replay() -> MutableMapping[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": request_body, "more_body": False}

        status, headers = 500, {}
        served = bytearray()

        async def keep(message: MutableMapping[str, Any]) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                served.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, replay, keep)
        request_headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        host, port = scope.get("server") or ("127.0.0.1", 80)
        request = (
            scope["method"],
            f"http://{host}:{port}",
            scope["path"],
            scope.get("query_string", b"").decode(),
            request_headers,
            request_body,
        )
        self.contract.check(request, (status, headers, bytes(served)))
