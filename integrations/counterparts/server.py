"""Serve a fake counterpart: in a thread (tests) or as its own process (the demo's local stack)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn
from starlette.types import ASGIApp


class ServerThread:
    """A uvicorn server on 127.0.0.1 in a background thread; a context manager."""

    def __init__(self, app: ASGIApp, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, name=f"fake-{port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"fake counterpart did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve(app: ASGIApp, port: int, host: str = "127.0.0.1") -> None:
    """Run in the foreground until stopped (SIGTERM or Ctrl-C)."""
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="off")
