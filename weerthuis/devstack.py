"""A local stack on this machine: Prefect server on 127.0.0.1, the deployments of prefect.yaml, a process worker.

The demo and the integration tests both start the stack through here, so what the README promises is what the
tests exercise.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
WORK_POOL = "weer-thuis"
OUTFLOW_DEPLOYMENT = "outflow-case/outflow-case"
COUNTERPARTS_FILE = "counterparts.json"  # in the data folder: the address of each fake counterpart


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class StackError(RuntimeError):
    pass


class LocalStack:
    """Processes of one local stack; everything it writes stays under `data_dir`."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int = 4200,
        extra_env: dict[str, str] | None = None,
        worker_query_seconds: float = 2,
        smtp_port: int | None = None,
        schedule_intervals: dict[str, float] | None = None,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        # Seconds by deployment name, e.g. {"counterpart-answers": 20}: that deployment's schedule becomes this
        # interval once prefect.yaml is applied (tests only; prefect.yaml keeps production's intervals).
        self.schedule_intervals = dict(schedule_intervals or {})
        self.smtp_port = smtp_port or free_port()
        self.zgw_port = free_port()
        self.corporation_port = free_port()
        self.care_port = free_port()
        self.esign_port = free_port()
        self.oidc_port = free_port()
        self.maildir = self.data_dir / "mail"
        self.logs = self.data_dir / "logs"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.env = {
            **os.environ,
            "PREFECT_HOME": str(self.data_dir / "prefect"),
            "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
            # Prefect 3.8.8 leaves SQLite's "database is locked" out of the server log by default: show it.
            "PREFECT_SERVER_LOG_RETRYABLE_ERRORS": "true",
            "PREFECT_WORKER_QUERY_SECONDS": str(worker_query_seconds),
            "PREFECT_WORKER_PREFETCH_SECONDS": "5",
            "PREFECT_RUNNER_POLL_FREQUENCY": "2",
            # Each flow run sends a heartbeat every 30 s (Prefect's minimum; default 180); the recovery declares a case
            # run Crashed after 3 missed (flows/recovery.py): a run whose worker died with it.
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
            # Concurrency slots (the recovery deployment's limit of 1) kept on disk, not in the server's memory: a
            # server restart must not lose the lease of a slot and leave it taken for good.
            "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.filesystem",
            "PYTHONPATH": str(REPO),
            "WEERTHUIS_HOME": str(REPO),
            "WEERTHUIS_DATA_DIR": str(self.data_dir),
            # The flows talk HTTP to the counterparts this stack starts (fakes on loopback, see start_counterparts).
            "WEERTHUIS_INTEGRATIONS__MODE": "http",
            # Personal login at the stack's own identity provider (a fake that is a real OIDC server, see
            # start_identity_provider); the secrets are this stack's own, made anew at every start.
            "WEERTHUIS_LOGIN__ISSUER": f"http://127.0.0.1:{self.oidc_port}",
            "WEERTHUIS_LOGIN__PUBLIC_URL": f"http://127.0.0.1:{port}",
            "WEERTHUIS_LOGIN__CLIENT_SECRET": secrets.token_urlsafe(24),
            "WEERTHUIS_LOGIN__SESSION_SECRET": secrets.token_urlsafe(32),
            # The provider adds names and e-mail addresses to the ID token, as a real one does (they stay there).
            "WEERTHUIS_LOGIN__SCOPE": "openid profile email",
            **(extra_env or {}),
        }
        # The API token of the stack's own command line and tests (`cli`), once issued (issue_tokens).
        self.cli_auth: str | None = None
        # The Prefect server's own database: SQLite under data_dir unless a PostgreSQL URL is given.
        if url := self.env.get("WEERTHUIS_PREFECT_DATABASE_URL"):
            self.env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = url

    @property
    def api_url(self) -> str:
        return self.env["PREFECT_API_URL"]

    def prefect_settings(self) -> dict[Any, Any]:
        """Prefect client settings for this stack (for `temporary_settings(updates=...)`): its API, and the `cli`
        token once issued."""
        from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL

        return {PREFECT_API_URL: self.api_url, **({PREFECT_API_AUTH_STRING: self.cli_auth} if self.cli_auth else {})}

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, name: str, args: Iterable[str]) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:  # the child keeps its own copy of the handle
            process = subprocess.Popen(
                list(args), cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes.append(process)
        return process

    def _run(self, args: list[str], env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            args, cwd=REPO, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=300
        )
        if result.returncode != 0:
            raise StackError(f"{' '.join(args[1:4])} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result.stdout

    def prefect(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "prefect", *args]

    def issue_tokens(self) -> None:
        """API tokens for the worker (and the flow runs it starts) and for the stack's command line, issued by the
        first coordinator of the region files; Prefect's clients send them as `PREFECT_API_AUTH_STRING`."""
        from config.regions import load_regions
        from weerthuis.domain.vocabulary import Role

        regions = load_regions(Path(self.env.get("WEERTHUIS_REGIONS_DIR", REPO / "config" / "regions")))
        by = next(p.code for r in regions.values() for p in r.people_with(Role.COORDINATOR))
        weerthuis = [sys.executable, "-m", "weerthuis.cli"]
        self._run([*weerthuis, "migrate"])
        issued = {
            service: self._run([*weerthuis, "token", "issue", "--service", service, "--by", by])
            .strip()
            .splitlines()[-1]
            for service in ("worker", "cli")
        }
        self.env["PREFECT_API_AUTH_STRING"] = f"worker:{issued['worker']}"
        self.cli_auth = f"cli:{issued['cli']}"

    def start_identity_provider(self, timeout: float = 30) -> None:
        """The fake OpenID Connect provider on loopback, with the region files' staff as users (password `demo`)."""
        login = f"http://127.0.0.1:{self.port}"
        provider = self._spawn(
            "identity-provider",
            [
                sys.executable,
                "-m",
                "integrations.counterparts.oidc",
                "--port",
                str(self.oidc_port),
                "--client",
                f"weerthuis:{self.env['WEERTHUIS_LOGIN__CLIENT_SECRET']}",
                "--redirect-uri",
                f"{login}/auth/callback",
                "--post-logout-redirect-uri",
                f"{login}/auth/afgemeld",
                "--key-file",
                str(self.data_dir / "oidc-key.pem"),
                "--ledger",
                str(self.data_dir / "fake-counterparts.sqlite"),
                "--with-names",
            ],
        )
        deadline = time.monotonic() + timeout
        while not port_in_use(self.oidc_port):
            if provider.poll() is not None or time.monotonic() > deadline:
                raise StackError(f"identity provider start niet; see {self.logs / 'identity-provider.log'}")
            time.sleep(0.2)

    def start_server(self, timeout: float = 120) -> None:
        if port_in_use(self.port):
            raise StackError(f"Poort {self.port} op 127.0.0.1 is al in gebruik; stop het andere proces of kies --port.")
        # Prefect's server wrapped by ours (weerthuis/server): the same API, UI and services, Dutch refusals.
        server = self._spawn(
            "server", [sys.executable, "-m", "weerthuis.server", "--host", "127.0.0.1", "--port", str(self.port)]
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise StackError(f"Prefect server stopped; see {self.logs / 'server.log'}")
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise StackError(f"Prefect server not healthy after {timeout:.0f}s; see {self.logs / 'server.log'}")

    def restart_server(self, timeout: float = 120) -> None:
        """Stop the Prefect server and start it again on the same port and database (what a redeploy does)."""
        server = next(p for p in self.processes if p.args[2:3] == ["weerthuis.server"])  # type: ignore[index]
        server.terminate()
        server.wait(timeout=30)
        self.processes.remove(server)
        deadline = time.monotonic() + 30
        while port_in_use(self.port) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.start_server(timeout)

    def deploy(self) -> None:
        """Create the process work pool and apply prefect.yaml's deployments."""
        template = self.data_dir / "work-pool.json"
        template.write_text(json.dumps(process_pool_template(), indent=2) + "\n")
        create = ["work-pool", "create", WORK_POOL, "--type", "process", "--base-job-template", str(template)]
        self._run(self.prefect(*create, "--overwrite"))
        self._run(self.prefect("--no-prompt", "deploy", "--all"))
        # Not a "{{ $VAR }}" in prefect.yaml: Prefect 3.8.8 checks `interval` as a duration before templating, and
        # a file that fails the check is skipped whole (no deployment at all). Replacing the schedule drops the
        # runs it had planned; the server's scheduler plans new ones.
        for name, seconds in self.schedule_intervals.items():
            replace = ["deployment", "schedule", "create", f"{name}/{name}", "--interval", str(seconds), "--replace"]
            self._run(self.prefect(*replace, "--accept-yes"))

    def start_mail_sink(self, timeout: float = 30) -> None:
        """A local SMTP server that keeps every mail as an .eml file in `maildir`, and the block pointing at it."""
        if port_in_use(self.smtp_port):
            raise StackError(f"Poort {self.smtp_port} op 127.0.0.1 (SMTP) is al in gebruik.")
        sink = self._spawn(
            "mail-sink",
            [sys.executable, "-m", "notifications.sink", "--port", str(self.smtp_port), "--maildir", str(self.maildir)],
        )
        deadline = time.monotonic() + timeout
        while not port_in_use(self.smtp_port):
            if sink.poll() is not None or time.monotonic() > deadline:
                raise StackError(f"SMTP-opvang start niet; see {self.logs / 'mail-sink.log'}")
            time.sleep(0.2)
        self._run(
            [
                sys.executable,
                "-m",
                "weerthuis.cli",
                "mail-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.smtp_port),
                "--security",
                "none",
            ]
        )

    def start_counterparts(self, timeout: float = 30) -> None:
        """Fake counterparts on loopback — the zaaksysteem (ZGW Zaken API), the corporations, the care providers and
        the e-signature service — and the blocks the region files name, pointing at them. Each fake keeps what it
        did in the data folder's ledger."""
        from integrations.counterparts.zgw import DEMO_SECRET

        ledger = str(self.data_dir / "fake-counterparts.sqlite")
        zgw = ["--client", f"weerthuis:{DEMO_SECRET}", "--state", str(self.data_dir / "zaaksysteem.json")]
        if contract := self.env.get("WEERTHUIS_ZGW_CONTRACT"):  # tests: every exchange checked against the spec
            zgw += ["--contract", contract]
        esign = ["--token", DEMO_SECRET, "--webhook-secret", DEMO_SECRET]
        fakes = {
            "zaaksysteem": ("integrations.counterparts.zgw", self.zgw_port, zgw),
            "corporaties": ("integrations.counterparts.corporation", self.corporation_port, ["--api-key", DEMO_SECRET]),
            "zorgaanbieders": ("integrations.counterparts.care", self.care_port, ["--api-key", DEMO_SECRET]),
            "e-ondertekening": ("integrations.counterparts.esign", self.esign_port, esign),
        }
        for name, (module, port, extra) in fakes.items():
            self._spawn(name, [sys.executable, "-m", module, "--port", str(port), "--ledger", ledger, *extra])
        deadline = time.monotonic() + timeout
        while not all(port_in_use(port) for _, port, _ in fakes.values()):
            if any(p.poll() is not None for p in self.processes) or time.monotonic() > deadline:
                raise StackError(f"nep-tegenpartijen starten niet; see {self.logs}")
            time.sleep(0.2)
        addresses = {name: f"http://127.0.0.1:{port}" for name, (_, port, _) in fakes.items()}
        # Where `weerthuis act` finds them (the demo's way to play the corporation, e-signing and care provider).
        (self.data_dir / COUNTERPARTS_FILE).write_text(json.dumps(addresses, indent=2) + "\n")
        ports = f"{self.zgw_port},{self.corporation_port},{self.care_port},{self.esign_port}"
        self._run([sys.executable, "-m", "weerthuis.devstack", "save-fake-blocks", ports])

    def start_worker(self) -> None:
        self._spawn("worker", self.prefect("worker", "start", "--pool", WORK_POOL, "--type", "process"))

    def start(self) -> LocalStack:
        try:
            self.issue_tokens()
            self.start_identity_provider()
            self.start_server()
            self.deploy()
            self.start_mail_sink()
            self.start_counterparts()
            self.start_worker()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def process_pool_template() -> dict[str, Any]:
    """Prefect's process work pool, starting each flow run as one Python process instead of two.

    Without a command, Prefect 3.8.8's process worker starts a workspace supervisor that runs the deployment's pull
    steps and then execs a fresh `python -m prefect.engine` — two interpreters importing Prefect (~2 s of CPU each)
    for every start and every resume. With the engine as the command, the engine runs the pull steps itself."""
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    template["variables"]["properties"]["command"]["default"] = f"{sys.executable} -m prefect.engine"
    return template


def save_fake_blocks(zgw_port: int, corporation_port: int, care_port: int, esign_port: int) -> int:
    """Save every block the region files name, pointing at this stack's fakes (one process: saving is slow)."""
    from pydantic import SecretStr

    from config.regions import load_regions
    from config.settings import Settings
    from integrations.care import CareApi
    from integrations.corporation import CorporationApi
    from integrations.counterparts.common import API
    from integrations.counterparts.zgw import API as ZGW_API
    from integrations.counterparts.zgw import DEMO_SECRET
    from integrations.esign import ESignApi
    from integrations.zgw import ZgwZakenApi

    secret = SecretStr(DEMO_SECRET)
    blocks: dict[str, Any] = {}
    for region in load_regions(Settings().regions_dir).values():
        if region.zaaksysteem is not None:
            url = f"http://127.0.0.1:{zgw_port}{ZGW_API}"
            blocks[region.zaaksysteem.block] = ZgwZakenApi(base_url=url, client_id="weerthuis", secret=secret)
        for corporation in region.corporations:
            if corporation.api_block:
                url = f"http://127.0.0.1:{corporation_port}{API}"
                blocks[corporation.api_block] = CorporationApi(base_url=url, api_key=secret)
        for provider in region.care_providers:
            if provider.api_block:
                blocks[provider.api_block] = CareApi(base_url=f"http://127.0.0.1:{care_port}{API}", api_key=secret)
        if region.esign_block:
            url = f"http://127.0.0.1:{esign_port}{API}"
            blocks[region.esign_block] = ESignApi(base_url=url, token=secret, webhook_secret=secret)
    for name, block in blocks.items():
        block.save(name, overwrite=True, _sync=True)
    print(f"{len(blocks)} blocks bewaard voor de nep-tegenpartijen.")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["pool-template"]:  # for `prefect work-pool create … --base-job-template`
        print(json.dumps(process_pool_template(), indent=2))
        sys.exit(0)
    if sys.argv[1:2] != ["save-fake-blocks"] or len(sys.argv) != 3:
        sys.exit(
            "usage: python -m weerthuis.devstack pool-template\n"
            "       python -m weerthuis.devstack save-fake-blocks ZGW,CORPORATION,CARE,ESIGN"
        )
    sys.exit(save_fake_blocks(*(int(port) for port in sys.argv[2].split(","))))
