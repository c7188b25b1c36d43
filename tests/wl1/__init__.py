"""Tests of adapter/wl1/: the WL 1.0 face, its pipeline, error answers and rate limiter."""
