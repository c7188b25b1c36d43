"""Prometheus metrics of the adapter. With several gunicorn workers, ``PROMETHEUS_MULTIPROC_DIR`` is set by
``wl-adapter serve`` before this module is imported, and /metrics aggregates all workers.

The metrics are listeners: ``Metrics.call_done`` reads each finished WL 1.0 call record, ``exchange_done`` each
WL 2.0 exchange (also the subscriber's), ``mutation_stored`` each stored push. No stage counts anything itself."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

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


if TYPE_CHECKING:
    from adapter.config import ValidationPolicy
    from adapter.wl1.call import Call
    from adapter.wl2.client import Exchange


class Metrics:
    """Turns call records and exchanges into the counters above. ``breaker_state`` reads the circuit's state."""

    def __init__(self, policy: ValidationPolicy, breaker_state: Callable[[], str]):
        self.policy = policy
        self.breaker_state = breaker_state

    def call_done(self, call: Call) -> None:
        if call.operation is not None and call.signaalcode is not None:
            CALLS.labels(call.operation, call.tenant.name if call.tenant else "-", str(call.signaalcode)).inc()
            LEG_SECONDS.labels("wl1", call.operation).observe(call.elapsed_s)
            for ex in call.exchanges:
                LEG_SECONDS.labels("wl2", call.operation).observe(ex.elapsed_s)
        if call.operation is not None:
            for leg, problems in (("wl1_request", call.request_problems), ("wl1_response", call.response_problems)):
                if problems:
                    VALIDATION_FAILURES.labels(leg, call.operation, self.policy.mode(leg, call.operation)).inc()
        if call.rate_limited and call.tenant is not None:
            RATE_LIMITED.labels(call.tenant.name).inc()
        if call.fault:
            FAULTS.labels(call.fault).inc()
        BREAKER_OPEN.set(0 if self.breaker_state() == "closed" else 1)

    def exchange_done(self, ex: Exchange) -> None:
        for kind in ex.failures:
            UPSTREAM_ERRORS.labels(ex.operation, kind).inc()
        for leg, problems in (("wl2_request", ex.request_problems), ("wl2_response", ex.response_problems)):
            if problems:
                VALIDATION_FAILURES.labels(leg, ex.wl1_operation, self.policy.mode(leg, ex.wl1_operation)).inc()

    @staticmethod
    def mutation_stored(school: str, created: bool) -> None:
        MUTATIONS_RECEIVED.labels(school, str(created).lower()).inc()


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
