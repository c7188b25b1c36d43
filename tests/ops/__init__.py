"""Tests of adapter/ops/ (and its configuration): validation policy, audit, metrics, health, retention."""
