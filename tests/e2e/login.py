"""People log in to the stack as a browser does: `weerthuis server` sends them to the identity provider's login
page, they fill in staff code and password, the provider sends them back with a code, the server sets the session
cookie. Tests answer forms as the person who decides, with that cookie."""

from __future__ import annotations

import html
import re
import threading
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import httpx
from prefect.settings import PREFECT_API_URL

from weerthuis.runs import ResumeResult
from weerthuis.server.identity import SESSION_COOKIE

PASSWORD = "demo"  # the fake provider's password for every demo user
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')

_sessions: dict[tuple[str, str], httpx.Client] = {}
_lock = threading.Lock()


def ui_url() -> str:
    api = PREFECT_API_URL.value()
    assert api, "PREFECT_API_URL is not set: no stack"
    return api.removesuffix("/").removesuffix("/api")


def log_in(base_url: str, code: str, password: str = PASSWORD, next_path: str = "/") -> httpx.Client:
    """A client holding `code`'s session cookie, after the whole authorization code flow (PKCE) through the
    provider's own login page."""
    client = httpx.Client(base_url=base_url, timeout=60)
    try:
        to_provider = client.get("/auth/login", params={"next": next_path})
        assert to_provider.status_code == 302, to_provider.text
        with httpx.Client(timeout=60) as provider:
            page = provider.get(to_provider.headers["location"])
            page.raise_for_status()
            fields = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}
            authorize = to_provider.headers["location"].split("?")[0]
            back = provider.post(authorize, data={**fields, "username": code, "password": password})
        assert back.status_code in (302, 303), back.text
        assert urlsplit(back.headers["location"]).path == "/auth/callback", back.headers["location"]
        landed = client.get(back.headers["location"])
        assert landed.status_code == 303, landed.text
        assert client.cookies.get(SESSION_COOKIE), "no session cookie after login"
    except BaseException:
        client.close()
        raise
    return client


def person(code: str, base_url: str | None = None) -> httpx.Client:
    """`code`'s logged-in client on the stack: kept while its login holds, else logged in again (a logout of that
    person elsewhere — the browser test — ends this session too, as it should)."""
    base = base_url or ui_url()
    with _lock:
        kept = _sessions.get((base, code))
        if kept is not None and kept.get("/auth/me").status_code == 200:
            return kept
        if kept is not None:
            kept.close()
        _sessions[(base, code)] = log_in(base, code)
        return _sessions[(base, code)]


def resume(client: httpx.Client, flow_run_id: UUID, answer: dict[str, Any]) -> ResumeResult:
    """The Resume dialog's call, as the logged-in person; a refusal (403 or a rejected answer) with its reason."""
    response = client.post(f"/api/flow_runs/{flow_run_id}/resume", json={"run_input": answer})
    if response.status_code == 403:
        return ResumeResult(False, response.json()["detail"])
    response.raise_for_status()
    result = response.json()
    reason = (result.get("details") or {}).get("reason") or ""
    return ResumeResult(result.get("status") == "ACCEPT", reason)


def answer_form(flow_run_id: UUID, answer: dict[str, Any], as_person: str | None = None) -> ResumeResult:
    """Answer the form as the person the answer names ("Wie beslist?"), logged in."""
    code = as_person or answer.get("decided_by") or answer.get("assessor")
    assert isinstance(code, str), f"who answers? {answer}"
    return resume(person(code), flow_run_id, answer)


def close_all() -> None:
    """Close every kept client (at the end of the stack's tests)."""
    with _lock:
        for client in _sessions.values():
            client.close()
        _sessions.clear()
