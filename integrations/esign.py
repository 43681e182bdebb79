"""An e-signature service (e-ondertekening) through Weer Thuis' own contract (contracts/esign-api.yaml).

When the corporation and the client agree on a home, the lease (huurovereenkomst) is sent for electronic signing to
its signers: the client (huurder) and the corporation (verhuurder), plus the care provider (zorgaanbieder) for a
three-party lease or the intermediary (intermediair) for intermediary letting. The service answers with the id of
the signing; its status (sent, signed, declined, expired) can be polled, and if we gave a webhook URL the service
tells us of each change with a notice signed with a shared secret (`verify_webhook`).

The adapter translates at the border: our lease payload (English keys, the closed choices of
`weerthuis.domain.vocabulary`) becomes the contract's Dutch fields and codes, and what the service answers comes
back in our terms. No personal data leaves this process: the document is named by the case reference and the
corporation's reference of the dwelling's lease, a signer by role and an opaque reference — the service has the
signers' contact details from elsewhere. Every write carries the action's idempotency key, which the service
honours.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Protocol, cast
from urllib.parse import quote

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from integrations import reading
from integrations.http import JsonApi, MalformedResponse, require
from integrations.routing import Adapters
from weerthuis.domain.vocabulary import ContractForm

NAME = "e-ondertekening"

CONTRACT_FORMS: dict[ContractForm, str] = {
    ContractForm.REGULAR: "regulier",
    ContractForm.THREE_PARTY: "driepartijen",
    ContractForm.INTERMEDIARY: "intermediair",
}
# Who signs which lease: the tenant and the landlord always, the third party as the contract form says.
SIGNER_ROLES: dict[ContractForm, tuple[str, ...]] = {
    ContractForm.REGULAR: ("huurder", "verhuurder"),
    ContractForm.THREE_PARTY: ("huurder", "verhuurder", "zorgaanbieder"),
    ContractForm.INTERMEDIARY: ("huurder", "verhuurder", "intermediair"),
}
SIGNATURE_HEADER = re.compile(r"^sha256=([0-9a-fA-F]{64})$")


class SigningStatus(StrEnum):
    """Where a signing stands, in our terms (the contract's codes are the keys of STATUSES)."""

    SENT = "sent"
    SIGNED = "signed"
    DECLINED = "declined"
    EXPIRED = "expired"


STATUSES: dict[str, SigningStatus] = {
    "verzonden": SigningStatus.SENT,
    "ondertekend": SigningStatus.SIGNED,
    "geweigerd": SigningStatus.DECLINED,
    "verlopen": SigningStatus.EXPIRED,
}


class ESignature(Protocol):
    """An e-signature service: a lease sent for signing, its status read back."""

    def send_for_signing(self, lease: dict[str, Any], *, idempotency_key: str) -> str: ...

    def signing_status(self, signing_id: str) -> dict[str, Any]: ...


class ESignApi(Block):
    """De API van een dienst voor elektronische ondertekening volgens het Weer Thuis-contract (esign-api.yaml)."""

    _block_type_name = "Weer Thuis e-ondertekening"
    _block_type_slug = "weerthuis-e-ondertekening"
    _description = (
        "Adres, token en webhookgeheim van de dienst waarmee Weer Thuis huurovereenkomsten elektronisch laat "
        "ondertekenen door huurder, verhuurder en zo nodig zorgaanbieder of intermediair."
    )

    base_url: str = Field(
        title="Adres", description="Basis-URL van de e-ondertekening-API, bijv. https://api.ondertekenen.nl/api/v1"
    )
    token: SecretStr = Field(
        title="Token", description="Het token dat de dienst gaf; gaat mee als Authorization: Bearer <token>."
    )
    webhook_secret: SecretStr = Field(
        title="Webhookgeheim",
        description="Het gedeelde geheim waarmee de dienst statusmeldingen ondertekent (header X-Signature).",
    )
    timeout_seconds: float = Field(default=10, gt=0, title="Time-out (seconden)")


def _signing(body: Any, what: str) -> dict[str, Any]:
    """A signing (or a status notice about one) in our terms; `created_at` only if the body has `aangemaaktOp`."""
    body = require(body, "id", "zaakreferentie", "status", "ondertekendOp", "weigerreden", what=what)
    code = body["status"]
    if code not in STATUSES:
        raise MalformedResponse(f"{what}: status {code!r} is geen van {', '.join(STATUSES)}")
    status = STATUSES[code]
    if status is SigningStatus.SIGNED and body["ondertekendOp"] is None:
        raise MalformedResponse(f"{what}: ondertekend zonder ondertekendOp")
    if status is SigningStatus.DECLINED and not isinstance(body["weigerreden"], str):
        raise MalformedResponse(f"{what}: geweigerd zonder weigerreden ({body['weigerreden']!r})")
    found = {
        "id": reading.text(body, "id", what),
        "reference": reading.text(body, "zaakreferentie", what),
        "status": status,
        "signed_at": None if body["ondertekendOp"] is None else reading.moment(body, "ondertekendOp", what),
        "decline_reason": body["weigerreden"] if status is SigningStatus.DECLINED else None,
    }
    if "aangemaaktOp" in body:
        found["created_at"] = reading.moment(body, "aangemaaktOp", what)
    return found


def _contract_form(value: str) -> ContractForm:
    try:
        return ContractForm(value)
    except ValueError:
        raise ValueError(f"{NAME}: onbekende contractvorm {value!r}") from None


def contract_form(value: str) -> str:
    """Our contract form (ContractForm or its value) as the contract's code."""
    return CONTRACT_FORMS[_contract_form(value)]


def signers(reference: str, form: str) -> list[dict[str, str]]:
    """Who signs a lease of this form, each by role and the opaque reference `{case reference}:{role}`."""
    return [{"rol": role, "referentie": f"{reference}:{role}"} for role in SIGNER_ROLES[_contract_form(form)]]


# Webhooks ---------------------------------------------------------------------------------------------------------


def verify_webhook(body: bytes, signature_header: str | None, secret: str) -> dict[str, Any]:
    """The status notice the service POSTed to our webhook, in our terms (as `signing_status` gives it).

    The signature is checked over the raw body, before anything in it is believed, in constant time. A missing or
    wrong signature, or a body that is not a status notice, is a ValueError saying which.
    """
    what = f"{NAME}: webhook"
    if not secret:
        raise ValueError(f"{what}: geen webhookgeheim ingesteld, dus niets te controleren")
    if not signature_header:
        raise ValueError(f"{what}: geen X-Signature; de melding is niet ondertekend")
    given = SIGNATURE_HEADER.fullmatch(signature_header.strip())
    if given is None:
        raise ValueError(f"{what}: X-Signature is geen sha256=<64 hex-tekens> maar {signature_header[:80]!r}")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.group(1).lower()):
        raise ValueError(f"{what}: X-Signature klopt niet bij de body (ander geheim of gewijzigde body)")
    try:
        event = json.loads(body)
    except ValueError:
        raise ValueError(f"{what}: de body is geen JSON: {body[:80]!r}") from None
    try:
        return _signing(event, what)
    except MalformedResponse as exc:
        raise ValueError(str(exc)) from None


# The adapter ------------------------------------------------------------------------------------------------------


class HttpESignature:
    """The ESignature port on an e-signature service's API, plus reading its signed webhooks."""

    def __init__(self, api: JsonApi, *, webhook_url: str | None = None, webhook_secret: str = "") -> None:
        self.api = api
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret

    @classmethod
    def from_block(cls, block: ESignApi, webhook_url: str | None = None, **jsonapi_kwargs: Any) -> HttpESignature:
        """`webhook_url`: where the service tells us of status changes (None: we poll).
        `jsonapi_kwargs` go to JsonApi (event_hooks, sleep, transport, max_wait)."""
        token = block.token.get_secret_value()
        api = JsonApi(
            NAME,
            block.base_url,
            timeout=block.timeout_seconds,
            headers=lambda: {"Authorization": f"Bearer {token}"},
            **jsonapi_kwargs,
        )
        return cls(api, webhook_url=webhook_url, webhook_secret=block.webhook_secret.get_secret_value())

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> HttpESignature:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The port ---------------------------------------------------------------------------------------------------

    def send_for_signing(self, lease: dict[str, Any], *, idempotency_key: str) -> str:
        """Send the lease to its signers; the receipt is the service's id of the signing."""
        what = f"{NAME}: POST ondertekeningen"
        reference = reading.given(lease, "reference", what)
        form = reading.given(lease, "contract_form", what)
        body = {
            "zaakreferentie": reference,
            "documentreferentie": reading.given(lease, "dwelling_reference", what),
            "contractvorm": contract_form(form),
            "ondertekenaars": signers(reference, form),
        }
        if self.webhook_url:
            body["webhookUrl"] = self.webhook_url
        made = self.api.call("POST", "ondertekeningen", json=body, idempotency_key=idempotency_key, expect=(200, 201))
        return reading.text(require(made, "id", what=what), "id", what)

    def signing_status(self, signing_id: str) -> dict[str, Any]:
        """Where the signing stands: `status` (SigningStatus), `signed_at`, `decline_reason`, and the rest."""
        path = f"ondertekeningen/{quote(signing_id, safe='')}"
        what = f"{NAME}: GET {path}"
        found = _signing(self.api.call("GET", path, expect=(200,)), what)
        if found["id"] != signing_id:
            raise MalformedResponse(f"{what}: antwoord over ondertekening {found['id']!r}")
        return found

    # Webhooks ---------------------------------------------------------------------------------------------------

    def webhook_event(self, body: bytes, signature_header: str | None) -> dict[str, Any]:
        """A status notice POSTed to our webhook, checked with this service's webhook secret (see verify_webhook)."""
        return verify_webhook(body, signature_header, self.webhook_secret)


class RegionalESignatures:
    """The LeaseSigning port over the e-signature service each region's file names (`esign_block`); we poll."""

    def __init__(self, blocks: Mapping[str, str], load_block: Callable[[str], ESignApi] | None = None) -> None:
        self._for = Adapters(
            NAME,
            blocks,
            load_block or _load_block,
            HttpESignature.from_block,
            missing="heeft geen dienst (esign_block in het regiobestand)",
        )

    def send_for_signing(self, lease: dict[str, Any], *, idempotency_key: str) -> str:
        return self._for(lease["region"]).send_for_signing(lease, idempotency_key=idempotency_key)

    def signing_status(self, region: str, signing_id: str) -> dict[str, Any]:
        return self._for(region).signing_status(signing_id)

    def close(self) -> None:
        self._for.close()


def _load_block(name: str) -> ESignApi:
    return cast(ESignApi, ESignApi.load(name, _sync=True))  # type: ignore[call-arg]
