"""Prefect flows: the outflow procedure of one case, and (later) reminders, follow-up and the monitor."""
