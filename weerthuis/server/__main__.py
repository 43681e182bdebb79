"""python -m weerthuis.server --host 127.0.0.1 --port 4200: Prefect's API, UI and services, wrapped (app.py)."""

from __future__ import annotations

import argparse

import uvicorn

from weerthuis.server.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="weerthuis server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4200)
    args = parser.parse_args(argv)
    # Logging as Prefect configures it (PREFECT_SERVER_LOGGING_LEVEL), not uvicorn's own: no line per request.
    uvicorn.run(create_app(), host=args.host, port=args.port, timeout_keep_alive=5, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
