"""Who is asking, read from the ID token's claims, the session and the Authorization header."""

from __future__ import annotations

import base64
import json
import time

import pytest

from config.regions import load_regions
from config.settings import REGIONS_DIR, LoginSettings
from weerthuis.domain.vocabulary import Role
from weerthuis.server.guard import _schema_for
from weerthuis.server.identity import (
    LoginRefused,
    Person,
    new_session,
    person_from_claims,
    presented_token,
    session_person,
)
from weerthuis.server.login import safe_next

REGIONS = load_regions(REGIONS_DIR)
SETTINGS = LoginSettings()


def test_the_staff_code_claim_names_a_person_of_the_region_files() -> None:
    person = person_from_claims(
        {"sub": "x", "weerthuis_staff_code": "EMM-DOM-01", "weerthuis_role": "woonconsulent"}, REGIONS, SETTINGS
    )
    assert person == Person(code="EMM-DOM-01", role=Role.CORPORATION_CONSULTANT, organisation="domesta", region="emmen")


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({"sub": "x"}, "geen medewerkerscode"),
        ({"weerthuis_staff_code": "EMM-XX-99"}, "staat niet in de medewerkerslijst"),
        ({"weerthuis_staff_code": "EMM-TB-01", "weerthuis_role": "coordinator"}, "de rol 'coordinator'"),
        ({"weerthuis_staff_code": "EMM-DOM-01", "weerthuis_organisation": "lefier"}, "werkt volgens de identity"),
    ],
)
def test_a_provider_that_vouches_otherwise_than_the_region_files_is_refused(claims: dict[str, str], says: str) -> None:
    with pytest.raises(LoginRefused, match=says):
        person_from_claims(claims, REGIONS, SETTINGS)


def test_a_session_holds_codes_only_and_ends() -> None:
    person = Person(code="EMM-TP-01", role=Role.COORDINATOR, organisation="transferpunt-emmen", region="emmen")
    session = new_session(person, SETTINGS)
    assert set(session["person"].values()) == {"EMM-TP-01", "coordinator", "transferpunt-emmen", "emmen"}
    assert session_person(session, REGIONS) == person
    assert session_person({**session, "until": time.time() - 1}, REGIONS) is None
    # A person given another role in the region file since the login logs in again.
    assert session_person({**session, "person": {**session["person"], "role": "woonconsulent"}}, REGIONS) is None
    assert session_person({}, REGIONS) is None


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (b"Bearer wt_0123abcd_secret", "wt_0123abcd_secret"),
        (b"Basic " + base64.b64encode(b"worker:wt_0123abcd_secret"), "wt_0123abcd_secret"),
        (b"Basic niet-base64!", None),
        (b"Basic " + base64.b64encode(b"zonder-dubbele-punt"), None),
        (b"Digest x", None),
    ],
)
def test_the_token_comes_from_basic_or_bearer(header: bytes, token: str | None) -> None:
    assert presented_token({"headers": [(b"authorization", header)]}) == token


@pytest.mark.parametrize(
    ("asked", "goes_to"),
    [("/runs/flow-run/1", "/runs/flow-run/1"), ("//evil.example", "/"), ("https://evil.example", "/"), (None, "/")],
)
def test_after_login_only_a_path_on_this_server(asked: str | None, goes_to: str) -> None:
    assert safe_next(asked) == goes_to


def test_the_form_shows_who_logged_in_as_the_one_who_decides() -> None:
    stored = {
        "properties": {
            "verdict": {"type": "string", "enum": ["klaar voor uitstroom"]},
            "decided_by": {"title": "Wie beslist?", "type": "string", "enum": ["EMM-TP-01", "EMM-TP-02"]},
        }
    }
    person = Person(code="EMM-TP-02", role=Role.COORDINATOR, organisation="gemeente-emmen", region="emmen")
    shown = json.loads(_schema_for(json.dumps(stored).encode(), person) or b"{}")
    assert shown["properties"]["decided_by"]["enum"] == ["EMM-TP-02"]
    assert shown["properties"]["decided_by"]["default"] == "EMM-TP-02"
    assert shown["properties"]["verdict"] == stored["properties"]["verdict"]
