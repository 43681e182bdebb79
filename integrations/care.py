"""The care provider (zorgaanbieder) and the municipality's Wmo desk through Weer Thuis' own contract
(contracts/care-api.yaml).

After the lease is signed, support at home (begeleiding aan huis) is requested from the provider, which confirms it
with the date support really starts, or refuses it with a reason. The municipality's Wmo decision (beschikking) for
the case can be read, and at each follow-up review whether support still reaches the client on that date.

The adapter translates at the border: our payloads (English keys, the closed choices of
`weerthuis.domain.vocabulary`) become the contract's Dutch fields and codes, and what comes back is in our terms.
Only the fields the contract names leave this process: a case reference, codes and dates — no names or contact
details. Every write carries the action's idempotency key, which the provider honours.
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
from weerthuis.domain.vocabulary import WmoDecision

NAME = "zorgaanbieder"

# Ours to the contract's. NOT_NEEDED has no beschikking at all (support is financed otherwise): the contract's null.
WMO_CODES: dict[WmoDecision, str | None] = {
    WmoDecision.GRANTED: "toegekend",
    WmoDecision.APPLIED: "in-behandeling",
    WmoDecision.NOT_NEEDED: None,
}
# The contract's to ours. Our vocabulary has no refusal (support is only arranged without one): None, code kept.
WMO_DECISIONS: dict[str, WmoDecision | None] = {
    "toegekend": WmoDecision.GRANTED,
    "in-behandeling": WmoDecision.APPLIED,
    "afgewezen": None,
}
REQUEST_STATUSES = ("ontvangen", "bevestigd", "afgewezen")
DECLINE_REASONS = ("geen-capaciteit", "buiten-werkgebied", "doelgroep-past-niet", "geen-financiering", "overig")


class CareApi(Block):
    """De API van een zorgaanbieder en het Wmo-loket volgens het Weer Thuis-contract (care-api.yaml)."""

    _block_type_name = "Weer Thuis zorgaanbieder-API"
    _block_type_slug = "weerthuis-zorgaanbieder-api"
    _description = (
        "Adres en sleutel van de API waarmee Weer Thuis begeleiding aan huis aanvraagt bij een zorgaanbieder, "
        "de Wmo-beschikking leest en bij evaluaties vraagt of de begeleiding de cliënt bereikt."
    )

    base_url: str = Field(
        title="Adres",
        description="Basis-URL van de zorgaanbieder-API, bijv. https://api.zorgaanbieder.nl/weerthuis/api/v1",
    )
    api_key: SecretStr = Field(
        title="API-sleutel", description="De sleutel die de zorgaanbieder gaf; gaat mee in de header X-Api-Key."
    )
    timeout_seconds: float = Field(default=10, gt=0, title="Time-out (seconden)")


def wmo_code(value: str) -> str | None:
    """Our Wmo decision (WmoDecision or its value) as the contract's code; None: no beschikking is needed."""
    try:
        return WMO_CODES[WmoDecision(value)]
    except ValueError:
        raise ValueError(f"{NAME}: onbekende Wmo-beschikking {value!r}") from None


class HttpCareProvider:
    """The CareProvider port on a provider's API, plus reading its answer, the Wmo decision and whether support
    reaches the client."""

    def __init__(self, api: JsonApi) -> None:
        self.api = api

    @classmethod
    def from_block(cls, block: CareApi, **jsonapi_kwargs: Any) -> HttpCareProvider:
        """`jsonapi_kwargs` go to JsonApi (event_hooks, sleep, transport, max_wait)."""
        key = block.api_key.get_secret_value()
        api = JsonApi(
            NAME, block.base_url, timeout=block.timeout_seconds, headers=lambda: {"X-Api-Key": key}, **jsonapi_kwargs
        )
        return cls(api)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> HttpCareProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The port ---------------------------------------------------------------------------------------------------

    def request_support(self, request: dict[str, Any], *, idempotency_key: str) -> str:
        """Request support at home; the receipt is the provider's id of the support request."""
        what = f"{NAME}: POST ondersteuningsverzoeken"
        starts_on = reading.given(request, "starts_on", what)
        body = {
            "zaakreferentie": reading.given(request, "reference", what),
            "zorgaanbieder": reading.given(request, "provider", what),
            "gewensteStartdatum": starts_on.isoformat() if isinstance(starts_on, date) else str(starts_on),
            "wmoBeschikking": wmo_code(reading.given(request, "wmo_decision", what)),
        }
        made = self.api.call(
            "POST", "ondersteuningsverzoeken", json=body, idempotency_key=idempotency_key, expect=(200, 201)
        )
        return reading.text(require(made, "id", what=what), "id", what)

    # Reading ----------------------------------------------------------------------------------------------------

    def support_request(self, request_id: str) -> dict[str, Any]:
        """The support request with the provider's answer: `status` ontvangen (no answer yet), bevestigd (with
        `confirmed_start`) or afgewezen (with `decline_reason`, the contract's code)."""
        path = f"ondersteuningsverzoeken/{quote(request_id, safe='')}"
        what = f"{NAME}: GET {path}"
        body = require(
            self.api.call("GET", path, expect=(200,)),
            "id",
            "zaakreferentie",
            "zorgaanbieder",
            "gewensteStartdatum",
            "status",
            "ontvangenOp",
            what=what,
        )
        status = reading.choice(body, "status", REQUEST_STATUSES, what)
        confirmed = reading.optional_day(body, "bevestigdeStartdatum", what) if status == "bevestigd" else None
        if status == "bevestigd" and confirmed is None:
            raise MalformedResponse(f"{what}: bevestigd zonder bevestigdeStartdatum")
        reason = body.get("afwijzingsreden") if status == "afgewezen" else None
        if status == "afgewezen" and reason not in DECLINE_REASONS:
            raise MalformedResponse(f"{what}: afgewezen zonder bekende afwijzingsreden ({reason!r})")
        answered = body.get("beantwoordOp")
        return {
            "id": reading.text(body, "id", what),
            "reference": reading.text(body, "zaakreferentie", what),
            "provider": reading.text(body, "zorgaanbieder", what),
            "requested_start": reading.day(body, "gewensteStartdatum", what),
            "status": status,
            "confirmed": status == "bevestigd",
            "confirmed_start": confirmed,
            "decline_reason": reason,
            "received_at": reading.moment(body, "ontvangenOp", what),
            "answered_at": None if answered is None else reading.moment(body, "beantwoordOp", what),
        }

    def wmo_decisions(self, reference: str) -> list[dict[str, Any]]:
        """The municipality's Wmo decisions for this case, oldest decision first."""
        what = f"{NAME}: GET wmo-beschikkingen"
        found = []
        params = {"zaakreferentie": reference}
        for item in reading.as_list(self.api.call("GET", "wmo-beschikkingen", params=params, expect=(200,)), what):
            decision = require(item, "id", "zaakreferentie", "besluit", "besluitdatum", what=what)
            if decision["zaakreferentie"] != reference:
                raise MalformedResponse(
                    f"{what}: beschikking voor {decision['zaakreferentie']!r}, gevraagd {reference!r}"
                )
            code = reading.choice(decision, "besluit", tuple(WMO_DECISIONS), what)
            effective = reading.optional_day(decision, "ingangsdatum", what)
            if code == "toegekend" and effective is None:
                raise MalformedResponse(f"{what}: toegekend zonder ingangsdatum")
            found.append(
                {
                    "id": reading.text(decision, "id", what),
                    "reference": reference,
                    "decision_code": code,
                    "decision": WMO_DECISIONS[code],
                    "refused": code == "afgewezen",
                    "effective_from": effective,
                    "decided_on": reading.day(decision, "besluitdatum", what),
                }
            )
        return sorted(found, key=lambda d: d["decided_on"])

    def wmo_decision(self, reference: str) -> dict[str, Any] | None:
        """The latest Wmo decision for this case (see `wmo_decisions`), or None if there is none yet."""
        decisions = self.wmo_decisions(reference)
        return decisions[-1] if decisions else None

    def reach(self, request_id: str, on: date) -> dict[str, Any]:
        """Whether support reaches the client on `on`, and the last contact on or before it (None: none)."""
        path = f"ondersteuningsverzoeken/{quote(request_id, safe='')}/bereikt"
        what = f"{NAME}: GET {path}"
        body = require(
            self.api.call("GET", path, params={"peildatum": on.isoformat()}, expect=(200,)),
            "bereikt",
            "laatsteContactOp",
            what=what,
        )
        if not isinstance(body["bereikt"], bool):
            raise MalformedResponse(f"{what}: bereikt is geen true of false maar {body['bereikt']!r}")
        return {"reached": body["bereikt"], "last_contact": reading.optional_day(body, "laatsteContactOp", what)}

    def support_reached(self, request_id: str, on: date) -> bool:
        """Whether support reaches the client on `on`, according to the provider."""
        reached: bool = self.reach(request_id, on)["reached"]
        return reached


class CareProviders:
    """The CareProvider port over each provider's own API: the block its region file names (`api_block`)."""

    def __init__(self, blocks: Mapping[str, str], load_block: Callable[[str], CareApi] | None = None) -> None:
        self._for = Adapters(
            NAME,
            blocks,
            load_block or _load_block,
            HttpCareProvider.from_block,
            missing="heeft geen koppeling (api_block in het regiobestand)",
        )

    def request_support(self, request: dict[str, Any], *, idempotency_key: str) -> str:
        return self._for(request["provider"]).request_support(request, idempotency_key=idempotency_key)

    def support_request(self, provider: str, request_id: str) -> dict[str, Any]:
        return self._for(provider).support_request(request_id)

    def wmo_decision(self, provider: str, reference: str) -> dict[str, Any] | None:
        return self._for(provider).wmo_decision(reference)

    def reach(self, provider: str, request_id: str, on: date) -> dict[str, Any]:
        return self._for(provider).reach(request_id, on)

    def close(self) -> None:
        self._for.close()


def _load_block(name: str) -> CareApi:
    return cast(CareApi, CareApi.load(name, _sync=True))  # type: ignore[call-arg]
