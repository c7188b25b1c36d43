"""Tests of adapter/wl2/: the WL 2.0 client: retries, timeouts, the circuit breaker, mutual TLS."""
