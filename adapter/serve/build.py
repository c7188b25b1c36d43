"""Builds the adapter from its configuration: store, tenants, WL 2.0 clients, the WL 1.0 service, the routes,
and what is observed of every call (audit record, metrics)."""
from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

import urllib3

from adapter.ops import metrics
from adapter.serve.routes import MUTATIES_PATH, Router
from adapter.ops.audit import AuditSettings, record
from adapter.config import Config
from adapter.contracts import compile_all
from adapter.ops.housekeeping import Housekeeping
from adapter.wl1.ratelimit import RateLimiter
from adapter.mutations.subscriber import Subscriber
from adapter.tenants import Tenants
from adapter.wl2.clients import Wl2Clients
from adapter.wl1.pipeline import Pipeline
from adapter.wl1.service import CALL_KEY, build_wsgi
from adapter.mutations.receiver import MutationReceiver
from adapter.soap.xmlsafe import Limits

log = logging.getLogger("wl_adapter.server")


def _json_route(payload_fn):
    def app(environ, start_response):
        status, payload = payload_fn()
        body = json.dumps(payload).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    return app


class Adapter:
    """Everything one worker needs; ``wsgi`` is the application to serve."""

    def __init__(self, config: Config):
        from adapter.store import Store

        self.config = config
        self.store = Store(config.store.url)
        self.store.migrate()
        self.tenants = Tenants(config.tenants)
        self.upstream = Wl2Clients(config.upstream, policy=config.validation)
        self.subscriber = Subscriber(self.store, self.upstream, self.tenants, config.server.base_url + MUTATIES_PATH)
        self.pipeline = Pipeline(config, self.tenants, self.store, self.upstream, self.subscriber,
                             RateLimiter(config.limits.requests_per_second, config.limits.burst))
        self.housekeeping = Housekeeping(self.store, timedelta(days=config.mutations.retention_days),
                                         config.mutations.purge_interval_s)
        self.receiver = MutationReceiver(self.store, self.tenants, config.upstream.oin,
                                         on_stored=self._on_mutation_stored)
        self.audit = AuditSettings(config.audit.enabled, config.audit.bodies, config.audit.max_body_chars)
        limits = Limits(max_bytes=config.server.max_body_bytes, max_depth=config.server.max_depth)
        self.wsgi = Router(
            build_wsgi(self.pipeline, limits, config.validation),
            config.server.max_body_bytes,
            routes={"/healthz": _json_route(lambda: ("200 OK", {"status": "ok"})),
                    "/readyz": _json_route(self.readiness),
                    "/metrics": metrics.wsgi},
            mutaties=self.receiver,
            observer=self.observe,
        )
        compile_all()

    def after_fork(self) -> None:
        """Each worker opens its own database connections and runs its own subscriber thread."""
        self.store.engine.dispose(close=False)
        self.subscriber.start()
        self.housekeeping.start()

    def observe(self, environ, status: str, request: bytes, response: bytes, started: float,
                correlation_id: str) -> None:
        call = environ.get(CALL_KEY)
        http_status = int(status[:3])
        if call is not None and call.signaalcode is not None:
            metrics.CALLS.labels(call.operation, call.tenant.name if call.tenant else "-", str(call.signaalcode)).inc()
            metrics.LEG_SECONDS.labels("wl1", call.operation).observe(time.monotonic() - started)
            for ex in call.exchanges:
                metrics.LEG_SECONDS.labels("wl2", call.operation).observe(ex.elapsed_s)
        if http_status >= 400:
            metrics.FAULTS.labels("Client" if b"soap:Client" in response else "Server").inc()
        metrics.BREAKER_OPEN.set(0 if self.upstream.breaker.state == "closed" else 1)
        record(self.audit, correlation_id, environ.get("PATH_INFO", ""), http_status, started, request, response, call)

    def _on_mutation_stored(self, tenant_oin: str, stored, mutation) -> None:
        tenant = self.tenants.by_oin(tenant_oin)
        metrics.MUTATIONS_RECEIVED.labels(tenant.name if tenant else tenant_oin, str(stored.created).lower()).inc()

    def readiness(self) -> tuple[str, dict]:
        checks = {"schemas": "ok"}
        try:
            compile_all()
        except Exception as exc:  # noqa: BLE001
            checks["schemas"] = f"error: {exc}"
        try:
            self.store.ping()
            checks["store"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["store"] = f"error: {exc}"
        checks["upstream"] = self._probe_upstream()
        checks["breaker"] = self.upstream.breaker.state
        ready = all(v == "ok" for k, v in checks.items() if k != "breaker")
        return ("200 OK" if ready else "503 Service Unavailable"), {"ready": ready, "checks": checks}

    def _probe_upstream(self) -> str:
        """Does WL 2.0 answer HTTP within 1 s? Any HTTP answer counts: the line and the server are up."""
        client = self.upstream.default()
        try:
            client.http.request("GET", self.config.upstream.url, timeout=1.0, retries=False)
            return "ok"
        except urllib3.exceptions.HTTPError as exc:
            return f"error: {type(exc).__name__}"
