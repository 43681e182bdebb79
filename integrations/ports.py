"""One small port per external system. Every write carries the idempotency key of the action it performs; the
reads give a counterpart's answer back in our terms (see each adapter), or "no answer yet"."""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol


class TransientFailure(Exception):
    """The counterpart may succeed if asked again later (timeout, connection error, 5xx, 429)."""


class CounterpartRefused(Exception):
    """The counterpart refused the request as it stands (4xx or a business refusal): asking again won't help."""


class Corporation(Protocol):
    """A housing corporation (woningcorporatie): nominations in, its answer and offers out, signed leases
    registered. Reads name the corporation, whose own API answers."""

    def submit_nomination(self, nomination: dict[str, Any], *, idempotency_key: str) -> str: ...

    def register_lease(self, lease: dict[str, Any], *, idempotency_key: str) -> str: ...

    def nomination(self, corporation: str, nomination_id: str) -> dict[str, Any]: ...

    def offers(self, corporation: str, nomination_id: str) -> list[dict[str, Any]]: ...

    def signals(self, corporation: str, reference: str, since: date) -> list[dict[str, Any]]: ...


class MunicipalCaseSystem(Protocol):
    """The municipality's case system (zaaksysteem): one zaak per outflow case, a status per stage."""

    def register_case(self, case: dict[str, Any], *, idempotency_key: str) -> str: ...

    def set_status(self, status: dict[str, Any], *, idempotency_key: str) -> str: ...


class CareProvider(Protocol):
    """The care provider who gives support at home, and the municipality's Wmo desk."""

    def request_support(self, request: dict[str, Any], *, idempotency_key: str) -> str: ...

    def support_request(self, provider: str, request_id: str) -> dict[str, Any]: ...

    def wmo_decision(self, provider: str, reference: str) -> dict[str, Any] | None: ...

    def reach(self, provider: str, request_id: str, on: date) -> dict[str, Any]: ...


class LeaseSigning(Protocol):
    """The e-signature service each region uses: a drawn-up lease sent for signing, its status read back."""

    def send_for_signing(self, lease: dict[str, Any], *, idempotency_key: str) -> str: ...

    def signing_status(self, region: str, signing_id: str) -> dict[str, Any]: ...
