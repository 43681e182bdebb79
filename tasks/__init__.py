"""Prefect tasks: one side effect each, retried only when retrying can help."""
