"""One small port per external system. Every call carries the idempotency key of the action it performs."""

from __future__ import annotations

from typing import Any, Protocol


class TransientFailure(Exception):
    """The counterpart may succeed if asked again later (timeout, connection error, 5xx, 429)."""


class CounterpartRefused(Exception):
    """The counterpart refused the request as it stands (4xx or a business refusal): asking again won't help."""


class Corporation(Protocol):
    """A housing corporation (woningcorporatie): nominations in, signed leases registered."""

    def submit_nomination(self, nomination: dict[str, Any], *, idempotency_key: str) -> str: ...

    def register_lease(self, lease: dict[str, Any], *, idempotency_key: str) -> str: ...


class MunicipalCaseSystem(Protocol):
    """The municipality's case system (zaaksysteem): one zaak per outflow case, a status per stage."""

    def register_case(self, case: dict[str, Any], *, idempotency_key: str) -> str: ...

    def set_status(self, status: dict[str, Any], *, idempotency_key: str) -> str: ...


class CareProvider(Protocol):
    """The care provider who gives support at home."""

    def request_support(self, request: dict[str, Any], *, idempotency_key: str) -> str: ...
