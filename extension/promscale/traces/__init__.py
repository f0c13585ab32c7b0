"""Trace storage helpers that run inside PostgreSQL (PL/Python)."""
