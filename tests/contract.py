"""Check traffic against an OpenAPI contract: every request an adapter sends and every response a fake returns.

`Contract(spec_path).hooks()` gives httpx event hooks; give them to the adapter's client in a test and each
exchange is validated by openapi-core. What failed is kept in `problems` (a hook must not raise into the adapter's
error handling, which would hide it); a test asserts `contract.problems == []` and that `contract.checked` grew.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPECS = Path(__file__).parent / "specs"


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
    def __init__(self, request: httpx.Request, body: bytes | None) -> None:
        self._url = urlparse(str(request.url))
        self._request = request
        self._body = body
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(self._url.query)),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )

    host_url = property(lambda self: f"{self._url.scheme}://{self._url.netloc}")
    path = property(lambda self: self._url.path)
    method = property(lambda self: self._request.method.lower())
    body = property(lambda self: self._body or None)
    content_type = property(lambda self: self._request.headers.get("content-type", ""))


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    data = property(lambda self: self._response.content)
    status_code = property(lambda self: self._response.status_code)
    content_type = property(lambda self: self._response.headers.get("content-type", ""))
    headers = property(lambda self: Headers(dict(self._response.headers)))


class Contract:
    def __init__(self, spec: Path, server_url: str | None = None, *, only_status: range = range(200, 300)) -> None:
        """`server_url`: where the contract's paths start on the counterpart (replaces the spec's servers)."""
        # Any loopback port: the spec is parsed once per contract and base path, not once per test server.
        templated = server_url and re.sub(r"^http://127\.0\.0\.1:\d+", "http://127.0.0.1:{port}", server_url)
        self.openapi = _openapi(spec, templated)
        self.only_status = only_status
        self.checked = 0
        self.problems: list[str] = []

    def check(self, response: httpx.Response) -> None:
        response.read()
        request = _Request(response.request, response.request.content)
        where = f"{response.request.method} {response.request.url.path}"
        try:
            self.openapi.validate_request(request)
        except Exception as exc:  # every kind of validation error is a finding
            self.problems.append(f"request {where}: {_explain(exc)}")
        if response.status_code in self.only_status:
            try:
                self.openapi.validate_response(request, _Response(response))
            except Exception as exc:
                self.problems.append(f"response {response.status_code} to {where}: {_explain(exc)}")
        self.checked += 1

    def hooks(self) -> dict[str, list[Any]]:
        return {"response": [self.check]}


def _explain(exc: Exception) -> str:
    causes = [str(exc)]
    inner: BaseException | None = exc.__cause__
    while inner is not None:
        causes.append(str(inner))
        for detail in getattr(inner, "schema_errors", []) or []:
            causes.append(f"{list(detail.path)}: {detail.message}")
        inner = inner.__cause__
    return " | ".join(causes)[:1500]
