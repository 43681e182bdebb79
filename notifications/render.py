"""Rendering is pure: an event and its facts in, a Dutch subject, text and HTML out. Sending is elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notifications.events import MailEvent

TEMPLATES = Path(__file__).parent / "templates"

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    undefined=StrictUndefined,  # a missing fact is an error, never an empty spot in a mail
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_environment.filters["datum"] = lambda day: f"{day:%d-%m-%Y}" if day else "geen"


def bedrag(amount: float) -> str:
    """Dutch money: `€ 1.234,50`."""
    return "€ " + f"{amount:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


_environment.filters["bedrag"] = bedrag


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def render(event: MailEvent, facts: dict[str, Any]) -> RenderedMail:
    """Render `<event>.subject.txt`, `<event>.txt` and `<event>.html` with the same facts."""
    subject = _environment.get_template(f"{event.value}.subject.txt").render(facts)
    return RenderedMail(
        subject=" ".join(subject.split()),
        text=_environment.get_template(f"{event.value}.txt").render(facts),
        html=_environment.get_template(f"{event.value}.html").render(facts),
    )
