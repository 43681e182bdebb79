"""A housing corporation (woningcorporatie) through Weer Thuis' own contract (contracts/corporation-api.yaml).

There is no national API standard for corporations, so the contract is ours, in VERA terms: a nomination
(voordracht) goes in, the corporation's answer and its offers (aanbiedingen) come back, a signed lease
(huurovereenkomst) is registered, and signals (signalen: rent arrears, nuisance) about the tenancy can be read.

The adapter translates at the border: our payloads (English keys, the closed choices of
`weerthuis.domain.vocabulary`) become the contract's Dutch fields and codes, and what the corporation answers comes
back in our terms. Only the fields the contract names leave this process: a case reference, codes, dates, amounts —
no names or contact details. Every write carries the action's idempotency key, which the corporation honours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, cast
from urllib.parse import quote

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from integrations import reading
from integrations.http import JsonApi, MalformedResponse, require
from integrations.routing import Adapters
from weerthuis.domain.vocabulary import ContractForm, DeclineReason, NominationAnswer

NAME = "corporatie"

CONTRACT_FORMS: dict[ContractForm, str] = {
    ContractForm.REGULAR: "regulier",
    ContractForm.THREE_PARTY: "driepartijen",
    ContractForm.INTERMEDIARY: "intermediair",
}
# The contract's reasons are coarser than ours in one place and finer in another; the code itself is kept too.
DECLINE_REASONS: dict[str, DeclineReason] = {
    "geen-passend-aanbod": DeclineReason.NO_SUITABLE_DWELLING,
    "doelgroep-past-niet": DeclineReason.OTHER,
    "eerdere-huurachterstand": DeclineReason.RENT_HISTORY,
    "overig": DeclineReason.OTHER,
}
NOMINATION_STATUSES = ("ontvangen", "geaccepteerd", "afgewezen")
SIGNAL_KINDS = ("huurachterstand", "overlast")
SEVERITIES = ("geel", "rood")


class CorporationApi(Block):
    """De API van een woningcorporatie volgens het Weer Thuis-contract (corporation-api.yaml)."""

    _block_type_name = "Weer Thuis corporatie-API"
    _block_type_slug = "weerthuis-corporatie-api"
    _description = (
        "Adres en sleutel van de API waarmee Weer Thuis voordrachten doet, huurovereenkomsten vastlegt en "
        "signalen leest bij een woningcorporatie."
    )

    base_url: str = Field(
        title="Adres", description="Basis-URL van de corporatie-API, bijv. https://api.corporatie.nl/weerthuis/api/v1"
    )
    api_key: SecretStr = Field(
        title="API-sleutel", description="De sleutel die de corporatie gaf; gaat mee in de header X-Api-Key."
    )
    timeout_seconds: float = Field(default=10, gt=0, title="Time-out (seconden)")


def contract_form(value: str) -> str:
    """Our contract form (ContractForm or its value) as the contract's code."""
    try:
        return CONTRACT_FORMS[ContractForm(value)]
    except ValueError:
        raise ValueError(f"{NAME}: onbekende contractvorm {value!r}") from None


class HttpCorporation:
    """The Corporation port on a corporation's API, plus reading its answers, offers and signals."""

    def __init__(self, api: JsonApi) -> None:
        self.api = api

    @classmethod
    def from_block(cls, block: CorporationApi, **jsonapi_kwargs: Any) -> HttpCorporation:
        """`jsonapi_kwargs` go to JsonApi (event_hooks, sleep, transport, max_wait)."""
        key = block.api_key.get_secret_value()
        api = JsonApi(
            NAME, block.base_url, timeout=block.timeout_seconds, headers=lambda: {"X-Api-Key": key}, **jsonapi_kwargs
        )
        return cls(api)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> HttpCorporation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The port ---------------------------------------------------------------------------------------------------

    def submit_nomination(self, nomination: dict[str, Any], *, idempotency_key: str) -> str:
        """Nominate the case; the receipt is the corporation's id of the nomination."""
        what = f"{NAME}: POST voordrachten"
        body = {
            "zaakreferentie": reading.given(nomination, "reference", what),
            "corporatie": reading.given(nomination, "corporation", what),
            "huishoudgrootte": reading.given(nomination, "household_size", what),
            "ambulanteBegeleiding": bool(reading.given(nomination, "ambulant_support", what)),
            "zorgaanbieder": reading.given(nomination, "care_provider", what),
        }
        made = self.api.call("POST", "voordrachten", json=body, idempotency_key=idempotency_key, expect=(200, 201))
        return reading.text(require(made, "id", what=what), "id", what)

    def register_lease(self, lease: dict[str, Any], *, idempotency_key: str) -> str:
        """Register the signed lease; the receipt is the corporation's id of the lease."""
        what = f"{NAME}: POST huurovereenkomsten"
        signed_on = reading.given(lease, "signed_on", what)
        body = {
            "zaakreferentie": reading.given(lease, "reference", what),
            "corporatie": reading.given(lease, "corporation", what),
            "verhuureenheid": reading.given(lease, "dwelling_reference", what),
            "contractvorm": contract_form(reading.given(lease, "contract_form", what)),
            "tijdelijk": bool(reading.given(lease, "temporary", what)),
            "getekendOp": signed_on.isoformat() if isinstance(signed_on, date) else str(signed_on),
        }
        made = self.api.call(
            "POST", "huurovereenkomsten", json=body, idempotency_key=idempotency_key, expect=(200, 201)
        )
        return reading.text(require(made, "id", what=what), "id", what)

    # Reading ----------------------------------------------------------------------------------------------------

    def nomination(self, nomination_id: str) -> dict[str, Any]:
        """The nomination with the corporation's answer: `answer` is None while it is still `ontvangen`."""
        path = f"voordrachten/{quote(nomination_id, safe='')}"
        what = f"{NAME}: GET {path}"
        body = require(
            self.api.call("GET", path, expect=(200,)),
            "id",
            "zaakreferentie",
            "corporatie",
            "status",
            "ontvangenOp",
            what=what,
        )
        status = reading.choice(body, "status", NOMINATION_STATUSES, what)
        code = body.get("afwijzingsreden") if status == "afgewezen" else None
        if status == "afgewezen" and (not isinstance(code, str) or code not in DECLINE_REASONS):
            raise MalformedResponse(f"{what}: afgewezen zonder bekende afwijzingsreden ({code!r})")
        answered = body.get("beantwoordOp")
        return {
            "id": reading.text(body, "id", what),
            "reference": reading.text(body, "zaakreferentie", what),
            "corporation": reading.text(body, "corporatie", what),
            "status": status,
            "answer": None if status == "ontvangen" else NominationAnswer(status),
            "decline_reason": None if code is None else DECLINE_REASONS[code],
            "decline_code": code,
            "received_at": reading.moment(body, "ontvangenOp", what),
            "answered_at": None if answered is None else reading.moment(body, "beantwoordOp", what),
        }

    def offers(self, nomination_id: str) -> list[dict[str, Any]]:
        """The dwellings offered on this nomination, oldest first."""
        path = f"voordrachten/{quote(nomination_id, safe='')}/aanbiedingen"
        what = f"{NAME}: GET {path}"
        found = []
        for item in reading.as_list(self.api.call("GET", path, expect=(200,)), what):
            offer = require(
                item, "id", "verhuureenheid", "wijk", "kaleHuurprijs", "bezichtiging", "aangebodenOp", what=what
            )
            found.append(
                {
                    "id": reading.text(offer, "id", what),
                    "dwelling_reference": reading.text(offer, "verhuureenheid", what),
                    "neighbourhood": reading.text(offer, "wijk", what),
                    "rent": reading.amount(offer, "kaleHuurprijs", what),
                    "viewing_at": reading.moment(offer, "bezichtiging", what),
                    "offered_at": reading.moment(offer, "aangebodenOp", what),
                }
            )
        return sorted(found, key=lambda o: o["offered_at"])

    def signals(self, reference: str, since: date) -> list[dict[str, Any]]:
        """Rent arrears and nuisance the corporation reported for this case on or after `since`, oldest first."""
        what = f"{NAME}: GET signalen"
        params = {"zaakreferentie": reference, "sinds": since.isoformat()}
        found = []
        for item in reading.as_list(self.api.call("GET", "signalen", params=params, expect=(200,)), what):
            signal = require(item, "id", "zaakreferentie", "soort", "ernst", "omschrijving", "gemeldOp", what=what)
            if signal["zaakreferentie"] != reference:
                raise MalformedResponse(f"{what}: signaal voor {signal['zaakreferentie']!r}, gevraagd {reference!r}")
            found.append(
                {
                    "id": reading.text(signal, "id", what),
                    "reference": reference,
                    "kind": reading.choice(signal, "soort", SIGNAL_KINDS, what),
                    "severity": reading.choice(signal, "ernst", SEVERITIES, what),
                    "description": str(signal["omschrijving"]),
                    "reported_at": reading.moment(signal, "gemeldOp", what),
                }
            )
        return sorted(found, key=lambda s: s["reported_at"])


class Corporations:
    """The Corporation port over each corporation's own API: the block its region file names (`api_block`)."""

    def __init__(self, blocks: Mapping[str, str], load_block: Callable[[str], CorporationApi] | None = None) -> None:
        self._for = Adapters(
            NAME,
            blocks,
            load_block or _load_block,
            HttpCorporation.from_block,
            missing="heeft geen koppeling (api_block in het regiobestand)",
        )

    def submit_nomination(self, nomination: dict[str, Any], *, idempotency_key: str) -> str:
        return self._for(nomination["corporation"]).submit_nomination(nomination, idempotency_key=idempotency_key)

    def register_lease(self, lease: dict[str, Any], *, idempotency_key: str) -> str:
        return self._for(lease["corporation"]).register_lease(lease, idempotency_key=idempotency_key)

    def nomination(self, corporation: str, nomination_id: str) -> dict[str, Any]:
        return self._for(corporation).nomination(nomination_id)

    def offers(self, corporation: str, nomination_id: str) -> list[dict[str, Any]]:
        return self._for(corporation).offers(nomination_id)

    def signals(self, corporation: str, reference: str, since: date) -> list[dict[str, Any]]:
        return self._for(corporation).signals(reference, since)

    def close(self) -> None:
        self._for.close()


def _load_block(name: str) -> CorporationApi:
    return cast(CorporationApi, CorporationApi.load(name, _sync=True))  # type: ignore[call-arg]
