"""Helpers shared by tests and benchmarks that run real processes (a local Prefect server)."""
