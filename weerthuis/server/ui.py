"""Small corrections to the Prefect UI's look, added to each page it serves (a <style> before </head>, and a
logout link before </body>).

The Resume dialog puts the form's description (our case summary) and the form in one flex column: with a long form
(the ZRM's 18 fields, a review) the description shrinks to 0 px and the coordinator sees no summary at all. Here it
keeps its height, up to 40% of the window, and scrolls itself when longer.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from weerthuis.server.asgi import call

STYLE = b"""<style id="weerthuis">
.p-modal__body > .markdown-renderer { flex-shrink: 0; max-height: 40vh; overflow: auto; }
#weerthuis-afmelden { position: fixed; left: 1rem; bottom: 6rem; z-index: 1000; padding: .4rem .8rem;
  border-radius: .4rem; background: #1b1b1b; color: #fff; font: 14px system-ui, sans-serif; text-decoration: none; }
</style>"""
# Prefect's UI has no users, so no way out: a logout link of our own on every page (secured.py's /auth/logout).
# And when the login has ended (logout in another tab, idle too long), the page goes to the login instead of
# showing the UI's errors: it asks /auth/me every 30 s.
LOGOUT = b"""<a id="weerthuis-afmelden" href="/auth/logout">Afmelden</a>
<script>setInterval(function () { fetch("/auth/me").then(function (r) { if (r.status === 401) {
  location.href = "/auth/login?next=" + encodeURIComponent(location.pathname + location.search); } }); }, 30000);
</script>"""


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
            body = body.replace(b"</head>", STYLE + b"</head>", 1).replace(b"</body>", LOGOUT + b"</body>", 1)
            # Never from the browser's cache: after a logout the page must come from the server, which asks for login.
            dropped = (b"content-length", b"etag", b"cache-control", b"last-modified")
            fixed = [(k, v) for k, v in start.get("headers", []) if k.lower() not in dropped]
            start = {
                **start,
                "headers": [*fixed, (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")],
            }
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})
