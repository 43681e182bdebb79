"""API tokens for machines: the workers, the CLI, the counterpart-answers flow, a counterpart's system (`api:domesta`).

People will log in with OIDC in front of the Prefect server; machines show a token instead, one per service. A token
reads `wt_<prefix>_<secret>`: the prefix (8 hex characters) is public and finds the row, the secret is
`secrets.token_urlsafe(32)` (256 random bits). It is shown once, when issued; the case database keeps only a random
salt and HMAC-SHA256(salt, token) (`service_tokens`, migration 0012).

Why not scrypt or argon2: those are slow on purpose so that a guessable *password* costs an attacker who stole the
hashes much time per guess. A token is not guessable: 2^256 secrets, so even a fast hash leaves no search worth
starting, and a slow one would only cost the server time on every request it checks. The per-token salt keeps two
rows from ever sharing a hash and any precomputed table from applying; the hash covers the whole token, prefix
included, so a secret never verifies under another row's prefix. Compared in constant time (hmac.compare_digest).

Who issues and revokes: a coordinator of one of the regions (a staff code), when the store is given as a Casework
(which knows the regions); with a bare session factory any non-empty code is taken. A revoked token stays in the
table with who, when and why. A service may hold more than one active token for a while (issue the new one, deploy
it, revoke the old one): that is how a token is rotated without downtime.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.regions import Region
from weerthuis.casedb.models import ServiceToken
from weerthuis.casedb.quota import Refused
from weerthuis.casedb.uow import UnitOfWork
from weerthuis.domain.vocabulary import Role
from weerthuis.service.errors import UnknownDecider

TOKEN_START = "wt_"
PREFIX_LENGTH = 8
SECRET_BYTES = 32  # secrets.token_urlsafe(32): 43 characters of base64url
SALT_BYTES = 16
# How often a token's last use is written: at most once a minute, so a busy worker does not make every check a write.
LAST_USED_EVERY = timedelta(minutes=1)

_TOKEN = re.compile(rf"{TOKEN_START}([0-9a-f]{{{PREFIX_LENGTH}}})_([A-Za-z0-9_-]{{43}})")
_PREFIX = re.compile(rf"[0-9a-f]{{{PREFIX_LENGTH}}}")
# worker, cli, counterpart-answers, api:domesta: starts with a letter, ends with a letter or digit.
_SERVICE = re.compile(r"[a-z](?:[a-z0-9:-]{0,58}[a-z0-9])?")
_EXAMPLES = "bijvoorbeeld worker, cli, counterpart-answers, api:domesta"


class TokenRefused(Refused):
    """A token command the store cannot do as given; the message is Dutch, for the person at the command line."""


class UnknownService(TokenRefused):
    pass


class AlreadyRevoked(TokenRefused):
    pass


@dataclass(frozen=True)
class TokenInfo:
    """What the store knows of a token, never its secret. Times in UTC."""

    prefix: str
    service: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def issue(store: Any, service: str, by: str) -> str:
    """A new token for `service`, issued by the coordinator `by`: returned this once, kept only as a salted hash.

    `store` is a Casework (its session factory and clock; `by` must be a coordinator in one of its regions) or a
    bare `sessionmaker`. Refuses a service code that is not lowercase letters, digits, '-' and ':' (UnknownService).
    """
    sessions, now, regions = store_of(store)
    service = _valid_service(service)
    by = _valid_staff(by, regions)
    with UnitOfWork(sessions) as uow:
        prefix = _free_prefix(uow.session)
        token = f"{TOKEN_START}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
        salt = secrets.token_hex(SALT_BYTES)
        uow.session.add(
            ServiceToken(
                service=service,
                prefix=prefix,
                salt=salt,
                token_hash=_digest(salt, token),
                created_at=now(),
                created_by=by,
            )
        )
        uow.commit()
    return token


def verify(store: Any, token: str) -> TokenInfo | None:
    """The token's service and dates if it is one the store issued and nobody revoked; else None (also for anything
    that is not a token at all). Writes the moment of use, at most once a minute per token."""
    sessions, now, _ = store_of(store)
    found = _TOKEN.fullmatch(token) if isinstance(token, str) else None
    with UnitOfWork(sessions) as uow:
        row = None
        if found:
            row = uow.session.execute(
                select(ServiceToken).where(ServiceToken.prefix == found.group(1))
            ).scalar_one_or_none()
        # A hash and a comparison also for an unknown prefix, so the answer takes the same time either way.
        salt, stored = (row.salt, row.token_hash) if row is not None else ("0" * 2 * SALT_BYTES, "0" * 64)
        matches = hmac.compare_digest(_digest(salt, token if isinstance(token, str) else ""), stored)
        if row is None or not matches or row.revoked_at is not None:
            return None
        moment = now()
        if row.last_used_at is None or moment - _utc(row.last_used_at) >= LAST_USED_EVERY:
            row.last_used_at = moment
            uow.commit()
        return _info(row)


def revoke(store: Any, prefix_or_service: str, by: str, reason: str) -> list[TokenInfo]:
    """Revoke one token (by its prefix, or the whole token) or every active token of a service; returns those revoked.

    Refuses an unknown prefix or service (UnknownService), a token revoked already or a service with no active token
    left (AlreadyRevoked), and a revocation without a reason.
    """
    sessions, now, regions = store_of(store)
    by = _valid_staff(by, regions)
    reason = reason.strip()
    if not reason:
        raise TokenRefused("Geef de reden op waarom het token wordt ingetrokken (--reason).")
    what = prefix_or_service.strip()
    found = _TOKEN.fullmatch(what)
    if found:  # the whole token pasted: its prefix says which
        what = found.group(1)
    with UnitOfWork(sessions) as uow:
        rows = list(uow.session.execute(select(ServiceToken).where(ServiceToken.prefix == what)).scalars())
        if rows:
            (row,) = rows
            if row.revoked_at is not None:
                raise AlreadyRevoked(
                    f"Token {row.prefix} (dienst {row.service}) is al ingetrokken op "
                    f"{_utc(row.revoked_at):%Y-%m-%d %H:%M} UTC door {row.revoked_by}: {row.revoke_reason}"
                )
        else:
            rows = list(
                uow.session.execute(
                    select(ServiceToken).where(ServiceToken.service == what).order_by(ServiceToken.id)
                ).scalars()
            )
            if not rows:
                raise UnknownService(
                    f"Onbekende dienst of token '{what}': er is geen token met dat prefix en geen dienst met die "
                    "code (zie `weerthuis token list`)."
                )
            rows = [row for row in rows if row.revoked_at is None]
            if not rows:
                raise AlreadyRevoked(f"Token van dienst {what} is al ingetrokken: de dienst heeft geen actief token.")
        moment = now()
        for row in rows:
            row.revoked_at, row.revoked_by, row.revoke_reason = moment, by, reason[:400]
        uow.commit()
        return [_info(row) for row in rows]


def list_tokens(store: Any, service: str | None = None) -> list[TokenInfo]:
    """Every token issued (revoked ones too), oldest first, or those of one service: prefixes and dates, no secret."""
    sessions, _, _ = store_of(store)
    with UnitOfWork(sessions) as uow:
        query = select(ServiceToken).order_by(ServiceToken.created_at, ServiceToken.id)
        if service is not None:
            query = query.where(ServiceToken.service == service)
        return [_info(row) for row in uow.session.execute(query).scalars()]


# ------------------------------------------------------------------------------------------------------------------


def store_of(store: Any) -> tuple[sessionmaker[Session], Callable[[], datetime], dict[str, Region] | None]:
    """Session factory, a clock giving UTC, and the regions if known, of a Casework or a bare session factory."""
    if isinstance(store, sessionmaker):
        return store, lambda: datetime.now(UTC), None
    clock = store.now
    # Casework keeps its session factory private; the token store shares the case database's engine and clock.
    return store._sessions, lambda: clock().astimezone(UTC), getattr(store, "regions", None)


def _digest(salt: str, token: str) -> str:
    return hmac.new(bytes.fromhex(salt), token.encode(), hashlib.sha256).hexdigest()


def _free_prefix(session: Session) -> str:
    """A prefix no token has yet (32 random bits: a clash is rare, and then another is drawn)."""
    while True:
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        if session.execute(select(ServiceToken.id).where(ServiceToken.prefix == prefix)).first() is None:
            return prefix


def _valid_service(service: str) -> str:
    if not _SERVICE.fullmatch(service):
        raise UnknownService(
            f"Onbekende dienst '{service}': een dienstcode is 1 tot 60 kleine letters, cijfers, '-' en ':', begint "
            f"met een letter en eindigt met een letter of cijfer ({_EXAMPLES})."
        )
    if _PREFIX.fullmatch(service):
        raise UnknownService(
            f"Onbekende dienst '{service}': die code leest als het prefix van een token; kies een andere ({_EXAMPLES})."
        )
    return service


def _valid_staff(by: str, regions: dict[str, Region] | None) -> str:
    """The staff code of whoever issues or revokes: a coordinator of one of the regions, when the regions are known."""
    by = by.strip()
    if not by:
        raise TokenRefused("Geef uw medewerkerscode op (--by); het uitgeven en intrekken van tokens wordt vastgelegd.")
    if regions is not None:
        people = (region.person(by) for region in regions.values())
        if not any(person is not None and person.role is Role.COORDINATOR for person in people):
            raise UnknownDecider(
                f"'{by}' is geen {Role.COORDINATOR.label} in een van de regio's; alleen een coördinator geeft tokens "
                "uit of trekt ze in."
            )
    return by


def _utc(moment: datetime) -> datetime:
    """A stored moment in UTC (SQLite gives it back without a zone; it was written in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _info(row: ServiceToken) -> TokenInfo:
    return TokenInfo(
        prefix=row.prefix,
        service=row.service,
        created_at=_utc(row.created_at),
        created_by=row.created_by,
        last_used_at=_utc(row.last_used_at) if row.last_used_at else None,
        revoked_at=_utc(row.revoked_at) if row.revoked_at else None,
        revoked_by=row.revoked_by,
        revoke_reason=row.revoke_reason,
    )
