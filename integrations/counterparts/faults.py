"""Switches a fake counterpart can be thrown into, to show the adapters survive the real world.

A test (or a person trying the demo) plans faults over HTTP on the fake itself:

    POST /_faults {"method": "POST", "path": "/zaken", "plan": ["503", "503"]}   the next two POSTs get a 503
    POST /_faults {"path": "/zaken", "plan": ["429:2"]}     429 with Retry-After: 2
    POST /_faults {"path": "/zaken", "plan": ["timeout:3"]} answer only after 3 s (the request is still carried out)
    POST /_faults {"path": "/zaken", "plan": ["malformed"]} 200 with a body that is not JSON (nothing carried out)
    POST /_faults {"latency_ms": 150}                       every answer from now on 150 ms later
    DELETE /_faults                                         back to normal

Each planned fault is used once, in order, by the first request that matches (method, path prefix).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class PlannedFault:
    method: str | None
    path: str
    kind: str  # "503", "429:2", "timeout:3", "malformed", any status code


@dataclass
class Faults:
    planned: list[PlannedFault] = field(default_factory=list)
    latency_ms: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, method: str, path: str) -> str | None:
        with self._lock:
            for fault in self.planned:
                if (fault.method in (None, method)) and path.startswith(fault.path):
                    self.planned.remove(fault)
                    return fault.kind
        return None

    async def control(self, request: Request) -> Response:
        if request.method == "DELETE":
            with self._lock:
                self.planned.clear()
                self.latency_ms = 0
            return Response(status_code=204)
        body = await request.json()
        with self._lock:
            if "latency_ms" in body:
                self.latency_ms = int(body["latency_ms"])
            for kind in body.get("plan", []):
                self.planned.append(PlannedFault(body.get("method"), body.get("path", "/"), str(kind)))
            return JSONResponse({"planned": len(self.planned), "latency_ms": self.latency_ms})

    def routes(self) -> list[Route]:
        return [Route("/_faults", self.control, methods=["POST", "DELETE"])]


class FaultMiddleware:
    """Applies the planned faults to every request outside the fake's own `/_…` control paths."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_"):
            await self.app(scope, receive, send)
            return
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        kind = self.faults.take(scope["method"], scope["path"])
        if kind is None:
            await self.app(scope, receive, send)
            return
        name, _, argument = kind.partition(":")
        if name == "timeout":
            # Read the request first: once the client has given up, its body can no longer be read. The late
            # request is still carried out, as a real server would, and its answer goes nowhere.
            messages = [await receive()]
            while messages[-1].get("more_body"):
                messages.append(await receive())
            await asyncio.sleep(float(argument or 30))

            async def replay() -> Message:
                return messages.pop(0) if messages else {"type": "http.disconnect"}

            async def into_the_void(message: Message) -> None:
                with contextlib.suppress(OSError):
                    await send(message)

            await self.app(scope, replay, into_the_void)
            return
        if name == "malformed":
            response: Response = Response(b"<html><body>Bad gateway</body></html>", 200, media_type="application/json")
        elif name == "429":
            response = JSONResponse({"title": "Te veel verzoeken"}, 429, headers={"Retry-After": argument or "1"})
        else:
            response = JSONResponse({"title": f"Geplande storing {name}"}, int(name))
        await response(scope, receive, send)
