"""Reading a counterpart's answer: each value checked, so a surprise is a MalformedResponse naming the field.

Shared by the adapters; `what` names the call (`corporatie: GET voordrachten/…`) so the message says where.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from integrations.http import MalformedResponse

CENT = Decimal("0.01")


def text(body: dict[str, Any], field: str, what: str) -> str:
    value = body[field]
    if not isinstance(value, str) or not value:
        raise MalformedResponse(f"{what}: {field} is geen tekst maar {value!r}")
    return value


def choice(body: dict[str, Any], field: str, choices: tuple[str, ...], what: str) -> str:
    value = body[field]
    if value not in choices:
        raise MalformedResponse(f"{what}: {field} {value!r} is geen van {', '.join(choices)}")
    return str(value)


def day(body: dict[str, Any], field: str, what: str) -> date:
    value = body[field]
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise MalformedResponse(f"{what}: {field} is geen datum maar {value!r}") from None


def optional_day(body: dict[str, Any], field: str, what: str) -> date | None:
    return None if body.get(field) is None else day(body, field, what)


def moment(body: dict[str, Any], field: str, what: str) -> datetime:
    value = body[field]
    try:
        found = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise MalformedResponse(f"{what}: {field} is geen tijdstip maar {value!r}") from None
    if found.tzinfo is None:
        raise MalformedResponse(f"{what}: {field} {value!r} heeft geen tijdzone")
    return found


def amount(body: dict[str, Any], field: str, what: str) -> Decimal:
    value = body[field]
    try:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidOperation
        found = Decimal(str(value))
    except InvalidOperation:
        raise MalformedResponse(f"{what}: {field} is geen bedrag maar {value!r}") from None
    if found < 0 or found != found.quantize(CENT):
        raise MalformedResponse(f"{what}: {field} {value!r} is geen bedrag in hele centen")
    return found.quantize(CENT)


def as_list(body: Any, what: str) -> list[Any]:
    if not isinstance(body, list):
        raise MalformedResponse(f"{what}: antwoord is geen lijst maar {type(body).__name__}")
    return body


def given(payload: Mapping[str, Any], field: str, what: str) -> Any:
    """A field of our own payload; a missing one is our mistake, not the counterpart's."""
    try:
        return payload[field]
    except KeyError:
        raise ValueError(f"{what}: {field} ontbreekt in de gegevens van Weer Thuis") from None
