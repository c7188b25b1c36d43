"""Tests of adapter/mutations/: the mutations bridge (subscribe, push receiver, GeefMutaties, sync)."""
