"""Where mail goes: the SMTP server as a Prefect Block, and one connection that sends rendered mails.

Host, port, security and credentials live in the block (Prefect UI → Blocks), never in code or flow parameters.
Errors are sorted the way a sender must act on them: passing trouble (server away, 4xx) is tried again later,
a recipient refused for good (5xx) is marked failed, a refused login or sender is a configuration problem.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from hashlib import sha256
from types import TracebackType
from typing import Literal

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from integrations.ports import TransientFailure


class SmtpServer(Block):
    """De mailserver waarmee Weer Thuis mailt."""

    _block_type_name = "Weer Thuis mailserver"
    _block_type_slug = "weerthuis-mailserver"
    _description = "SMTP-server voor de meldingen, herinneringen en escalaties van Weer Thuis."

    host: str = Field(title="Server", description="Hostnaam of IP-adres van de SMTP-server.")
    port: int = Field(default=587, ge=1, le=65535, title="Poort")
    security: Literal["none", "starttls", "ssl"] = Field(
        default="starttls",
        title="Beveiliging",
        description="starttls (poort 587), ssl (poort 465) of none (alleen lokaal).",
    )
    username: str | None = Field(default=None, title="Gebruikersnaam")
    password: SecretStr | None = Field(default=None, title="Wachtwoord")
    sender: str = Field(
        default="Weer Thuis <noreply@weerthuis.example.org>",
        title="Afzender",
        description="Het From-adres van elke mail.",
    )
    timeout_seconds: float = Field(default=30, gt=0, title="Time-out (seconden)")


class MailRefused(Exception):
    """The server refuses this one mail for good (5xx for the recipient or the message)."""


class MailServerMisconfigured(Exception):
    """The server refuses the login or the sender: trying again will not help until the block is fixed."""


@dataclass(frozen=True)
class Outgoing:
    key: str
    address: str
    subject: str
    text: str
    html: str


def message_id(key: str) -> str:
    """The same outbox row always carries the same Message-ID, so a receiver can spot a copy."""
    return f"<{sha256(key.encode()).hexdigest()[:32]}@weerthuis>"


def compose(mail: Outgoing, sender: str, now: datetime) -> EmailMessage:
    """Multipart/alternative: plain text first, HTML as the preferred rendering."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.address
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(mail.key)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    message["Content-Language"] = "nl"  # after the content: set_content clears Content-* headers
    return message


def _passing(code: int) -> bool:
    return 400 <= code < 500


class Connection:
    """One SMTP session; open it, send mails one by one, close it."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Connection:
        server = self.server
        try:
            if server.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    server.host, server.port, timeout=server.timeout_seconds, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout_seconds)
            if server.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if server.username:
                password = server.password.get_secret_value() if server.password else ""
                smtp.login(server.username, password)
        except smtplib.SMTPAuthenticationError as exc:
            raise MailServerMisconfigured(f"De mailserver weigert de inlog ({exc.smtp_code}).") from exc
        except smtplib.SMTPResponseException as exc:
            if _passing(exc.smtp_code):
                raise TransientFailure(f"mailserver tijdelijk niet beschikbaar ({exc.smtp_code})") from exc
            raise MailServerMisconfigured(f"De mailserver weigert de verbinding ({exc.smtp_code}).") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientFailure(
                f"mailserver {server.host}:{server.port} niet bereikbaar: {type(exc).__name__}"
            ) from exc
        self._smtp = smtp
        return self

    def send(self, mail: Outgoing, now: datetime) -> None:
        assert self._smtp is not None, "open the connection first"
        message = compose(mail, self.server.sender, now)
        try:
            refused = self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            if _passing(code):
                raise TransientFailure(f"ontvanger tijdelijk geweigerd ({code})") from exc
            raise MailRefused(f"ontvanger geweigerd ({code})") from exc
        except smtplib.SMTPSenderRefused as exc:
            if _passing(exc.smtp_code):
                raise TransientFailure(f"afzender tijdelijk geweigerd ({exc.smtp_code})") from exc
            raise MailServerMisconfigured(f"De mailserver weigert de afzender ({exc.smtp_code}).") from exc
        except smtplib.SMTPResponseException as exc:
            if _passing(exc.smtp_code):
                raise TransientFailure(f"mailserver tijdelijk niet beschikbaar ({exc.smtp_code})") from exc
            raise MailRefused(f"bericht geweigerd ({exc.smtp_code})") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientFailure(f"verbinding met de mailserver verbroken: {type(exc).__name__}") from exc
        if refused:  # only one recipient per mail, so a partial refusal is a refusal
            raise MailRefused(f"ontvanger geweigerd ({next(iter(refused.values()))[0]})")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None
