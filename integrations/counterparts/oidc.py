"""A fake OpenID Connect provider (the identity provider for personal login), a real HTTP server on loopback.

It serves the authorization code flow with PKCE the way a real provider does: discovery, a login page, a token
endpoint, the signing keys, userinfo and logout. Everything the application might get wrong is refused as the
standards say, so the client code written against this fake also works against a real provider:

    GET  /.well-known/openid-configuration   discovery (OpenID Connect Discovery 1.0)
    GET  /authorize      the authentication request: client_id, redirect_uri (exactly as registered),
                         response_type=code, scope with openid, state, nonce, code_challenge with method S256.
                         An unknown client or redirect_uri is a plain 400 page (never a redirect, RFC 6749
                         §4.1.2.1); any other fault goes back to the redirect_uri with `error=`. Otherwise a small
                         Dutch login page: staff code (medewerkerscode) and password.
    POST /authorize      the login form: a wrong password shows the page again with a Dutch error; a right one
                         goes back to the redirect_uri with a one-time `code`, the `state` and `iss` (RFC 9207).
    POST /token          grant_type=authorization_code, the client authenticated by client_secret_basic or
                         client_secret_post. The code is single-use (a second use also revokes the tokens of the
                         first, RFC 6749 §4.1.2), expires after 60 s, is bound to the client and redirect_uri, and
                         its PKCE code_verifier must hash (S256) to the code_challenge. Answers access_token,
                         id_token, token_type, expires_in; errors are RFC 6749 §5.2 JSON (invalid_grant, …).
    GET  /jwks           the RSA public key (RS256, `kid` is its RFC 7638 thumbprint)
    GET  /userinfo       the user's claims for a Bearer access token
    GET  /logout         end session (RP-Initiated Logout 1.0): id_token_hint, post_logout_redirect_uri (only a
                         registered one), state. Revokes the user's access tokens at that client.

The ID token (RS256, `kid` in the header) carries iss, sub, aud (the client_id), iat, exp, auth_time, nonce,
at_hash and the claims Weer Thuis maps: weerthuis_staff_code (EMM-TP-01), weerthuis_role (coordinator),
weerthuis_organisation (transferpunt-emmen) and weerthuis_region (emmen). `sub` is opaque and stable, as at a real
provider: the application must read the staff code from its own claim. The users are the fictional staff of the
region files, by staff code, all with the same password (`--password`, default `demo`); they carry codes only,
as Prefect only ever sees codes. With `--with-names` they also carry `name` (scope profile) and `email` (scope
email) from the region files, as a real provider would add. There is no single sign-on session: every
/authorize shows the login page.

A successful login and a logout are effects, kept in the call ledger (system `oidc`, the staff code in the body,
never a password or token). Control paths, not part of any standard:

    GET    /_control/gebruikers                 the users: staff code, role, organisation, region, sub
    GET    /_control/aanmeldingen               every login and logout so far
    POST   /_control/klok {"vooruit": 61}       the fake's clock runs this many seconds ahead (expiry tests)
    DELETE /_control                            forget codes, tokens, logins and the clock (keys and ledger stay)

plus the fault switches of `faults.py` on /_faults. The signing key is made at start (RSA 2048), or read from
`--key-file` — made there the first time — so a restart keeps it and tokens signed before stay valid.

    python -m integrations.counterparts.oidc --port 8105 --client weerthuis:geheim \\
        --redirect-uri http://127.0.0.1:4200/auth/callback --post-logout-redirect-uri http://127.0.0.1:4200/ \\
        --key-file .data/oidc-key.pem --ledger .data/ledger.sqlite
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import html
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from config.regions import load_regions
from config.settings import REGIONS_DIR
from integrations.counterparts.common import ReadBodyFirst, problem
from integrations.counterparts.faults import FaultMiddleware, Faults
from integrations.counterparts.server import serve
from integrations.fakes import CallLedger

SYSTEM = "oidc"
CODE_TTL = 60  # seconds an authorization code can be redeemed
TOKEN_TTL = 15 * 60  # default lifetime of the ID token and the access token
KEY_SIZE = 2048
ALGORITHM = "RS256"
SCOPES = ("openid", "profile", "email")
STAFF_CLAIMS = ("weerthuis_staff_code", "weerthuis_role", "weerthuis_organisation", "weerthuis_region")
STANDARD_CLAIMS = ("iss", "sub", "aud", "iat", "exp", "auth_time", "nonce", "at_hash")
SUB_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://weerthuis.example.org/oidc/sub")
PKCE_VALUE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 §4.1: code_verifier and an S256 challenge
MAX_PARAMETER = 1024  # state, nonce: longer is a misuse, not a client
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
AUTHORIZE_PARAMETERS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
)


# Users --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    """Someone who can log in; `name` and `email` only if configured (a real provider's extra claims)."""

    staff_code: str
    role: str
    organisation: str
    region: str
    name: str | None = None
    email: str | None = None

    @property
    def sub(self) -> str:
        """Opaque and stable across restarts, as at a real provider: not the staff code."""
        return str(uuid.uuid5(SUB_NAMESPACE, self.staff_code))


def users_from_regions(directory: Path = REGIONS_DIR, *, with_names: bool = False) -> dict[str, User]:
    """The fictional staff of the region files, by staff code; names and e-mail addresses only if asked."""
    users: dict[str, User] = {}
    for region in load_regions(directory).values():
        for person in region.people:
            users[person.code] = User(
                staff_code=person.code,
                role=person.role.value,
                organisation=person.organisation,
                region=region.code,
                name=person.name if with_names else None,
                email=person.email if with_names else None,
            )
    return users


def user_claims(user: User, scopes: Sequence[str]) -> dict[str, Any]:
    """What the provider says about a user, in the ID token and at /userinfo (besides sub)."""
    claims: dict[str, Any] = {
        "weerthuis_staff_code": user.staff_code,
        "weerthuis_role": user.role,
        "weerthuis_organisation": user.organisation,
        "weerthuis_region": user.region,
    }
    if user.name is not None and "profile" in scopes:
        claims["name"] = user.name
    if user.email is not None and "email" in scopes:
        claims["email"] = user.email
    return claims


# Keys ---------------------------------------------------------------------------------------------------------------


def signing_key(path: Path | None = None) -> RSAKey:
    """The RSA signing key, its `kid` the RFC 7638 thumbprint: read from `path`, or made (and kept at `path`)."""
    parameters: dict[str, Any] = {"use": "sig", "alg": ALGORITHM}
    if path is not None and path.exists():
        key = RSAKey.import_key(path.read_bytes(), parameters)  # type: ignore[arg-type]
        if not key.is_private:
            raise ValueError(f"{path}: geen private RSA-sleutel")
        if key.raw_value.key_size < KEY_SIZE:
            raise ValueError(f"{path}: RSA-sleutel korter dan {KEY_SIZE} bits")
    else:
        key = RSAKey.generate_key(KEY_SIZE, parameters)  # type: ignore[arg-type]
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".tmp")
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(key.as_pem(private=True))
            os.replace(partial, path)
    key.ensure_kid()
    return key


def base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def s256(verifier: str) -> str:
    """The PKCE S256 code challenge of a code verifier (RFC 7636 §4.2)."""
    return base64url(hashlib.sha256(verifier.encode()).digest())


def at_hash(access_token: str) -> str:
    """The left half of the access token's SHA-256, as OpenID Connect Core §3.1.3.6 has it for RS256."""
    return base64url(hashlib.sha256(access_token.encode()).digest()[:16])


# State --------------------------------------------------------------------------------------------------------------


@dataclass
class Grant:
    """An authorization code and what it was given for."""

    client_id: str
    redirect_uri: str
    user: User
    scopes: tuple[str, ...]
    nonce: str
    challenge: str
    auth_time: int
    expires_at: float
    redeemed: bool = False
    tokens: list[str] = field(default_factory=list)  # the access tokens issued for it


@dataclass
class AccessToken:
    user: User
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float


class OidcRegister:
    """What the fake provider holds, under one lock (uvicorn serves requests concurrently)."""

    system = SYSTEM

    def __init__(
        self,
        ledger: CallLedger,
        *,
        issuer: str,
        clients: Mapping[str, str],
        redirect_uris: Sequence[str],
        post_logout_redirect_uris: Sequence[str],
        users: Mapping[str, User],
        password: str,
        key: RSAKey,
        token_ttl: int,
    ) -> None:
        self.ledger = ledger
        self.issuer = issuer.rstrip("/")
        self.clients = dict(clients)
        self.redirect_uris = set(redirect_uris)
        self.post_logout_redirect_uris = set(post_logout_redirect_uris)
        self.users = dict(users)
        self.password = password
        self.key = key
        self.token_ttl = token_ttl
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.grants: dict[str, Grant] = {}  # by code
        self.tokens: dict[str, AccessToken] = {}  # by access token
        self.logins: list[dict[str, Any]] = []
        self.offset = 0.0  # seconds the fake's clock runs ahead

    def now(self) -> float:
        return time.time() + self.offset

    def stamp(self) -> str:
        return datetime.fromtimestamp(self.now(), UTC).isoformat(timespec="seconds")

    def client_known(self, client_id: str, secret: str) -> bool:
        expected = self.clients.get(client_id)
        return expected is not None and hmac.compare_digest(expected.encode(), secret.encode())

    def login(self, user: User, client_id: str) -> None:
        self.logins.append(
            {"soort": "aanmelding", "medewerker": user.staff_code, "client": client_id, "op": self.stamp()}
        )
        body = {"staff_code": user.staff_code, "client_id": client_id}
        self.ledger.record(self.system, "login", f"login:{uuid.uuid4()}", body)

    def logout(self, user: User | None, client_id: str | None) -> None:
        """Revoke the user's access tokens at the client, and keep the logout."""
        if user is not None:
            for token in [t for t, held in self.tokens.items() if held.user == user and held.client_id == client_id]:
                del self.tokens[token]
        staff_code = user.staff_code if user else None
        self.logins.append({"soort": "afmelding", "medewerker": staff_code, "client": client_id, "op": self.stamp()})
        body = {"staff_code": staff_code, "client_id": client_id}
        self.ledger.record(self.system, "logout", f"logout:{uuid.uuid4()}", body)

    def discovery(self) -> dict[str, Any]:
        at = self.issuer
        claims = [*STANDARD_CLAIMS, *STAFF_CLAIMS]
        if any(u.name is not None for u in self.users.values()):
            claims.append("name")
        if any(u.email is not None for u in self.users.values()):
            claims.append("email")
        return {
            "issuer": at,
            "authorization_endpoint": f"{at}/authorize",
            "token_endpoint": f"{at}/token",
            "userinfo_endpoint": f"{at}/userinfo",
            "jwks_uri": f"{at}/jwks",
            "end_session_endpoint": f"{at}/logout",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": list(SCOPES),
            "claims_supported": claims,
            "authorization_response_iss_parameter_supported": True,
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
        }

    def id_token(self, grant: Grant, access_token: str, now: int) -> str:
        claims = {
            "iss": self.issuer,
            "sub": grant.user.sub,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + self.token_ttl,
            "auth_time": grant.auth_time,
            "nonce": grant.nonce,
            "at_hash": at_hash(access_token),
            **user_claims(grant.user, grant.scopes),
        }
        return jwt.encode({"alg": ALGORITHM, "kid": self.key.kid, "typ": "JWT"}, claims, self.key, [ALGORITHM])


# Requests -----------------------------------------------------------------------------------------------------------


def parameters(pairs: dict[str, list[str]]) -> tuple[dict[str, str], list[str]]:
    """Each parameter's value, and the names given more than once (RFC 6749 §3.1: never allowed)."""
    return {name: values[0] for name, values in pairs.items()}, sorted(n for n, v in pairs.items() if len(v) > 1)


async def form(request: Request) -> dict[str, list[str]] | None:
    """The urlencoded form of a POST, or None if the body is something else."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return None
    try:
        return parse_qs((await request.body()).decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        return None


def oauth_error(error: str, description: str, status: int = 400, headers: dict[str, str] | None = None) -> Response:
    """An error of the token endpoint, RFC 6749 §5.2."""
    return JSONResponse(
        {"error": error, "error_description": description}, status, headers={**NO_STORE, **(headers or {})}
    )


def with_query(uri: str, values: dict[str, str]) -> str:
    return uri + ("&" if urlsplit(uri).query else "?") + urlencode(values)


# Pages --------------------------------------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 24rem; margin: 4rem auto; padding: 0 1rem; color: #1b1b1b; }}
label {{ display: block; margin-top: 1rem; }}
input[type=text], input[type=password] {{ width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }}
button {{ margin-top: 1.5rem; padding: .6rem 1.2rem; font-size: 1rem; }}
.fout {{ color: #a00; font-weight: bold; }}
</style>
</head>
<body>
<h1>{title}</h1>
{body}
</body>
</html>
"""


def page(title: str, body: str, status: int = 200) -> Response:
    headers = {**NO_STORE, "X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status, headers=headers)


def refused_page(reason: str) -> Response:
    """An authentication request that cannot go back to the application: a 400 page, no redirect."""
    return page("Inloggen lukt niet", f'<p class="fout">{html.escape(reason)}</p>', 400)


def login_page(action: str, request: dict[str, str], *, error: str | None = None, username: str = "") -> Response:
    """The login form; it posts to `action` (the authorization endpoint) with the authentication request."""
    hidden = "\n".join(
        f'<input type="hidden" name="{name}" value="{html.escape(request[name])}">'
        for name in AUTHORIZE_PARAMETERS
        if name in request
    )
    fout = f'<p class="fout" role="alert">{html.escape(error)}</p>\n' if error else ""
    body = f"""<p>Log in met uw medewerkerscode om verder te gaan naar {html.escape(request["client_id"])}.</p>
{fout}<form method="post" action="{html.escape(action)}">
{hidden}
<label for="username">Medewerkerscode</label>
<input type="text" id="username" name="username" value="{html.escape(username)}" autocomplete="username"
 placeholder="EMM-TP-01" required autofocus>
<label for="password">Wachtwoord</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Inloggen</button>
</form>"""
    return page("Inloggen bij Weer Thuis", body)


# The app ------------------------------------------------------------------------------------------------------------


@dataclass
class AuthenticationRequest:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    nonce: str
    challenge: str
    given: dict[str, str]  # the request's own parameters, for the login form


def oidc_app(
    ledger: CallLedger,
    *,
    issuer: str,
    clients: Mapping[str, str],
    redirect_uris: Sequence[str],
    post_logout_redirect_uris: Sequence[str] = (),
    users: Mapping[str, User] | None = None,
    password: str = "demo",
    key: RSAKey | None = None,
    token_ttl: int = TOKEN_TTL,
    faults: Faults | None = None,
) -> Starlette:
    """The fake provider at `issuer` (its own address); `users` default to the staff of the shipped regions."""
    register = OidcRegister(
        ledger,
        issuer=issuer,
        clients=clients,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout_redirect_uris,
        users=users if users is not None else users_from_regions(),
        password=password,
        key=key or signing_key(),
        token_ttl=token_ttl,
    )
    faults = faults or Faults()

    def check_authentication(pairs: dict[str, list[str]]) -> AuthenticationRequest | Response:
        """The request, a 400 page (unknown client or redirect_uri), or a redirect with `error=`."""
        given, repeated = parameters({n: v for n, v in pairs.items() if n in AUTHORIZE_PARAMETERS})
        client_id, redirect_uri = given.get("client_id", ""), given.get("redirect_uri", "")
        if "client_id" in repeated or "redirect_uri" in repeated:
            return refused_page("client_id en redirect_uri mogen maar één keer in het verzoek staan.")
        if client_id not in register.clients:
            return refused_page("Deze applicatie (client_id) is hier niet bekend.")
        if redirect_uri not in register.redirect_uris:
            return refused_page("Dit terugkeeradres (redirect_uri) is voor deze applicatie niet geregistreerd.")
        state = given.get("state", "")

        def back(error: str, description: str) -> Response:
            values = {"error": error, "error_description": description, "iss": register.issuer}
            return RedirectResponse(with_query(redirect_uri, {**values, **({"state": state} if state else {})}), 302)

        scopes = tuple(given.get("scope", "").split())
        method = given.get("code_challenge_method")
        if repeated:
            return back("invalid_request", f"Parameter meer dan eens gegeven: {', '.join(repeated)}.")
        if "response_type" not in given:
            return back("invalid_request", "response_type ontbreekt.")
        if given["response_type"] != "code":
            return back("unsupported_response_type", "Alleen response_type=code.")
        if "openid" not in scopes:
            return back("invalid_scope", "De scope moet openid bevatten.")
        if unknown := sorted(set(scopes) - set(SCOPES)):
            return back("invalid_scope", f"Onbekende scope: {', '.join(unknown)}.")
        for name in ("state", "nonce"):
            if not given.get(name) or len(given[name]) > MAX_PARAMETER:
                return back("invalid_request", f"{name} ontbreekt of is langer dan {MAX_PARAMETER} tekens.")
        if "code_challenge" not in given:
            return back("invalid_request", "code_challenge ontbreekt (PKCE is verplicht).")
        if method != "S256":
            return back("invalid_request", "Alleen code_challenge_method=S256.")
        if not PKCE_VALUE.fullmatch(given["code_challenge"]):
            return back("invalid_request", "code_challenge is geen geldige S256-waarde.")
        if "none" in given.get("prompt", "").split():
            return back("login_required", "Er is geen sessie: inloggen is nodig.")
        return AuthenticationRequest(
            client_id, redirect_uri, scopes, given["state"], given["nonce"], given["code_challenge"], given
        )

    async def authorize(request: Request) -> Response:
        if request.method == "GET":
            pairs = parse_qs(request.url.query, keep_blank_values=True)
        else:
            found = await form(request)
            if found is None:
                return refused_page("Het formulier moet als application/x-www-form-urlencoded worden verstuurd.")
            pairs = found
        checked = check_authentication(pairs)
        if isinstance(checked, Response):
            return checked
        given, _ = parameters(pairs)
        username, typed = given.get("username", "").strip().upper(), given.get("password", "")
        if request.method == "GET" or ("username" not in given and "password" not in given):
            return login_page(
                f"{register.issuer}/authorize", checked.given
            )  # the authentication request itself (a POST one is allowed too)
        user = register.users.get(username)
        if user is None or not hmac.compare_digest(typed.encode(), register.password.encode()):
            return login_page(
                f"{register.issuer}/authorize",
                checked.given,
                error="Medewerkerscode of wachtwoord klopt niet.",
                username=username,
            )
        code = secrets.token_urlsafe(32)
        with register.lock:
            now = register.now()
            register.grants[code] = Grant(
                client_id=checked.client_id,
                redirect_uri=checked.redirect_uri,
                user=user,
                scopes=checked.scopes,
                nonce=checked.nonce,
                challenge=checked.challenge,
                auth_time=int(now),
                expires_at=now + CODE_TTL,
            )
            register.login(user, checked.client_id)
        answer = {"code": code, "state": checked.state, "iss": register.issuer}
        return RedirectResponse(with_query(checked.redirect_uri, answer), 303)  # after a POST: GET the callback

    def authenticate_client(request: Request, given: dict[str, str]) -> str | Response:
        """The client_id of a client that proved itself (client_secret_basic or _post), or the error."""
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        unknown = oauth_error(
            "invalid_client", "Onbekende client of verkeerd geheim.", 401, {"WWW-Authenticate": 'Basic realm="oidc"'}
        )
        if scheme.lower() == "basic":
            if "client_secret" in given:
                return oauth_error("invalid_request", "Meer dan een manier van clientauthenticatie.")
            try:
                client_id, colon, secret = base64.b64decode(credentials, validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return unknown
            client_id, secret = unquote_plus(client_id), unquote_plus(secret)  # RFC 6749 §2.3.1
            if not colon:
                return unknown
            if given.get("client_id", client_id) != client_id:
                return oauth_error("invalid_request", "client_id in de body wijkt af van die in de header.")
        elif "client_secret" in given:
            client_id, secret = given.get("client_id", ""), given["client_secret"]
        else:
            return oauth_error(
                "invalid_client", "Geen clientauthenticatie.", 401, {"WWW-Authenticate": 'Basic realm="oidc"'}
            )
        return client_id if register.client_known(client_id, secret) else unknown

    async def token(request: Request) -> Response:
        pairs = await form(request)
        if pairs is None:
            return oauth_error("invalid_request", "Content-Type moet application/x-www-form-urlencoded zijn.")
        given, repeated = parameters(pairs)
        if repeated:
            return oauth_error("invalid_request", f"Parameter meer dan eens gegeven: {', '.join(repeated)}.")
        client_id = authenticate_client(request, given)
        if isinstance(client_id, Response):
            return client_id
        if "grant_type" not in given:
            return oauth_error("invalid_request", "grant_type ontbreekt.")
        if given["grant_type"] != "authorization_code":
            return oauth_error("unsupported_grant_type", "Alleen grant_type=authorization_code.")
        for name in ("code", "redirect_uri", "code_verifier"):
            if not given.get(name):
                return oauth_error("invalid_request", f"{name} ontbreekt.")
        if not PKCE_VALUE.fullmatch(given["code_verifier"]):
            return oauth_error("invalid_request", "code_verifier: 43 tot 128 tekens A-Z a-z 0-9 - . _ ~")
        with register.lock:
            grant = register.grants.get(given["code"])
            if grant is None:
                return oauth_error("invalid_grant", "Onbekende code.")
            if grant.redeemed:
                for issued in grant.tokens:
                    register.tokens.pop(issued, None)
                return oauth_error("invalid_grant", "Deze code is al gebruikt; de tokens ervan zijn ingetrokken.")
            grant.redeemed = True  # every attempt uses the code up, a failed one too
            now = register.now()
            if now > grant.expires_at:
                return oauth_error("invalid_grant", f"De code is verlopen (na {CODE_TTL} seconden).")
            if grant.client_id != client_id:
                return oauth_error("invalid_grant", "De code is aan een andere client gegeven.")
            if grant.redirect_uri != given["redirect_uri"]:
                return oauth_error("invalid_grant", "redirect_uri wijkt af van die in het autorisatieverzoek.")
            if not hmac.compare_digest(s256(given["code_verifier"]).encode(), grant.challenge.encode()):
                return oauth_error("invalid_grant", "De code_verifier past niet bij de code_challenge (PKCE).")
            access_token = secrets.token_urlsafe(32)
            register.tokens[access_token] = AccessToken(grant.user, client_id, grant.scopes, now + register.token_ttl)
            grant.tokens.append(access_token)
            id_token = register.id_token(grant, access_token, int(now))
        body = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": register.token_ttl,
            "id_token": id_token,
            "scope": " ".join(grant.scopes),
        }
        return JSONResponse(body, headers=NO_STORE)

    async def jwks(request: Request) -> Response:
        return JSONResponse({"keys": [register.key.as_dict(private=False)]})

    async def discovery(request: Request) -> Response:
        return JSONResponse(register.discovery())

    async def userinfo(request: Request) -> Response:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return JSONResponse(
                {"error": "invalid_request", "error_description": "Geen Bearer-token."},
                401,
                headers={**NO_STORE, "WWW-Authenticate": 'Bearer realm="oidc"'},
            )
        with register.lock:
            held = register.tokens.get(given)
            if held is None or register.now() > held.expires_at:
                return JSONResponse(
                    {"error": "invalid_token", "error_description": "Onbekend, verlopen of ingetrokken token."},
                    401,
                    headers={**NO_STORE, "WWW-Authenticate": 'Bearer realm="oidc", error="invalid_token"'},
                )
            claims = {"sub": held.user.sub, **user_claims(held.user, held.scopes)}
        return JSONResponse(claims, headers=NO_STORE)

    async def logout(request: Request) -> Response:
        if request.method == "GET":
            pairs = parse_qs(request.url.query, keep_blank_values=True)
        else:
            found = await form(request)
            if found is None:
                return refused_page("Het formulier moet als application/x-www-form-urlencoded worden verstuurd.")
            pairs = found
        given, repeated = parameters(pairs)
        if repeated:
            return refused_page(f"Parameter meer dan eens gegeven: {', '.join(repeated)}.")
        client_id, user = given.get("client_id"), None
        if client_id is not None and client_id not in register.clients:
            return refused_page("Deze applicatie (client_id) is hier niet bekend.")
        if "id_token_hint" in given:
            try:  # the signature and issuer are checked; an expired ID token is still a fine hint
                claims = jwt.decode(given["id_token_hint"], register.key, [ALGORITHM]).claims
            except (JoseError, ValueError):
                return refused_page("Het id_token_hint is geen ID-token van deze dienst.")
            audience = claims.get("aud")
            if (
                claims.get("iss") != register.issuer
                or not isinstance(audience, str)
                or audience not in register.clients
            ):
                return refused_page("Het id_token_hint is geen ID-token van deze dienst.")
            if client_id is not None and audience != client_id:
                return refused_page("Het id_token_hint is voor een andere applicatie.")
            client_id = audience
            user = next((u for u in register.users.values() if u.sub == claims.get("sub")), None)
        target = given.get("post_logout_redirect_uri")
        if target is not None:
            if client_id is None:
                return refused_page("Terugsturen kan alleen met id_token_hint of client_id.")
            if target not in register.post_logout_redirect_uris:
                return refused_page("Dit adres (post_logout_redirect_uri) is niet geregistreerd.")
        with register.lock:
            register.logout(user, client_id)
        if target is not None:
            return RedirectResponse(
                with_query(target, {"state": given["state"]}) if given.get("state") else target, 302
            )
        return page("Uitgelogd", "<p>U bent uitgelogd. U kunt dit venster sluiten.</p>")

    # Control paths --------------------------------------------------------------------------------------------------

    async def control_reset(request: Request) -> Response:
        with register.lock:
            register.reset()
        return Response(status_code=204)

    async def control_users(request: Request) -> Response:
        return JSONResponse(
            [
                {
                    "medewerkerscode": u.staff_code,
                    "rol": u.role,
                    "organisatie": u.organisation,
                    "regio": u.region,
                    "sub": u.sub,
                }
                for u in register.users.values()
            ]
        )

    async def control_logins(request: Request) -> Response:
        with register.lock:
            return JSONResponse(list(register.logins))

    async def control_clock(request: Request) -> Response:
        try:
            body = await request.json()
            ahead = float(body["vooruit"])
        except (ValueError, KeyError, TypeError):
            return problem(400, "Ongeldig verzoek", 'Verwacht {"vooruit": seconden}.')
        with register.lock:
            register.offset += ahead
            return JSONResponse({"verschuiving": register.offset})

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        titles = {404: "Niet gevonden", 405: "Methode niet toegestaan"}
        return problem(status, titles.get(status, "Fout"), f"{request.method} {request.url.path}")

    async def crashed(request: Request, exc: Exception) -> Response:
        return problem(500, "Interne fout", type(exc).__name__)

    control = [
        Route("/gebruikers", control_users, methods=["GET"]),
        Route("/aanmeldingen", control_logins, methods=["GET"]),
        Route("/klok", control_clock, methods=["POST"]),
    ]
    app = Starlette(
        routes=[
            *faults.routes(),
            Route("/_control", control_reset, methods=["DELETE"]),
            Mount("/_control", routes=control),
            Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
            Route("/authorize", authorize, methods=["GET", "POST"]),
            Route("/token", token, methods=["POST"]),
            Route("/jwks", jwks, methods=["GET"]),
            Route("/userinfo", userinfo, methods=["GET", "POST"]),
            Route("/logout", logout, methods=["GET", "POST"]),
        ],
        middleware=[Middleware(ReadBodyFirst), Middleware(FaultMiddleware, faults=faults)],
        exception_handlers={HTTPException: not_found, Exception: crashed},
    )
    app.state.register = register
    app.state.faults = faults
    return app


def client_pair(value: str) -> tuple[str, str]:
    client_id, colon, secret = value.partition(":")
    if not client_id or not colon or not secret:
        raise argparse.ArgumentTypeError(f"verwacht client_id:geheim, niet {value!r}")
    return client_id, secret


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Nep-OpenID Connect-provider (inloggen met PKCE) op 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8105)
    parser.add_argument("--issuer", help="het eigen adres van de provider (standaard http://127.0.0.1:<port>)")
    parser.add_argument(
        "--client", type=client_pair, action="append", default=[], help="client_id:geheim (herhaalbaar)"
    )
    parser.add_argument(
        "--redirect-uri", action="append", required=True, help="geregistreerd terugkeeradres (herhaalbaar)"
    )
    parser.add_argument(
        "--post-logout-redirect-uri", action="append", default=[], help="adres na uitloggen (herhaalbaar)"
    )
    parser.add_argument("--password", default="demo", help="het wachtwoord van elke demogebruiker")
    parser.add_argument("--key-file", type=Path, help="PEM-bestand met de RSA-sleutel (gemaakt als het er niet is)")
    parser.add_argument("--token-ttl", type=int, default=TOKEN_TTL, help="levensduur van de tokens in seconden")
    parser.add_argument("--regions", type=Path, default=REGIONS_DIR, help="map met de regiobestanden")
    parser.add_argument("--with-names", action="store_true", help="ook naam en e-mail, zoals een echte provider")
    parser.add_argument("--ledger", type=Path, default=Path(".data/fake-counterparts.sqlite"))
    args = parser.parse_args(argv)
    if args.token_ttl <= 0:
        parser.error("--token-ttl moet positief zijn")
    app = oidc_app(
        CallLedger(args.ledger),
        issuer=args.issuer or f"http://127.0.0.1:{args.port}",
        clients=dict(args.client) or {"weerthuis": "geheim"},
        redirect_uris=args.redirect_uri,
        post_logout_redirect_uris=args.post_logout_redirect_uri,
        users=users_from_regions(args.regions, with_names=args.with_names),
        password=args.password,
        key=signing_key(args.key_file),
        token_ttl=args.token_ttl,
    )
    serve(app, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
