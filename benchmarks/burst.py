"""A burst of writes on the embedded SQLite Prefect server: bare `prefect server start` beside `weerthuis server`.

Each of --clients threads creates flow runs and moves each through Pending, Running and Completed (four writes a
run), all at once, against a fresh server with its own PREFECT_HOME. Prints per server: how many calls succeeded,
how many got 5xx, how long the burst took. (A benchmark prints figures; no test asserts on time.)

    .venv/bin/python benchmarks/burst.py [--clients 40] [--runs 120]
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from weerthuis.devstack import free_port  # noqa: E402

SERVERS = {
    "prefect server start": ["-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port"],
    "weerthuis server": ["-m", "weerthuis.server", "--host", "127.0.0.1", "--port"],
}


def started(args: list[str], home: Path) -> tuple[subprocess.Popen[bytes], str, httpx.Auth | None]:
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    env.pop("PREFECT_SERVER_DATABASE_CONNECTION_URL", None)
    auth = None
    if "weerthuis.server" in args:  # behind login: the clients are a machine with its API token
        env |= {
            "WEERTHUIS_DATA_DIR": str(home),
            "WEERTHUIS_LOGIN__ISSUER": "http://127.0.0.1:9/niet-gebruikt",  # nobody logs in personally here
            "WEERTHUIS_LOGIN__PUBLIC_URL": f"http://127.0.0.1:{port}",
            "WEERTHUIS_LOGIN__CLIENT_SECRET": secrets.token_urlsafe(16),
            "WEERTHUIS_LOGIN__SESSION_SECRET": secrets.token_urlsafe(32),
        }
        cli = [sys.executable, "-m", "weerthuis.cli"]
        subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True)
        issued = subprocess.run(
            [*cli, "token", "issue", "--service", "benchmark", "--by", "EMM-TP-01"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        auth = httpx.BasicAuth("benchmark", issued.stdout.strip().splitlines()[-1])
    log = (home / "server.log").open("wb")
    process = subprocess.Popen([sys.executable, *args, str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return process, base, auth
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"server did not start; see {home / 'server.log'}")


def burst(base: str, auth: httpx.Auth | None, clients: int, runs: int) -> tuple[Counter[str], float]:
    flow = httpx.post(f"{base}/flows/", json={"name": "burst"}, timeout=60, auth=auth).json()["id"]

    def one(number: int) -> list[int]:
        with httpx.Client(base_url=base, timeout=120, auth=auth) as http:
            created = http.post("/flow_runs/", json={"flow_id": flow, "name": f"burst-{number}"})
            codes = [created.status_code]
            if created.status_code >= 300:
                return codes
            run_id = created.json()["id"]
            for state in ("PENDING", "RUNNING", "COMPLETED"):
                codes.append(http.post(f"/flow_runs/{run_id}/set_state", json={"state": {"type": state}}).status_code)
            return codes

    began = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(runs)))
    elapsed = time.monotonic() - began
    return Counter("ok" if code < 300 else str(code) for codes in results for code in codes), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--runs", type=int, default=120)
    args = parser.parse_args()
    print(f"{args.runs} runs × 4 writes from {args.clients} clients at once, SQLite, fresh server each")
    print(f"{'server':<22} {'ok':>6} {'5xx':>6} {'seconds':>8}  locked in log")
    for name, command in SERVERS.items():
        with tempfile.TemporaryDirectory() as tmp:
            process, base, auth = started(command, Path(tmp))
            try:
                counts, elapsed = burst(base, auth, args.clients, args.runs)
            finally:
                process.terminate()
                process.wait(timeout=30)
            locked = (Path(tmp) / "server.log").read_text(errors="replace").count("database is locked")
            failed = sum(n for code, n in counts.items() if code.startswith("5"))
            print(f"{name:<22} {counts['ok']:>6} {failed:>6} {elapsed:>8.1f}  {locked}")


if __name__ == "__main__":
    main()
