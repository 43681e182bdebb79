"""Fakes of the external systems that are real HTTP servers on loopback, used by the demo and the tests."""
