"""Logging in and out: the OpenID Connect client of `weerthuis server` (authlib), at /auth/….

    GET /auth/login?next=/runs   to the identity provider's login (authorization code + PKCE S256, state, nonce)
    GET /auth/callback           back from the provider: the code is exchanged, the ID token checked (signature by
                                 the provider's JWKS, issuer, audience, expiry, nonce, at_hash), the person looked
                                 up in the region files, the session cookie set; then on to `next`
    GET /auth/logout             the session ends here and at the provider (RP-Initiated Logout), then the start
    GET /auth/me                 who is logged in (JSON), or 401

Every login, refused login and logout is written to the access log (weerthuis.accesslog).
"""

from __future__ import annotations

import html
import logging
from typing import Any
from urllib.parse import urlencode

import anyio
from authlib.integrations.starlette_client import OAuth, OAuthError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from config.regions import Region
from config.settings import LoginSettings
from weerthuis.server.identity import LoginRefused, Logouts, new_session, person_from_claims, session_person

logger = logging.getLogger("weerthuis.server")

CALLBACK = "/auth/callback"


def safe_next(value: str | None) -> str:
    """Only a path on this server (never `//elsewhere` or a full address): no open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def refused(reason: str, status: int = 403) -> Response:
    body = (
        "<!doctype html><html lang='nl'><meta charset='utf-8'><title>Inloggen lukt niet</title>"
        f"<body style='font-family:sans-serif;max-width:40em;margin:3em auto'><h1>Inloggen lukt niet</h1>"
        f"<p>{html.escape(reason)}</p><p><a href='/auth/login'>Opnieuw inloggen</a></p></body></html>"
    )
    return HTMLResponse(body, status)


def login_routes(settings: LoginSettings, regions: dict[str, Region], log: Any, logouts: Logouts) -> list[Route]:
    """The /auth routes; `log(kind, who, reason=…, address=…)` writes the access log."""
    assert settings.issuer and settings.public_url and settings.client_secret
    public = settings.public_url.rstrip("/")
    oauth = OAuth()
    provider = oauth.register(
        "idp",
        client_id=settings.client_id,
        client_secret=settings.client_secret.get_secret_value(),
        server_metadata_url=f"{settings.issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs={"scope": settings.scope, "code_challenge_method": "S256", "timeout": 10},
    )

    def address(request: Request) -> str | None:
        return request.client.host if request.client else None

    async def login(request: Request) -> Response:
        request.session.pop("person", None)
        request.session["next"] = safe_next(request.query_params.get("next"))
        return await provider.authorize_redirect(request, f"{public}{CALLBACK}")

    async def callback(request: Request) -> Response:
        try:
            token = await provider.authorize_access_token(request)
            person = person_from_claims(dict(token.get("userinfo") or {}), regions, settings)
        except OAuthError as exc:
            reason = f"De identity provider weigerde de aanmelding ({exc.error}: {exc.description or ''})."
            await anyio.to_thread.run_sync(
                lambda: log("LOGIN_REFUSED", "anoniem", reason=reason, address=address(request))
            )
            return refused(reason, 400)
        except LoginRefused as exc:
            why = str(exc)
            await anyio.to_thread.run_sync(
                lambda: log("LOGIN_REFUSED", "anoniem", reason=why, address=address(request))
            )
            return refused(why)
        target = safe_next(request.session.get("next"))
        request.session.clear()
        request.session.update(new_session(person, settings))
        await anyio.to_thread.run_sync(
            lambda: log("LOGIN", person.code, reason=person.role.noun, address=address(request))
        )
        return RedirectResponse(target, 303)

    async def logout(request: Request) -> Response:
        person = session_person(request.session, regions)
        request.session.clear()
        if person is not None:
            await anyio.to_thread.run_sync(lambda: log("LOGOUT", person.code, address=address(request)))
            logouts.logged_out(person.code)
        try:
            metadata = await provider.load_server_metadata()
        except Exception:  # the provider is away: the session here has ended all the same
            logger.exception("Afmelden bij de identity provider lukt niet")
            return RedirectResponse("/auth/afgemeld", 303)
        end = metadata.get("end_session_endpoint")
        if not end:
            return RedirectResponse("/auth/afgemeld", 303)
        query = urlencode({"client_id": settings.client_id, "post_logout_redirect_uri": f"{public}/auth/afgemeld"})
        return RedirectResponse(f"{end}?{query}", 303)

    async def logged_out(request: Request) -> Response:
        return HTMLResponse(
            "<!doctype html><html lang='nl'><meta charset='utf-8'><title>Afgemeld</title>"
            "<body style='font-family:sans-serif;max-width:40em;margin:3em auto'><h1>U bent afgemeld</h1>"
            "<p><a href='/auth/login'>Opnieuw inloggen</a></p></body></html>"
        )

    async def me(request: Request) -> Response:
        person = session_person(request.session, regions)
        if person is not None and await logouts.ended(person.code, float(request.session.get("since", 0))):
            person = None
        if person is None:
            return JSONResponse({"detail": "Niet aangemeld."}, 401)
        return JSONResponse(
            {
                "code": person.code,
                "role": person.role.value,
                "organisation": person.organisation,
                "region": person.region,
            }
        )

    return [
        Route("/auth/login", login),
        Route(CALLBACK, callback),
        Route("/auth/logout", logout, methods=["GET", "POST"]),
        Route("/auth/afgemeld", logged_out),
        Route("/auth/me", me),
    ]
