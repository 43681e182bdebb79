"""Every mail rendered with example data, as files staff can open: `<event>.txt`, `<event>.html`, `<event>.eml`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from notifications.events import MailEvent
from notifications.examples import EXAMPLES
from notifications.render import render
from notifications.smtp import Outgoing, compose

SENDER = "Weer Thuis <noreply@weerthuis.example.org>"


def write_previews(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for event in MailEvent:
        mail = render(event, EXAMPLES[event])
        message = compose(
            Outgoing(f"voorbeeld:{event.value}", "medewerker@example.org", mail.subject, mail.text, mail.html),
            SENDER,
            datetime(2026, 12, 1, 9, 0).astimezone(),
        )
        for suffix, content in (
            ("txt", f"Onderwerp: {mail.subject}\n\n{mail.text}"),
            ("html", mail.html),
            ("eml", message.as_string()),
        ):
            path = out / f"{event.value}.{suffix}"
            path.write_text(content, encoding="utf-8")
            written.append(path)
    return written
