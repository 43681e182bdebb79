"""Who is asking: a person who logged in with OpenID Connect, or a machine showing its API token.

People log in at the region's identity provider (authorization code flow with PKCE, by authlib): the ID token's
staff-code claim names one of the region's people, and the role claim, when the provider sends one, must be that
person's role in the region file. The session is a signed cookie (Starlette's SessionMiddleware: HttpOnly,
SameSite=Lax, Secure behind https) holding the person's codes and until when the login holds — never a name, an
e-mail address or the provider's tokens. A login ends after `idle_minutes` unused, after `session_hours` in any
case, and at logout.

Machines — the worker and the flow runs it starts, the CLI, the counterpart-answers flow — show a token of
weerthuis.tokens: Prefect's client sends `PREFECT_API_AUTH_STRING=<service>:<token>` as HTTP Basic on every
request and on its websockets, or `PREFECT_API_KEY=<token>` as a Bearer token.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.types import Scope

from config.regions import Region
from config.settings import LoginSettings
from weerthuis.domain.vocabulary import Role

SESSION_COOKIE = "weerthuis_sessie"
TOKEN_CACHE_SECONDS = 5.0  # a revoked token is refused within this long on every server process


@dataclass(frozen=True)
class Person:
    """A logged-in person of one region: their staff code, role and organisation as the region file has them."""

    code: str
    role: Role
    organisation: str
    region: str

    @property
    def who(self) -> str:
        return self.code

    @property
    def is_coordinator(self) -> bool:
        return self.role is Role.COORDINATOR


@dataclass(frozen=True)
class Service:
    """A machine with an API token (`worker`, `cli`, `counterpart-answers`)."""

    name: str

    @property
    def who(self) -> str:
        return self.name


Principal = Person | Service


class LoginRefused(Exception):
    """The provider vouched for someone Weer Thuis does not know, or knows otherwise; the message is Dutch."""


def person_from_claims(claims: dict[str, Any], regions: dict[str, Region], settings: LoginSettings) -> Person:
    """The region's person the ID token names. The token's role and organisation, when given, must agree with the
    region file: the provider proves who logged in, the region decides what that person may do."""
    code = claims.get(settings.staff_code_claim)
    if not isinstance(code, str) or not code:
        raise LoginRefused(f"De identity provider gaf geen medewerkerscode mee (claim {settings.staff_code_claim}).")
    for region in regions.values():
        person = region.person(code)
        if person is None:
            continue
        role = claims.get(settings.role_claim)
        if role is not None and role != person.role.value:
            raise LoginRefused(
                f"Medewerker {code} heeft bij de identity provider de rol '{role}', "
                f"maar in regio {region.name} de rol {person.role.noun}. Vraag de beheerder dit recht te zetten."
            )
        organisation = claims.get(settings.organisation_claim)
        if organisation is not None and organisation != person.organisation:
            raise LoginRefused(
                f"Medewerker {code} werkt volgens de identity provider bij '{organisation}', "
                f"maar in regio {region.name} bij '{person.organisation}'. Vraag de beheerder dit recht te zetten."
            )
        return Person(code=code, role=person.role, organisation=person.organisation, region=region.code)
    raise LoginRefused(f"Medewerker {code} staat niet in de medewerkerslijst van een regio van Weer Thuis.")


def new_session(person: Person, settings: LoginSettings) -> dict[str, Any]:
    """What the session cookie holds: codes and times only."""
    return {
        "person": {
            "code": person.code,
            "role": person.role.value,
            "organisation": person.organisation,
            "region": person.region,
        },
        "since": time.time(),
        "until": time.time() + settings.session_hours * 3600,
        "sid": secrets.token_urlsafe(12),
    }


def session_person(session: dict[str, Any], regions: dict[str, Region]) -> Person | None:
    """The person of a valid session, if it still holds and the person is still in the region file."""
    found, until = session.get("person"), session.get("until")
    if not isinstance(found, dict) or not isinstance(until, int | float) or until < time.time():
        return None
    region = regions.get(found.get("region", ""))
    person = region.person(found.get("code", "")) if region is not None else None
    if person is None or person.role.value != found.get("role"):
        return None  # taken off the list, or given another role, since the login: log in again
    return Person(code=person.code, role=person.role, organisation=person.organisation, region=region.code)  # type: ignore[union-attr]


def presented_token(scope: Scope) -> str | None:
    """The API token in the request's Authorization header: Basic `<service>:<token>` or Bearer `<token>`."""
    header = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
    kind, _, value = header.partition(" ")
    if kind.lower() == "bearer":
        return value.strip() or None
    if kind.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


class Logouts:
    """When people last logged out (the access log's logouts): a session from before that has ended, also one whose
    cookie a browser still holds (an answer in flight at logout sets it again) or that was copied elsewhere."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._seen: dict[str, tuple[float, float]] = {}  # code -> (checked at, last logout as epoch seconds)

    def logged_out(self, code: str) -> None:
        self._seen[code] = (time.monotonic(), time.time())

    async def ended(self, code: str, since: float) -> bool:
        now = time.monotonic()
        seen = self._seen.get(code)
        if seen is None or now - seen[0] > TOKEN_CACHE_SECONDS:
            from weerthuis import accesslog

            last = await anyio.to_thread.run_sync(accesslog.last_logout, self.store, code)
            seen = (now, last.timestamp() if last is not None else 0.0)
            self._seen[code] = seen
        return since <= seen[1]


class TokenCheck:
    """Checks API tokens against the case database (weerthuis.tokens), remembering an answer a few seconds."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._seen: dict[str, tuple[float, Service | None]] = {}

    async def service(self, token: str) -> Service | None:
        now = time.monotonic()
        seen = self._seen.get(token)
        if seen is not None and now - seen[0] < TOKEN_CACHE_SECONDS:
            return seen[1]
        from weerthuis import tokens

        info = await anyio.to_thread.run_sync(tokens.verify, self.store, token)
        service = Service(info.service) if info is not None else None
        if len(self._seen) > 1000:
            self._seen.clear()
        self._seen[token] = (now, service)
        return service


async def principal(
    scope: Scope, regions: dict[str, Region], token_check: TokenCheck, logouts: Logouts | None = None
) -> Principal | None:
    """Who sent this request: a token wins over a session cookie (a machine never holds one)."""
    token = presented_token(scope)
    if token is not None:
        return await token_check.service(token)
    session = scope.get("session")
    person = session_person(session, regions) if isinstance(session, dict) else None
    if person is None or session is None:
        return None
    if logouts is not None and await logouts.ended(person.code, float(session.get("since", 0))):
        return None
    return person
