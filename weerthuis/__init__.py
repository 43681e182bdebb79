"""Weer Thuis! outflow orchestration: the case domain, the case database and the command line."""
