"""Ports to external systems (one Protocol each), their fakes, and the errors a task may retry."""
