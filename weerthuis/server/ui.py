"""Small corrections to the Prefect UI's look, added to each page it serves (a <style> before </head>).

The Resume dialog puts the form's description (our case summary) and the form in one flex column: with a long form
(the ZRM's 18 fields, a review) the description shrinks to 0 px and the coordinator sees no summary at all. Here it
keeps its height, up to 40% of the window, and scrolls itself when longer.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from weerthuis.server.asgi import call

STYLE = b"""<style id="weerthuis">
.p-modal__body > .markdown-renderer { flex-shrink: 0; max-height: 40vh; overflow: auto; }
</style>"""


class UiTweaks:
    """ASGI middleware: the style above in every HTML page of the UI (never in the API's answers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        accepts = dict(scope.get("headers", [])).get(b"accept", b"") if scope["type"] == "http" else b""
        # Only pages a browser navigates to (Accept: text/html); scripts, styles and the API pass untouched.
        if b"text/html" not in accepts or scope["method"] != "GET" or scope["path"].startswith("/api"):
            await self.app(scope, receive, send)
            return
        plain = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]}
        start, chunks = await call(self.app, plain, None, receive)
        body = b"".join(chunks)
        headers = dict(start.get("headers", []))
        if headers.get(b"content-type", b"").startswith(b"text/html") and b"</head>" in body:
            body = body.replace(b"</head>", STYLE + b"</head>", 1)
            fixed = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length", b"etag")]
            start = {**start, "headers": [*fixed, (b"content-length", str(len(body)).encode())]}
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})
