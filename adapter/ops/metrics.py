"""Prometheus metrics of the adapter. With several gunicorn workers, ``PROMETHEUS_MULTIPROC_DIR`` is set by
``wl-adapter serve`` before this module is imported, and /metrics aggregates all workers.

The metrics are listeners: ``Metrics.call_done`` reads each finished WL 1.0 call record, ``exchange_done`` each
WL 2.0 exchange (also the subscriber's), ``push_done`` each push record (stored, or refused: the sender was not
authenticated as SBB). No stage counts anything itself.

Figures about the store (mutations waiting for a school) are not kept in any process: ``StoreCollector`` reads them
from the store when /metrics is scraped, so every worker and every instance gives the same true answer and there is
no per-process value to aggregate wrongly.
"""
from __future__ import annotations

import logging
import os
import platform
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from importlib import metadata
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from adapter import __version__

log = logging.getLogger("wl_adapter.metrics")

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

CALLS = Counter("wl_adapter_calls_total", "WL 1.0 calls answered",
                ["operation", "school", "signaalcode", "soap_version"])
FAULTS = Counter("wl_adapter_faults_total", "WL 1.0 calls answered with a SOAP fault", ["faultcode"])
LEG_SECONDS = Histogram("wl_adapter_leg_seconds", "Time per leg of a call", ["leg", "operation"], buckets=BUCKETS)
VALIDATION_FAILURES = Counter("wl_adapter_validation_failures_total",
                              "Messages that violate their XSD", ["leg", "operation", "mode"])
UPSTREAM_ERRORS = Counter("wl_adapter_upstream_errors_total", "WL 2.0 calls that failed", ["operation", "kind"])
# per instance (host:port or [server] instance_name): several instances behind a load balancer each have their
# own breaker, and "one instance cannot reach SBB" must be told from "none can"; with several workers, the highest
BREAKER_OPEN = Gauge("wl_adapter_breaker_open", "1 when the circuit to WL 2.0 is open (or half open)", ["instance"],
                     multiprocess_mode="max")
BUILD_INFO = Gauge("wl_adapter_build_info", "Always 1; the labels say which adapter and libraries are running",
                   ["version", "python", "spyne", "zeep"], multiprocess_mode="max")
MUTATIONS_RECEIVED = Counter("wl_adapter_mutations_received_total", "Pushed mutations stored", ["school", "new"])
PUSHES_REFUSED = Counter("wl_adapter_pushes_refused_total",
                         "Pushes refused (HTTP 403): the sender was not authenticated as SBB")
RATE_LIMITED = Counter("wl_adapter_rate_limited_total", "Calls refused by the per-school rate limit", ["school"])


if TYPE_CHECKING:
    from adapter.config import ValidationPolicy
    from adapter.mutations.push import Push
    from adapter.wl1.call import Call
    from adapter.wl2.client import Exchange


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def build_labels() -> dict[str, str]:
    """What ``wl_adapter_build_info`` says: the adapter's version and those of the libraries that shape its
    answers (spyne the WL 1.0 face, zeep the WL 2.0 client)."""
    return {"version": __version__, "python": platform.python_version(), "spyne": _version("spyne"),
            "zeep": _version("zeep")}


class _Children(dict):
    """A metric's labelled children, found once per set of label values: ``labels()`` checks and locks on every
    call (measured: 4-5 % of a worker's CPU for the three series every call touches). The label values are
    operations, schools, signaalcodes and SOAP versions: a bounded set."""

    def __init__(self, metric):
        super().__init__()
        self.metric = metric

    def __missing__(self, values: tuple):
        child = self[values] = self.metric.labels(*values)
        return child


_CALLS, _LEG_SECONDS = _Children(CALLS), _Children(LEG_SECONDS)


class Metrics:
    """Turns call records and exchanges into the counters above. ``breaker_state`` reads the circuit's state;
    ``instance`` names this adapter instance in ``wl_adapter_breaker_open``."""

    def __init__(self, policy: ValidationPolicy, breaker_state: Callable[[], str], instance: str = "-"):
        self.policy = policy
        self.breaker_state = breaker_state
        self.breaker_open = BREAKER_OPEN.labels(instance)
        self._breaker_shown = 0
        self.breaker_open.set(0)  # the series exists from the start, not only after the first call
        BUILD_INFO.labels(**build_labels()).set(1)

    def call_done(self, call: Call) -> None:
        if call.operation is not None and call.signaalcode is not None:
            _CALLS[call.operation, call.tenant.name if call.tenant else "-", str(call.signaalcode),
                   call.soap_version].inc()
            _LEG_SECONDS["wl1", call.operation].observe(call.elapsed_s)
            for ex in call.exchanges:
                _LEG_SECONDS["wl2", call.operation].observe(ex.elapsed_s)
        if call.operation is not None:
            for leg, problems in (("wl1_request", call.request_problems), ("wl1_response", call.response_problems)):
                if problems:
                    VALIDATION_FAILURES.labels(leg, call.operation, self.policy.mode(leg, call.operation)).inc()
        if call.rate_limited and call.tenant is not None:
            RATE_LIMITED.labels(call.tenant.name).inc()
        if call.fault:
            FAULTS.labels(call.fault).inc()
        shown = 0 if self.breaker_state() == "closed" else 1
        if shown != self._breaker_shown:  # written when it changes (with several workers, a write to a shared file)
            self.breaker_open.set(shown)
            self._breaker_shown = shown

    def exchange_done(self, ex: Exchange) -> None:
        for kind in ex.failures:
            UPSTREAM_ERRORS.labels(ex.operation, kind).inc()
        for leg, problems in (("wl2_request", ex.request_problems), ("wl2_response", ex.response_problems)):
            if problems:
                VALIDATION_FAILURES.labels(leg, ex.wl1_operation, self.policy.mode(leg, ex.wl1_operation)).inc()

    @staticmethod
    def push_done(push: Push) -> None:
        if push.refused is not None:
            PUSHES_REFUSED.inc()
        elif push.created is not None:
            school = push.tenant.name if push.tenant is not None else "-"
            MUTATIONS_RECEIVED.labels(school, str(push.created).lower()).inc()


class StoreCollector:
    """``wl_adapter_mutations_undelivered{school}`` and ``wl_adapter_mutations_undelivered_oldest_age_seconds``,
    read from the store at scrape time. Every configured school gets a series (0 when nothing waits), so an alert
    can tell "nothing waiting" from "not measured"; a store that does not answer gives no series (and a log line)."""

    def __init__(self, store, schools: dict[str, str], clock: Callable[[], datetime] | None = None):
        self.store = store
        self.schools = schools  # OIN -> the name used as the school label
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def collect(self) -> Iterable:
        try:
            waiting = {u.tenant_oin: u for u in self.store.undelivered()}
        except Exception as exc:  # noqa: BLE001 - a scrape must still show the other metrics
            log.warning("store unreadable for metrics: %s", exc)
            return []
        count = GaugeMetricFamily("wl_adapter_mutations_undelivered",
                                  "Mutations stored for a school and not yet fetched with GeefMutaties",
                                  labels=["school"])
        age = GaugeMetricFamily("wl_adapter_mutations_undelivered_oldest_age_seconds",
                                "Age of the oldest mutation a school has not fetched (0 when none waits)",
                                labels=["school"])
        now = self.clock()
        for oin in sorted(set(self.schools) | set(waiting)):
            name = self.schools.get(oin, oin)
            u = waiting.get(oin)
            count.add_metric([name], u.count if u else 0)
            age.add_metric([name], max(0.0, (now - u.oldest_received_at).total_seconds()) if u else 0.0)
        return [count, age]


def render(extra: Iterable = ()) -> tuple[bytes, str]:
    """The exposition text: the process (or all workers') metrics, then those of the ``extra`` collectors."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    body = generate_latest(registry)
    extra = list(extra)
    if extra:
        scrape_time = CollectorRegistry(auto_describe=False)  # not collected at registration: no query until asked
        for collector in extra:
            scrape_time.register(collector)
        body += generate_latest(scrape_time)
    return body, CONTENT_TYPE_LATEST


def wsgi_app(extra: Iterable = ()):
    """The /metrics endpoint; ``extra`` collectors are asked on every scrape."""
    extra = list(extra)

    def app(environ, start_response):
        body, content_type = render(extra)
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]
    return app


wsgi = wsgi_app()
