"""Prefect's app behind login: the session cookie, the /auth routes, the guard (guard.py), and what they need from
the case database (the region's people, the case a run is for, the API tokens, the access log)."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from config.regions import load_regions
from config.settings import LoginSettings, Settings
from weerthuis.server.guard import Guard, WaitingRun
from weerthuis.server.identity import SESSION_COOKIE, Logouts, Person, TokenCheck
from weerthuis.server.login import login_routes
from weerthuis.server.needtoknow import NeedToKnow

PROBLEM_FORM = "probleem-"


class LoginNotConfigured(SystemExit):
    pass


def check_login_settings(login: LoginSettings) -> None:
    needed = {
        "WEERTHUIS_LOGIN__ISSUER": login.issuer,
        "WEERTHUIS_LOGIN__PUBLIC_URL": login.public_url,
        "WEERTHUIS_LOGIN__CLIENT_SECRET": login.client_secret,
        "WEERTHUIS_LOGIN__SESSION_SECRET": login.session_secret,
    }
    missing = [name for name, value in needed.items() if not value]
    if missing:
        raise LoginNotConfigured(
            "weerthuis server start niet zonder inloggen; zet " + ", ".join(missing) + " (zie README, Deploy)."
        )
    secret = login.session_secret.get_secret_value() if login.session_secret else ""
    if len(secret) < 32:
        raise LoginNotConfigured("WEERTHUIS_LOGIN__SESSION_SECRET moet minstens 32 tekens lang zijn (willekeurig).")


class AuthRoutes:
    """/auth/… to the login routes, everything else to the guarded Prefect app."""

    def __init__(self, auth: ASGIApp, guarded: ASGIApp) -> None:
        self.auth = auth
        self.guarded = guarded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/auth/"):
            await self.auth(scope, receive, send)
        else:
            await self.guarded(scope, receive, send)


def deciding(casework: Any) -> Any:
    """Who may answer the form a case's run waits on: codes of people and of a counterpart's system, or why none."""
    from weerthuis.casedb.uow import UnknownCase
    from weerthuis.domain.vocabulary import Role
    from weerthuis.service.views import gate_key

    def decide(run: WaitingRun) -> tuple[list[str], str | None]:
        assert run.reference is not None
        try:
            view = casework.view(run.reference)
        except UnknownCase:
            return [], f"Zaak {run.reference} staat niet in de zaakdatabase."
        region = casework.regions[view.region]
        key = run.pause_key or ""
        if key.startswith(PROBLEM_FORM):  # another system refused an action: the region's coordinators settle it
            return [p.code for p in region.people_with(Role.COORDINATOR)], None
        if view.waiting_for is None:
            return [], f"Zaak {run.reference} wacht niet op een besluit."
        expected = gate_key(view)
        if key != expected and not (key.startswith(f"{expected}-") and key[len(expected) + 1 :].isdigit()):
            return [], f"Dit formulier is niet (meer) de stap waarop zaak {run.reference} wacht."
        return casework.deciders(view, view.waiting_for), None

    return decide


def known_cases(casework: Any) -> Any:
    """The references of the cases a person may know (needtoknow.py says which)."""
    from sqlalchemy import select

    from weerthuis.casedb import quota
    from weerthuis.casedb.models import Case, Nomination
    from weerthuis.domain.vocabulary import Role

    def cases(person: Person) -> set[str]:
        query = select(Case.reference).where(Case.region == person.region)
        if person.role is Role.CORPORATION_CONSULTANT:  # nominated to their corporation (and not turned down)
            query = query.join(Nomination, Nomination.case_id == Case.id).where(
                Nomination.corporation == person.organisation, Nomination.status.in_(quota.HOLDING)
            )
        elif person.role is Role.CASE_MANAGER:
            query = query.where(Case.care_provider == person.organisation)
        with casework._sessions() as session:  # noqa: SLF001 - a read beside the commands, no unit of work needed
            return set(session.execute(query).scalars())

    return cases


def secured(app: ASGIApp, settings: Settings) -> ASGIApp:
    from weerthuis import accesslog
    from weerthuis.casedb.engine import make_engine, make_session_factory
    from weerthuis.service.casework import Casework

    login = settings.login
    check_login_settings(login)
    assert login.public_url and login.session_secret
    regions = load_regions(settings.regions_dir)
    casework = Casework(make_session_factory(make_engine(settings.database_url)), regions)

    def log(kind: str, who: str, **details: Any) -> None:
        accesslog.record(casework, accesslog.AccessKind[kind], who, **details)

    reads, logouts = NeedToKnow(app, known_cases(casework)), Logouts(casework)
    guard = Guard(
        app,
        regions=regions,
        tokens=TokenCheck(casework),
        decide=deciding(casework),
        log=log,
        reads=reads,
        logouts=logouts,
    )
    auth = Starlette(routes=login_routes(login, regions, log, logouts))
    return SessionMiddleware(
        AuthRoutes(auth, guard),
        secret_key=login.session_secret.get_secret_value(),
        session_cookie=SESSION_COOKIE,
        max_age=login.idle_minutes * 60,
        same_site="lax",
        https_only=login.public_url.startswith("https://"),
    )
