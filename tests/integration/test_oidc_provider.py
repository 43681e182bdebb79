"""The fake OpenID Connect provider as its own process on loopback, driven the way the application will drive it:
authlib's OAuth2Client with PKCE (S256) for the authorization code flow, and a small "browser" that opens the
login page and posts its form. The ID token is checked against the keys the provider publishes at /jwks."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from integrations.counterparts.oidc import User, user_claims, users_from_regions
from integrations.fakes import CallLedger
from weerthuis.devstack import REPO, free_port

with warnings.catch_warnings():
    # authlib 1.9 prefers the httpx2 package and says so once, on import; it falls back to our httpx. Its own
    # filter (always show) goes first when authlib.deprecate is imported, so ours is put in front after that.
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.filterwarnings("ignore", "The httpx module is deprecated", AuthlibDeprecationWarning)
    from authlib.common.security import generate_token
    from authlib.integrations.httpx_client import OAuth2Client, OAuthError

CLIENT_ID = "weerthuis"
SECRET = "een-lang-clientgeheim-voor-de-test"
REDIRECT = "http://127.0.0.1:9/auth/callback"  # never opened: the browser stops at the redirect
AFTER_LOGOUT = "http://127.0.0.1:9/uitgelogd"
STAFF = "EMM-TP-01"
PASSWORD = "een-wachtwoord-voor-de-test"
WRONG = "Medewerkerscode of wachtwoord klopt niet."


# The provider as a process --------------------------------------------------------------------------------------


@dataclass
class Provider:
    url: str
    process: subprocess.Popen[bytes]
    ledger: Path

    def metadata(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.url}/.well-known/openid-configuration")
        answer.raise_for_status()
        return dict(answer.json())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_provider(folder: Path, *extra: str) -> Provider:
    port = free_port()
    ledger = folder / "ledger.sqlite"
    folder.mkdir(parents=True, exist_ok=True)
    args = [
        sys.executable,
        "-m",
        "integrations.counterparts.oidc",
        "--port",
        str(port),
        "--ledger",
        str(ledger),
        "--client",
        f"{CLIENT_ID}:{SECRET}",
        "--client",
        "andere-app:ander-geheim",
        "--redirect-uri",
        REDIRECT,
        "--post-logout-redirect-uri",
        AFTER_LOGOUT,
        "--password",
        PASSWORD,
        *extra,
    ]
    with (folder / f"oidc-{port}.log").open("wb") as log:
        process = subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    provider = Provider(f"http://127.0.0.1:{port}", process, ledger)
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{provider.url}/jwks", timeout=1).status_code == 200:
                return provider
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            provider.stop()
            raise RuntimeError(f"the fake OIDC provider did not start:\n{(folder / f'oidc-{port}.log').read_text()}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    running = start_provider(tmp_path_factory.mktemp("oidc"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def metadata(provider: Provider) -> dict[str, Any]:
    return provider.metadata()


# The application's side and the person's browser ----------------------------------------------------------------


def application(method: str = "client_secret_basic", secret: str = SECRET, **kwargs: Any) -> OAuth2Client:
    settings: dict[str, Any] = {"scope": "openid", "redirect_uri": REDIRECT, **kwargs}
    return OAuth2Client(
        CLIENT_ID, secret, code_challenge_method="S256", token_endpoint_auth_method=method, timeout=10, **settings
    )


@dataclass
class Login:
    url: str  # the authentication request the browser is sent to
    state: str
    nonce: str
    verifier: str


def begin(client: OAuth2Client, metadata: dict[str, Any]) -> Login:
    verifier, nonce = generate_token(48), generate_token(24)
    url, state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    return Login(url, state, nonce, verifier)


class Form(HTMLParser):
    """The login page's form: where it posts to and its fields with their values."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.action = found.get("action") or ""
        elif tag == "input" and found.get("name"):
            self.fields[str(found["name"])] = found.get("value") or ""


def log_in(browser: httpx.Client, login: Login, username: str = STAFF, password: str = PASSWORD) -> httpx.Response:
    """Open the login page, fill it in and post it, as a person in a browser would; the provider's answer."""
    shown = browser.get(login.url)
    assert shown.status_code == 200, shown.text
    return submit(browser, shown, username, password)


def submit(browser: httpx.Client, shown: httpx.Response, username: str, password: str) -> httpx.Response:
    form = Form(shown.text)
    assert form.action, "no form on the page"
    return browser.post(
        urljoin(str(shown.url), form.action), data={**form.fields, "username": username, "password": password}
    )


def query(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def logged_in(browser: httpx.Client, login: Login) -> str:
    """Log in; the address the browser is sent back to (the redirect_uri with code and state)."""
    answer = log_in(browser, login)
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["location"]


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        yield client


def verified(id_token: str, metadata: dict[str, Any], nonce: str) -> dict[str, Any]:
    """The ID token's claims after checking its signature against /jwks and its iss, aud, nonce and exp."""
    keys = KeySet.import_key_set(httpx.get(metadata["jwks_uri"]).json())
    token = jwt.decode(id_token, keys, algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    assert token.header["kid"] in {key.kid for key in keys.keys}
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": CLIENT_ID},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
    ).validate(token.claims)
    return dict(token.claims)


def left_half_sha256(value: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()[:16]).rstrip(b"=").decode()


# The whole login ------------------------------------------------------------------------------------------------


def test_discovery_names_the_endpoints_and_what_is_supported(provider: Provider, metadata: dict[str, Any]) -> None:
    assert metadata["issuer"] == provider.url
    for name, path in (
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("jwks_uri", "/jwks"),
        ("userinfo_endpoint", "/userinfo"),
        ("end_session_endpoint", "/logout"),
    ):
        assert metadata[name] == provider.url + path
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    assert "openid" in metadata["scopes_supported"]
    assert {"weerthuis_staff_code", "weerthuis_role", "weerthuis_organisation", "weerthuis_region"} <= set(
        metadata["claims_supported"]
    )
    assert "name" not in metadata["claims_supported"]  # the demo users carry codes only


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_whole_login_gives_an_id_token_signed_with_the_published_key(
    provider: Provider, metadata: dict[str, Any], browser: httpx.Client, method: str
) -> None:
    with application(method) as client:
        login = begin(client, metadata)
        sent = query(login.url)
        assert sent["code_challenge_method"] == "S256" and sent["nonce"] == login.nonce

        back = logged_in(browser, login)
        assert back.startswith(REDIRECT + "?")
        answer = query(back)
        assert answer["state"] == login.state and answer["iss"] == provider.url and answer["code"]

        tokens = client.fetch_token(
            metadata["token_endpoint"], authorization_response=back, code_verifier=login.verifier
        )
        assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
        claims = verified(tokens["id_token"], metadata, login.nonce)
        assert claims["weerthuis_staff_code"] == STAFF
        assert claims["weerthuis_role"] == "coordinator"
        assert claims["weerthuis_organisation"] == "transferpunt-emmen"
        assert claims["weerthuis_region"] == "emmen"
        assert claims["exp"] - claims["iat"] == 900 and abs(claims["iat"] - time.time()) < 30
        assert claims["auth_time"] <= claims["iat"]
        assert claims["at_hash"] == left_half_sha256(tokens["access_token"])
        assert claims["sub"] != STAFF  # opaque, as at a real provider
        assert "name" not in claims and "email" not in claims

        userinfo = client.get(metadata["userinfo_endpoint"])  # authlib sends the access token as Bearer
        assert userinfo.status_code == 200
        assert userinfo.json()["sub"] == claims["sub"] and userinfo.json()["weerthuis_staff_code"] == STAFF

    logins = [body for system, operation, _, body in CallLedger(provider.ledger).calls("oidc") if operation == "login"]
    assert {"staff_code": STAFF, "client_id": CLIENT_ID} in logins


def test_a_wrong_password_shows_the_page_again_with_a_dutch_error_and_no_code(
    metadata: dict[str, Any], browser: httpx.Client
) -> None:
    with application() as client:
        login = begin(client, metadata)
        for username, password in ((STAFF, "fout"), ("EMM-XX-99", PASSWORD)):
            again = log_in(browser, login, username, password)
            assert again.status_code == 200 and "location" not in again.headers
            assert WRONG in again.text and "code=" not in again.text
            assert Form(again.text).fields["state"] == login.state  # the same request, ready for another try

        back = submit(browser, again, STAFF.lower(), PASSWORD)  # codes are not case-sensitive
        assert back.status_code == 303 and query(back.headers["location"])["code"]


def test_a_wrong_pkce_verifier_is_invalid_grant_and_uses_the_code_up(
    metadata: dict[str, Any], browser: httpx.Client
) -> None:
    with application() as client:
        login = begin(client, metadata)
        back = logged_in(browser, login)
        with pytest.raises(OAuthError) as refused:
            client.fetch_token(
                metadata["token_endpoint"], authorization_response=back, code_verifier=generate_token(48)
            )
        assert refused.value.error == "invalid_grant"
        with pytest.raises(OAuthError) as again:
            client.fetch_token(metadata["token_endpoint"], authorization_response=back, code_verifier=login.verifier)
        assert again.value.error == "invalid_grant"


def test_a_code_used_twice_is_invalid_grant_and_revokes_the_first_tokens(
    metadata: dict[str, Any], browser: httpx.Client
) -> None:
    with application() as client:
        login = begin(client, metadata)
        back = logged_in(browser, login)
        first = client.fetch_token(
            metadata["token_endpoint"], authorization_response=back, code_verifier=login.verifier
        )
        with pytest.raises(OAuthError) as refused:
            client.fetch_token(metadata["token_endpoint"], authorization_response=back, code_verifier=login.verifier)
        assert refused.value.error == "invalid_grant"
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    revoked = httpx.get(metadata["userinfo_endpoint"], headers=bearer)
    assert revoked.status_code == 401 and revoked.json()["error"] == "invalid_token"


def test_a_code_expires_after_60_seconds(provider: Provider, metadata: dict[str, Any], browser: httpx.Client) -> None:
    with application() as client:
        login = begin(client, metadata)
        back = logged_in(browser, login)
        try:
            httpx.post(f"{provider.url}/_control/klok", json={"vooruit": 61}).raise_for_status()
            with pytest.raises(OAuthError) as refused:
                client.fetch_token(
                    metadata["token_endpoint"], authorization_response=back, code_verifier=login.verifier
                )
        finally:
            httpx.delete(f"{provider.url}/_control").raise_for_status()
    assert refused.value.error == "invalid_grant" and "verlopen" in str(refused.value.description)


def test_a_wrong_client_secret_is_invalid_client_and_leaves_the_code_usable(
    metadata: dict[str, Any], browser: httpx.Client
) -> None:
    with application() as client:
        login = begin(client, metadata)
        back = logged_in(browser, login)
    for method in ("client_secret_basic", "client_secret_post"):
        with application(method, secret="niet-het-geheim") as impostor, pytest.raises(OAuthError) as refused:
            impostor.fetch_token(
                metadata["token_endpoint"], authorization_response=back, code_verifier=login.verifier, state=login.state
            )
        assert refused.value.error == "invalid_client"
    with application() as client:
        tokens = client.fetch_token(
            metadata["token_endpoint"], authorization_response=back, code_verifier=login.verifier, state=login.state
        )
    assert verified(tokens["id_token"], metadata, login.nonce)["weerthuis_staff_code"] == STAFF


def test_a_code_is_bound_to_its_client(metadata: dict[str, Any], browser: httpx.Client) -> None:
    with application() as client:
        login = begin(client, metadata)
        back = logged_in(browser, login)
    other = {
        "grant_type": "authorization_code",
        "code": query(back)["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": login.verifier,
    }
    answer = httpx.post(metadata["token_endpoint"], data=other, auth=("andere-app", "ander-geheim"))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


# Requests that go wrong -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_id", "redirect_uri"),
    [
        (CLIENT_ID, "http://127.0.0.1:9/elders"),
        (CLIENT_ID, REDIRECT + "/"),  # exact match only
        ("onbekende-app", REDIRECT),
    ],
)
def test_an_unregistered_redirect_uri_or_client_is_a_400_without_redirect(
    metadata: dict[str, Any], browser: httpx.Client, client_id: str, redirect_uri: str
) -> None:
    with application(redirect_uri=redirect_uri) as client:
        client.client_id = client_id
        login = begin(client, metadata)
    answer = browser.get(login.url)
    assert answer.status_code == 400 and "location" not in answer.headers
    assert "niet bekend" in answer.text or "niet geregistreerd" in answer.text
    assert "<form" not in answer.text


def good_request() -> dict[str, str]:
    verifier = generate_token(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
        "state": "toestand-123",
        "nonce": "nonce-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),  # absent means plain (RFC 7636)
        ({"nonce": None}, "invalid_request"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"prompt": "none"}, "login_required"),
    ],
)
def test_a_faulty_request_with_a_registered_redirect_uri_goes_back_with_the_error(
    metadata: dict[str, Any], browser: httpx.Client, change: dict[str, str | None], error: str
) -> None:
    request = {name: value for name, value in {**good_request(), **change}.items() if value is not None}
    answer = browser.get(f"{metadata['authorization_endpoint']}?{urlencode(request)}")
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    assert query(location)["error"] == error and query(location)["state"] == "toestand-123"
    assert "code" not in query(location)


def test_a_state_missing_goes_back_without_a_state(metadata: dict[str, Any], browser: httpx.Client) -> None:
    request = {name: value for name, value in good_request().items() if name != "state"}
    answer = browser.get(f"{metadata['authorization_endpoint']}?{urlencode(request)}")
    assert answer.status_code == 302 and query(answer.headers["location"])["error"] == "invalid_request"
    assert "state" not in query(answer.headers["location"])


# Logout ---------------------------------------------------------------------------------------------------------


def test_logout_goes_to_the_registered_post_logout_uri_and_ends_the_access_token(
    provider: Provider, metadata: dict[str, Any], browser: httpx.Client
) -> None:
    with application() as client:
        login = begin(client, metadata)
        tokens = client.fetch_token(
            metadata["token_endpoint"], authorization_response=logged_in(browser, login), code_verifier=login.verifier
        )
    out = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": AFTER_LOGOUT, "state": "weg-789"}
    answer = browser.get(f"{metadata['end_session_endpoint']}?{urlencode(out)}")
    assert answer.status_code == 302 and answer.headers["location"] == f"{AFTER_LOGOUT}?state=weg-789"
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.get(metadata["userinfo_endpoint"], headers=bearer).status_code == 401
    kept = httpx.get(f"{provider.url}/_control/aanmeldingen").json()
    assert {"soort": "afmelding", "medewerker": STAFF, "client": CLIENT_ID} in [
        {k: v for k, v in entry.items() if k != "op"} for entry in kept
    ]

    elsewhere = browser.get(
        f"{metadata['end_session_endpoint']}?"
        + urlencode({"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "http://127.0.0.1:9/elders"})
    )
    assert elsewhere.status_code == 400 and "location" not in elsewhere.headers
    forged = browser.get(
        f"{metadata['end_session_endpoint']}?"
        + urlencode({"id_token_hint": tokens["id_token"][:-4] + "AAAA", "post_logout_redirect_uri": AFTER_LOGOUT})
    )
    assert forged.status_code == 400 and "location" not in forged.headers


# Keys and users -------------------------------------------------------------------------------------------------


def test_a_restart_with_the_key_file_keeps_the_signing_key(tmp_path: Path) -> None:
    key_file = tmp_path / "oidc-key.pem"
    published = []
    for _ in range(2):
        running = start_provider(tmp_path, "--key-file", str(key_file))
        try:
            published.append(httpx.get(f"{running.url}/jwks").json()["keys"])
        finally:
            running.stop()
    assert published[0] == published[1] and published[0][0]["kid"] and "d" not in published[0][0]
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_the_users_are_the_staff_of_the_region_files_with_codes_only() -> None:
    users = users_from_regions()
    assert users[STAFF] == User(STAFF, "coordinator", "transferpunt-emmen", "emmen")
    assert users["FRL-WF-01"].region == "fryslan" and users["FRL-WF-01"].role == "woonconsulent"
    assert "name" not in user_claims(users[STAFF], ["openid", "profile", "email"])
    named = users_from_regions(with_names=True)[STAFF]
    assert user_claims(named, ["openid", "profile"])["name"] == "Ineke Transferpunt"
    assert "name" not in user_claims(named, ["openid"])  # name comes with scope profile, as OIDC has it
