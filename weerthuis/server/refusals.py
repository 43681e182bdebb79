"""Why a form was refused, in Dutch and in the words of the form: the field's title, not its internal name.

The Prefect server checks an answer against the form's JSON Schema and, on a refusal, names only the first
failing field by its code, in English (`Validation failed for field 'financien'`). Here every failing field is
named by the title the form shows, with what is wrong and what is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jsonschema.exceptions import ValidationError

TYPES = {"integer": "heel getal", "number": "getal", "string": "tekst", "boolean": "ja of nee"}
FORMATS = {"date": "datum (jjjj-mm-dd)", "date-time": "datum met tijd", "email": "e-mailadres"}


def refusal(errors: Iterable[ValidationError], schema: Mapping[str, Any]) -> str:
    """One Dutch sentence per failing field, in the order of the form: what the server answers a refused form."""
    properties = schema.get("properties", {})
    order = {name: number for number, name in enumerate(properties)}
    said: dict[str, str] = {}
    for error in errors:
        name, what = explain(error, properties)
        said.setdefault(name, f"'{_title(name, properties)}': {what}" if name in properties else _capital(what))
    ordered = sorted(said.items(), key=lambda item: order.get(item[0], len(order)))
    return "Niet opgeslagen. " + " ".join(line for _, line in ordered)


def field_messages(errors: Iterable[ValidationError], schema: Mapping[str, Any]) -> dict[str, list[str]]:
    """What is wrong with each field, in Dutch, to show under it (the UI's check while a form is filled in)."""
    properties = schema.get("properties", {})
    messages: dict[str, list[str]] = {}
    for error in errors:
        name, what = explain(error, properties)
        messages.setdefault(name, []).append(_capital(what))
    return messages


def explain(error: ValidationError, properties: dict[str, Any]) -> tuple[str, str]:
    """The field an error is about and what is wrong with it, in Dutch."""
    name = _field(error)
    field = properties.get(name, {})
    value = error.instance
    match error.validator:
        case "required":
            return name, "niet ingevuld."
        case "additionalProperties":
            unknown = sorted(set(value) - set(properties)) if isinstance(value, dict) else []
            return name, f"dit formulier kent {', '.join(repr(u) for u in unknown) or 'een veld'} niet."
        case "minimum" | "maximum":
            low, high = field.get("minimum"), field.get("maximum")
            if low is not None and high is not None:
                return name, f"{value} kan niet; vul {low} tot en met {high} in."
            bound = "minstens" if error.validator == "minimum" else "hoogstens"
            return name, f"{value} kan niet; vul {bound} {error.validator_value} in."
        case "enum":
            choices = ", ".join(str(choice) for choice in error.validator_value)
            return name, f"'{value}' is hier geen keuze; kies uit {choices}."
        case "type":
            wanted = error.validator_value if isinstance(error.validator_value, str) else error.validator_value[0]
            return name, f"'{value}' is geen {TYPES.get(wanted, wanted)}."
        case "format":
            return name, f"'{value}' is geen {FORMATS.get(error.validator_value, error.validator_value)}."
        case "exclusiveMinimum":
            return name, f"{value} kan niet; vul meer dan {error.validator_value} in."
        case "exclusiveMaximum":
            return name, f"{value} kan niet; vul minder dan {error.validator_value} in."
        case "minLength":
            return name, "niet ingevuld." if value == "" else "te kort."
        case "maxLength":
            return name, f"te lang: hoogstens {error.validator_value} tekens."
        case "pattern":
            return name, f"'{value}' heeft niet de juiste vorm."
        case _:
            return name, f"klopt niet ({error.message})."


def _field(error: ValidationError) -> str:
    if error.validator == "required":
        return str(error.message.split("'")[1])
    if error.validator == "additionalProperties":
        return ""
    return str(error.absolute_path[0]) if error.absolute_path else ""


def _title(name: str, properties: dict[str, Any]) -> str:
    return str(properties.get(name, {}).get("title") or name)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
