"""Tests whose subject is the whole adapter: independent SOAP clients, a smoke test, and review edge cases that
cross stages."""
