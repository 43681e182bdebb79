"""One way to call a counterpart over HTTP: explicit timeouts, idempotency keys, and errors sorted for retries.

- connection errors, timeouts and 5xx are TransientFailure (the task retries them with backoff and jitter);
- 429 is waited out here, honouring Retry-After (up to `max_wait` seconds), then asked again;
- any other 4xx is CounterpartRefused with the counterpart's own reason, never retried;
- a 2xx body that is not the JSON the contract promises is MalformedResponse, a clear error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from integrations.ports import CounterpartRefused, TransientFailure


class MalformedResponse(CounterpartRefused):
    """The counterpart answered 2xx with a body that is not what its contract promises."""


def retry_after_seconds(value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - now()).total_seconds())


def refusal_reason(response: httpx.Response) -> str:
    """A readable reason from a 4xx body: RFC 7807 problem details (title, detail, invalidParams) or plain text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:300]
    parts = [str(body[k]) for k in ("title", "detail") if body.get(k)]
    for param in body.get("invalidParams") or []:
        if isinstance(param, dict):
            parts.append(f"{param.get('name')}: {param.get('reason')}")
    return "; ".join(parts)[:400] or response.reason_phrase


class JsonApi:
    """A JSON API of one counterpart, named in errors so a coordinator knows which system refused what."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        timeout: float,
        headers: Callable[[], Mapping[str, str]] = dict,
        max_wait: float = 120,
        transport: httpx.BaseTransport | None = None,
        event_hooks: dict[str, list[Callable[..., Any]]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.max_wait = max_wait
        self._headers = headers
        self._sleep = sleep
        self.client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            timeout=httpx.Timeout(timeout),
            transport=transport,
            event_hooks=event_hooks or {},
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> JsonApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        expect: tuple[int, ...] = (200, 201),
    ) -> Any:
        """One request; returns the decoded JSON body (None for 204)."""
        sent_headers = {**self._headers(), **(headers or {})}
        if idempotency_key:
            sent_headers["Idempotency-Key"] = idempotency_key
        what = f"{self.name}: {method} {path.lstrip('/') or '/'}"
        waited = 0.0
        while True:
            try:
                response = self.client.request(method, path.lstrip("/"), json=json, params=params, headers=sent_headers)
            except httpx.TimeoutException as exc:
                raise TransientFailure(f"{what}: geen antwoord binnen de time-out ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                raise TransientFailure(f"{what}: niet bereikbaar ({type(exc).__name__})") from exc
            if response.status_code != 429:
                break
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            wait = 1.0 if wait is None else wait
            if waited + wait > self.max_wait:
                raise TransientFailure(f"{what}: te veel verzoeken (429), Retry-After {wait:.0f} s")
            self._sleep(wait)
            waited += wait
        if response.status_code >= 500:
            raise TransientFailure(f"{what}: fout bij de tegenpartij ({response.status_code})")
        if response.status_code not in expect:
            raise CounterpartRefused(f"{what} geweigerd ({response.status_code}): {refusal_reason(response)}")
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise MalformedResponse(
                f"{what}: onleesbaar antwoord ({response.status_code}, {response.headers.get('content-type', '?')}): "
                f"{response.text[:80]!r}"
            ) from exc


def require(body: Any, *fields: str, what: str) -> dict[str, Any]:
    """The body as a dict that has these fields, or MalformedResponse naming what is missing."""
    if not isinstance(body, dict):
        raise MalformedResponse(f"{what}: antwoord is geen object maar {type(body).__name__}")
    missing = [f for f in fields if f not in body]
    if missing:
        raise MalformedResponse(f"{what}: antwoord mist {', '.join(missing)}")
    return body
