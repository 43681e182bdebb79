"""Running a request through the wrapped app with its body in hand, keeping the answer instead of sending it."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope

logger = logging.getLogger("weerthuis.server")


async def read_body(receive: Receive) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def call(app: ASGIApp, scope: Scope, body: bytes | None, receive: Receive) -> tuple[Message, list[bytes]]:
    """Run the request once, keeping the response instead of sending it; with `body` (already read from the
    client) the app is given that body first, without it the client's own messages."""
    replayed = body is None

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body or b"", "more_body": False}

    start: Message = {}
    chunks: list[bytes] = []

    async def keep(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(scope, replay, keep)
    except Exception:  # Starlette answers 500 and raises on; the answer is what counts here
        logger.exception("%s %s", scope["method"], scope["path"])
        if not start:
            start = {"type": "http.response.start", "status": 500, "headers": [(b"content-type", b"text/plain")]}
            chunks = [b"Internal Server Error"]
    return start, chunks
