"""A real SMTP server on loopback for the mail tests, and what a test wants to know of what it received."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from notifications.sink import MaildirHandler, Sink
from notifications.smtp import SmtpServer
from weerthuis.devstack import free_port


def sink_on_free_port(maildir: Path, handler: MaildirHandler | None = None) -> Sink:
    return Sink(maildir, port=free_port(), handler=handler)


def server_for(sink: Sink | None, port: int | None = None) -> SmtpServer:
    return SmtpServer(host="127.0.0.1", port=port or sink.controller.port, security="none")  # type: ignore[union-attr]


def subject(message: EmailMessage) -> str:
    return str(message["Subject"]).strip()


def received(sink: Sink) -> list[tuple[str, str]]:
    """(recipient address, subject) of every message, in arrival order."""
    return [(str(m["To"]), subject(m)) for m in sink.messages()]
