"""Starting a case's run and answering its forms through the Prefect API, as the UI does."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.responses import SetStateStatus
from prefect.deployments import run_deployment

from weerthuis.devstack import OUTFLOW_DEPLOYMENT


def start_case(reference: str, region: str) -> FlowRun:
    """Start (or find) the one outflow run of a case; only the reference and region reach Prefect."""
    return run_deployment(
        OUTFLOW_DEPLOYMENT,
        parameters={"zaakreferentie": reference, "regio": region},
        timeout=0,
        idempotency_key=f"outflow-case-{reference}",
        tags=[f"regio:{region}"],
        as_subflow=False,
        # Always the blocking call, also from a thread that runs an event loop (Playwright's sync API does).
        _sync=True,  # type: ignore[call-arg]
    )


@dataclass(frozen=True)
class WaitingForm:
    flow_run_id: UUID
    key: str
    schema: dict[str, Any]
    description: str | None


class RunEnded(RuntimeError):
    pass


def waiting_form(flow_run_id: UUID) -> WaitingForm | None:
    """The form the run is suspended on now, once its schema is stored (resuming earlier is a race); else None."""
    import json

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(flow_run_id).state
        if state is not None and state.is_final():
            raise RunEnded(f"Run {flow_run_id} ended in {state.type.value}: {state.message}")
        details = state.state_details if state is not None else None
        if state is None or not state.is_paused() or details is None or not details.run_input_keyset:
            return None
        keys = details.run_input_keyset
        try:
            schema = client.read_flow_run_input(flow_run_id, keys["schema"])
        except Exception:  # not stored yet
            return None
        try:
            description = client.read_flow_run_input(flow_run_id, keys["description"])
        except Exception:
            description = None
    return WaitingForm(
        flow_run_id, details.pause_key or "", json.loads(schema), json.loads(description) if description else None
    )


def wait_for_form(flow_run_id: UUID, *, after_key: str | None = None, timeout: float = 120) -> WaitingForm:
    """Wait until the run is suspended on a form other than `after_key`, with its schema stored."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        form = waiting_form(flow_run_id)
        if form is not None and form.key != after_key:
            return form
        time.sleep(0.5)
    raise TimeoutError(f"Run {flow_run_id} is not waiting on a new form after {timeout:.0f}s")


@dataclass(frozen=True)
class ResumeResult:
    accepted: bool
    reason: str


def answer_form(flow_run_id: UUID, answer: dict[str, Any]) -> ResumeResult:
    """Submit a form as the UI's Resume dialog does; a rejection comes back with the server's reason."""
    with get_client(sync_client=True) as client:
        result = client.resume_flow_run(flow_run_id, run_input=answer)
    accepted = result.status == SetStateStatus.ACCEPT
    reason = getattr(result.details, "reason", None) or ""
    return ResumeResult(accepted, reason)


def wait_for_end(flow_run_id: UUID, timeout: float = 120) -> FlowRun:
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            run = client.read_flow_run(flow_run_id)
            if run.state is not None and run.state.is_final():
                return run
            time.sleep(0.5)
    raise TimeoutError(f"Run {flow_run_id} did not finish in {timeout:.0f}s")
