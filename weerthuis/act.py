"""Play the counterparts of the local stack: what a corporation's consultant, the e-signing service or a care
provider would do in their own systems, done on the stack's fakes (their control paths) by `weerthuis act …`.

The fakes then answer the case over their real APIs, as the counterparts do; the `counterpart-answers`
deployment takes those answers to the waiting run (on its schedule, every five minutes; `act` also starts one
round at once, so the demo does not wait).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from weerthuis.devstack import COUNTERPARTS_FILE

ANSWERS_DEPLOYMENT = "counterpart-answers/counterpart-answers"


class NoCounterparts(RuntimeError):
    pass


class NothingToAnswer(RuntimeError):
    pass


@dataclass(frozen=True)
class Counterparts:
    """The addresses of the stack's fakes, as the stack wrote them into the data folder."""

    addresses: dict[str, str]

    @classmethod
    def of(cls, data_dir: Path) -> Counterparts:
        path = data_dir / COUNTERPARTS_FILE
        if not path.exists():
            raise NoCounterparts(
                f"Geen nep-tegenpartijen gevonden ({path} ontbreekt). Start eerst `./dev demo` en zet in deze shell "
                "dezelfde WEERTHUIS_DATA_DIR als de demo toont."
            )
        return cls(json.loads(path.read_text()))

    def control(self, fake: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.addresses[fake]}/_control/{path}"
        try:
            response = httpx.request(method, url, json=body, timeout=10)
        except httpx.HTTPError as exc:
            message = f"De nep-{fake} op {self.addresses[fake]} antwoordt niet ({exc}); draait de demo?"
            raise NoCounterparts(message) from exc
        if response.status_code >= 400:
            raise NothingToAnswer(f"De nep-{fake} weigert: {_problem(response)}")
        return response.json() if response.content else None

    def latest(self, fake: str, collection: str, reference: str) -> dict[str, Any]:
        found = self.control(fake, "GET", f"{collection}?zaakreferentie={reference}")
        if not found:
            raise NothingToAnswer(f"De {fake} heeft nog niets ontvangen voor zaak {reference}.")
        return found[-1]


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    return str(body.get("detail") or body.get("title") or body)


def answer_nomination(fakes: Counterparts, reference: str, decline_reason: str | None = None) -> str:
    """The corporation accepts the case's nomination, or declines it with one of the contract's reasons."""
    nomination = fakes.latest("corporaties", "voordrachten", reference)
    answer = (
        {"status": "geaccepteerd"}
        if decline_reason is None
        else {"status": "afgewezen", "afwijzingsreden": decline_reason}
    )
    fakes.control("corporaties", "POST", f"voordrachten/{nomination['id']}/antwoord", answer)
    said = "geaccepteerd" if decline_reason is None else f"afgewezen ({decline_reason})"
    return f"De corporatie heeft de voordracht van {reference} {said}."


def offer_dwelling(
    fakes: Counterparts, reference: str, *, unit: str, neighbourhood: str, rent: float, viewing_on: date
) -> str:
    nomination = fakes.latest("corporaties", "voordrachten", reference)
    offer = {
        "verhuureenheid": unit,
        "wijk": neighbourhood,
        "kaleHuurprijs": rent,
        "bezichtiging": f"{viewing_on.isoformat()}T14:00:00+01:00",
    }
    fakes.control("corporaties", "POST", f"voordrachten/{nomination['id']}/aanbiedingen", offer)
    return f"De corporatie biedt {reference} woning {unit} in {neighbourhood} aan; bezichtiging {viewing_on:%d-%m-%Y}."


def sign_lease(fakes: Counterparts, reference: str) -> str:
    signing = fakes.latest("e-ondertekening", "ondertekeningen", reference)
    fakes.control("e-ondertekening", "POST", f"ondertekeningen/{signing['id']}/status", {"status": "ondertekend"})
    return f"Alle partijen hebben de huurovereenkomst van {reference} ondertekend."


def confirm_support(fakes: Counterparts, reference: str, starts_on: date) -> str:
    request = fakes.latest("zorgaanbieders", "ondersteuningsverzoeken", reference)
    confirmation = {"status": "bevestigd", "bevestigdeStartdatum": starts_on.isoformat()}
    fakes.control("zorgaanbieders", "POST", f"ondersteuningsverzoeken/{request['id']}/bevestiging", confirmation)
    return f"De zorgaanbieder bevestigt de begeleiding van {reference} vanaf {starts_on:%d-%m-%Y}."


def grant_wmo(fakes: Counterparts, reference: str, starts_on: date) -> str:
    decision = {"zaakreferentie": reference, "besluit": "toegekend", "ingangsdatum": starts_on.isoformat()}
    fakes.control("zorgaanbieders", "POST", "wmo-beschikkingen", decision)
    return f"De gemeente kent de Wmo-beschikking van {reference} toe, vanaf {starts_on:%d-%m-%Y}."


def take_answers_now() -> str:
    """One round of `counterpart-answers`, started now; the worker runs it within seconds."""
    from prefect.deployments import run_deployment

    run: Any = run_deployment(ANSWERS_DEPLOYMENT, timeout=0, as_subflow=False, _sync=True)  # type: ignore[call-arg]
    return f"Antwoorden ophalen gestart (run {run.id}); de zaak gaat verder zodra de worker hem heeft gedraaid."


def default_viewing() -> date:
    return date.today() + timedelta(days=3)
