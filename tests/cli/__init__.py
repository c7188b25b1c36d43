"""Tests of adapter/cli/: the wl-adapter commands (audit, demo, validate)."""
