"""Prometheus metrics of the adapter. With several gunicorn workers, ``PROMETHEUS_MULTIPROC_DIR`` is set by
``wl-adapter serve`` before this module is imported, and /metrics aggregates all workers."""
from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

CALLS = Counter("wl_adapter_calls_total", "WL 1.0 calls answered", ["operation", "school", "signaalcode"])
FAULTS = Counter("wl_adapter_faults_total", "WL 1.0 calls answered with a SOAP fault", ["faultcode"])
LEG_SECONDS = Histogram("wl_adapter_leg_seconds", "Time per leg of a call", ["leg", "operation"], buckets=BUCKETS)
VALIDATION_FAILURES = Counter("wl_adapter_validation_failures_total",
                              "Messages that violate their XSD", ["leg", "operation", "mode"])
UPSTREAM_ERRORS = Counter("wl_adapter_upstream_errors_total", "WL 2.0 calls that failed", ["operation", "kind"])
BREAKER_OPEN = Gauge("wl_adapter_breaker_open", "1 when the circuit to WL 2.0 is open (or half open)",
                     multiprocess_mode="max")
MUTATIONS_RECEIVED = Counter("wl_adapter_mutations_received_total", "Pushed mutations stored", ["school", "new"])
RATE_LIMITED = Counter("wl_adapter_rate_limited_total", "Calls refused by the per-school rate limit", ["school"])


def render() -> tuple[bytes, str]:
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def wsgi(environ, start_response):
    body, content_type = render()
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
