"""A local SMTP sink for the demo and the tests: a real SMTP server on loopback that keeps every message.

Each message is written as an .eml file (open it in any mail program) named after the time and its Message-ID,
so a person can read what staff would receive and a test can count what arrived.

    python -m notifications.sink --port 8025 --maildir .data/mail
"""

from __future__ import annotations

import argparse
import re
import signal
import threading
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class MaildirHandler:
    """Keeps each message as `<time>-<message id>.eml` in one folder."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self.maildir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        token = re.sub(r"[^A-Za-z0-9.-]+", "_", str(parsed.get("Message-ID", "")).strip("<>"))[:120] or "bericht"
        with self._lock:
            self._count += 1
            name = f"{datetime.now():%Y%m%d-%H%M%S}-{self._count:05d}-{token}.eml"
        (self.maildir / name).write_bytes(content)
        return "250 Message accepted for delivery"


def read_maildir(maildir: Path) -> list[EmailMessage]:  # policy.default parses into EmailMessage
    """The messages a sink kept, oldest first."""
    return [message_from_bytes(path.read_bytes(), policy=policy.default) for path in sorted(maildir.glob("*.eml"))]


class Sink:
    """The sink as a context manager on a loopback port (also used by the tests)."""

    def __init__(
        self, maildir: Path, *, host: str = "127.0.0.1", port: int = 8025, handler: MaildirHandler | None = None
    ) -> None:
        self.handler = handler or MaildirHandler(maildir)
        self.controller = Controller(self.handler, hostname=host, port=port, ready_timeout=10)

    @property
    def maildir(self) -> Path:
        return self.handler.maildir

    def messages(self) -> list[EmailMessage]:
        return read_maildir(self.maildir)

    def start(self) -> Sink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Lokale SMTP-opvang: bewaart elke mail als .eml-bestand.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--maildir", type=Path, default=Path(".data/mail"))
    args = parser.parse_args(argv)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    with Sink(args.maildir, host=args.host, port=args.port):
        print(f"SMTP-opvang luistert op {args.host}:{args.port}; mails komen in {args.maildir.resolve()}", flush=True)
        stopped.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
