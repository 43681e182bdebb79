"""Deliver the side effects a case owes to other systems: one task per operation, keyed by the action.

A task takes only the action's key (case reference, stage, attempt, operation) and reads the payload from the
case database, so no personal data passes through Prefect. An action already done is skipped; the counterpart
also receives the key and honours it, so even a retry after a lost reply has one effect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import Task, task
from prefect.tasks import exponential_backoff

from integrations.ports import CounterpartRefused, TransientFailure
from tasks.retrying import RetryOptions
from weerthuis.bootstrap import App, app


def retry_only_transient(_task: Task[..., Any], _task_run: Any, state: Any) -> bool:
    """Retry timeouts, connection errors, 5xx and 429; never a refusal."""
    try:
        state.result()
    except TransientFailure:
        return True
    except Exception:
        return False
    return False


def _deliver(key: str, call: Callable[[App, dict[str, Any], str], str]) -> None:
    """Perform the action once; keep the counterpart's receipt (its id of what was made) to read its answer by."""
    application = app()
    casework = application.casework
    if key not in casework.pending_actions(key.split(":", 1)[0]):
        return
    _system, _operation, payload = casework.action(key)
    try:
        receipt = call(application, payload, key)
    except CounterpartRefused as exc:
        casework.action_failed(key, str(exc))
        casework.action_refused(key, str(exc))
        raise
    except Exception as exc:
        casework.action_failed(key, str(exc) if isinstance(exc, TransientFailure) else f"{type(exc).__name__}: {exc}")
        raise
    casework.action_done(key, receipt)


RETRIES = RetryOptions(
    retries=4,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_only_transient,
)


@task(task_run_name="register_case {key}", **RETRIES)
def register_case(key: str) -> None:
    _deliver(key, lambda a, body, k: a.municipality.register_case(body, idempotency_key=k))


@task(task_run_name="set_status {key}", **RETRIES)
def set_status(key: str) -> None:
    _deliver(key, lambda a, body, k: a.municipality.set_status(body, idempotency_key=k))


@task(task_run_name="submit_nomination {key}", **RETRIES)
def submit_nomination(key: str) -> None:
    _deliver(key, lambda a, body, k: a.corporation.submit_nomination(body, idempotency_key=k))


@task(task_run_name="register_lease {key}", **RETRIES)
def register_lease(key: str) -> None:
    _deliver(key, lambda a, body, k: a.corporation.register_lease(body, idempotency_key=k))


@task(task_run_name="send_for_signing {key}", **RETRIES)
def send_for_signing(key: str) -> None:
    _deliver(key, lambda a, body, k: a.esign.send_for_signing(body, idempotency_key=k))


@task(task_run_name="request_support {key}", **RETRIES)
def request_support(key: str) -> None:
    _deliver(key, lambda a, body, k: a.care_provider.request_support(body, idempotency_key=k))


ACTION_TASKS: dict[str, Task[[str], None]] = {
    "register_case": register_case,
    "set_status": set_status,
    "submit_nomination": submit_nomination,
    "register_lease": register_lease,
    "send_for_signing": send_for_signing,
    "request_support": request_support,
}


def deliver_pending_actions(reference: str) -> bool:
    """Deliver, in order, everything the case still owes; tells whether all went.

    An action that fails for good — refused, or the counterpart still away after every retry — is marked refused
    and stops the rest: the flow then asks a coordinator what to do, instead of failing the run.
    """
    casework = app().casework
    for key in casework.pending_actions(reference):
        operation = key.rsplit(":", 1)[1]
        state = ACTION_TASKS[operation](key, return_state=True)
        if state.is_failed():
            casework.action_refused(key, casework.action_error(key) or str(state.message))
            return False
    return True
