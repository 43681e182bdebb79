"""The retry options tasks share, typed so that `@task(**options)` is checked like written-out arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict


class RetryOptions(TypedDict, total=False):
    retries: int
    retry_delay_seconds: float | list[float] | Callable[[int], list[float]]
    retry_jitter_factor: float
    retry_condition_fn: Any  # Prefect's (task, task run, state) → bool
