"""Builds the adapter from its configuration: store, tenants, WL 2.0 clients, the WL 1.0 service, the routes,
and the listeners told of every call and exchange (audit trail, metrics); and the push listener, which needs only
the store, the schools and the push receiver."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

from adapter import __version__
from adapter.config import Config, ValidationPolicy
from adapter.contracts import compile_all
from adapter.errors import TransportError
from adapter.mutations.auth import PushAuthenticator
from adapter.mutations.push import PushListeners
from adapter.mutations.receiver import MutationReceiver
from adapter.mutations.subscriber import Subscriber
from adapter.ops import metrics
from adapter.ops.audit import Audit
from adapter.ops.housekeeping import Housekeeping
from adapter.ops.recording import Recorder
from adapter.serve.routes import PushRouter, Router
from adapter.soap.xmlsafe import Limits
from adapter.tenants import Tenants
from adapter.wl1 import xsitype
from adapter.wl1.call import CallListeners
from adapter.wl1.pipeline import Pipeline
from adapter.wl1.ratelimit import RateLimiter
from adapter.wl1.service import build_wsgi
from adapter.wl2 import reader
from adapter.wl2.clients import Wl2Clients

log = logging.getLogger("wl_adapter.server")


def _breaker_gauge() -> float | None:
    """The breaker gauge as /metrics reports it: with several workers, the highest of them (1 = open somewhere)."""
    text = metrics.render()[0].decode()
    for line in text.splitlines():
        if line.startswith("wl_adapter_breaker_open"):
            try:
                return float(line.rsplit(" ", 1)[1])
            except ValueError:
                return None
    return None


def _policy_summary(policy: ValidationPolicy) -> str:
    """``enforce`` when every leg enforces, else each leg's mode; then each operation's own."""
    default = dict(policy.default)
    modes = set(default.values())
    text = modes.pop() if len(modes) == 1 else ", ".join(f"{leg}={mode}" for leg, mode in default.items())
    for operation, legs in policy.operations:
        text += f"; {operation}: " + ", ".join(f"{leg}={mode}" for leg, mode in legs)
    return text


def _store_kind(url: str) -> str:
    """The store's kind and where it is, without user or password."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite {parsed.database}"
    where = f"{parsed.host or 'localhost'}{f':{parsed.port}' if parsed.port else ''}/{parsed.database or ''}"
    return f"{parsed.get_backend_name()} {where}"


def start_line(config: Config) -> str:
    """The one line the adapter logs when it has started and listens."""
    s = config.server
    host = f"[{s.host}]" if ":" in s.host else s.host
    public = f" (public {s.public_url})" if s.public_url else ""
    return (f"wl-adapter {__version__} started: listening on http://{host}:{s.port}{public}, "
            f"{_concurrency(s)}; store {_store_kind(config.store.url)}; "
            f"{_count(len(config.tenants), 'school')}; validation {_policy_summary(config.validation)}")


def _concurrency(s) -> str:
    if s.worker == "gevent":
        return f"{_count(s.workers, 'gevent worker')} x up to {s.connections} calls"
    return f"{_count(s.workers, 'worker')} x {_count(s.threads, 'thread')}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _json_route(payload_fn):
    def app(environ, start_response):
        status, payload = payload_fn()
        body = json.dumps(payload).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    return app


def xml_limits(config: Config) -> Limits:
    """The configured shape limits of an incoming message ([server] max_*)."""
    s = config.server
    return Limits(max_bytes=s.max_body_bytes, max_depth=s.max_depth, max_elements=s.max_elements,
                  max_attributes=s.max_attributes, max_namespaces=s.max_namespaces, max_name_chars=s.max_name_chars,
                  max_attribute_chars=s.max_attribute_chars, max_text_chars=s.max_text_chars)


class Adapter:
    """Everything one worker needs; ``wsgi`` is the application to serve."""

    def __init__(self, config: Config):
        from adapter.store import Store

        self.config = config
        self.store = Store(config.store.url, mapping_check_s=config.store.mapping_check_s)
        self.store.migrate()
        self.tenants = Tenants(config.tenants)
        self.upstream = Wl2Clients(config.upstream, policy=config.validation)
        self.subscriber = Subscriber(self.store, self.upstream, self.tenants, config.afleveradres)
        self.pipeline = Pipeline(config, self.tenants, self.store, self.upstream, self.subscriber,
                             RateLimiter(config.limits.requests_per_second, config.limits.burst))
        self.housekeeping = Housekeeping(self.store, timedelta(days=config.mutations.retention_days),
                                         config.mutations.purge_interval_s)
        self.receiver = push_receiver(config, self.store, self.tenants, PushAuthenticator(config.pushes))
        self.metrics = metrics.Metrics(config.validation, lambda: self.upstream.breaker.state,
                                       config.server.instance)
        self.upstream.on_exchange.append(self.metrics.exchange_done)
        self.audit = Audit(config.audit)
        self.recorder = Recorder(config.audit.record_dir, config.audit.record_retention_days) \
            if config.audit.record_requests else None
        self.pushes = pushes_state(config)
        announce_pushes(config)
        limits = xml_limits(config)
        self.wsgi = Router(
            build_wsgi(self.pipeline, limits, config.validation),
            config.server.max_body_bytes,
            routes={"/healthz": _json_route(lambda: ("200 OK", {"status": "ok"})),
                    "/readyz": _json_route(self.readiness),
                    "/metrics": metrics.wsgi_app([metrics.StoreCollector(
                        self.store, {t.oin: t.name for t in config.tenants})])},
            mutaties=self.receiver if config.pushes.serve_on_main else None,
            listeners=CallListeners(self.audit.call_done, self.metrics.call_done,
                                    *([self.recorder.call_done] if self.recorder else [])),
            prefixes=self._console(),
            body_timeout_s=config.server.body_timeout_s,
            trim_memory=config.server.malloc_arena_max > 0,
        )
        compile_all()
        xsitype.accepted_types()  # read from the XSD once, before workers fork
        reader.prepare()  # likewise the WL 2.0 reader's tables: else each worker's first call builds them (~0.1 s)
        self.upstream.prepare(config.tenants)  # likewise the WL 2.0 clients (the WSDL, compiled by zeep)
        self.store.prepare()  # and the SQL a call runs, compiled by SQLAlchemy

    def _console(self) -> dict:
        """/console when enabled ([console] in the configuration); else nothing answers there."""
        if not self.config.console.enabled:
            return {}
        from adapter.console.app import PREFIX, Console

        return {PREFIX: Console(self.config, self.store, self.tenants, lambda: self.upstream.breaker.state,
                                self._probe_upstream, _breaker_gauge)}

    def after_fork(self) -> None:
        """Each worker opens its own database connections and runs its own subscriber thread."""
        self.store.engine.dispose(close=False)
        self.subscriber.start()
        self.housekeeping.start()

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
        checks["pushes"] = self.pushes  # informational, like the breaker: says how pushes are authenticated
        ready = all(v == "ok" for k, v in checks.items() if k not in ("breaker", "pushes"))
        return ("200 OK" if ready else "503 Service Unavailable"), {"ready": ready, "checks": checks}

    def _probe_upstream(self) -> str:
        """Does WL 2.0 answer HTTP within 1 s? Any HTTP answer counts: the line and the server are up."""
        client = self.upstream.default()
        try:
            client.http.request("GET", client.target, b"", {}, (1.0, 1.0))
            return "ok"
        except TransportError as exc:
            return f"error: {type(exc).__name__}"


def push_receiver(config: Config, store, tenants: Tenants, authenticator: PushAuthenticator) -> MutationReceiver:
    """The push receiver, its records told to the audit trail and the metrics."""
    listeners = PushListeners(Audit(config.audit).push_done, metrics.Metrics.push_done)
    return MutationReceiver(store, tenants, config.upstream.oin, authenticator, listeners)


def pushes_state(config: Config) -> str:
    """How pushes are authenticated, for /readyz: ``ok: ...``, ``warning: ...`` or ``refused: ...``."""
    p = config.pushes
    if p.way == "listen":
        return f"ok: on their own listener {p.listen} with mutual TLS ({config.afleveradres})"
    if p.way == "trusted_proxies":
        where = "this listener" if p.serve_on_main else "no listener (pushes.on_main_listener = false)"
        return f"ok: on {where}, certificate verified by a proxy in {', '.join(p.trusted_proxies)}"
    if p.way == "allow_unauthenticated":
        return "warning: pushes.allow_unauthenticated: pushes are accepted from anyone (demo and tests only)"
    return "refused: no [pushes] configuration, every push is refused"


def announce_pushes(config: Config) -> None:
    """Say at start how SBB's pushes are authenticated; loudly when they are not, or when all are refused."""
    state = pushes_state(config)
    if state.startswith("ok"):
        log.info("pushes: %s", state.removeprefix("ok: "))
    elif state.startswith("warning"):
        log.warning("pushes: WARNING: %s; never use this in production", state.removeprefix("warning: "))
    else:
        log.warning("pushes: every push to /wl2/mutaties is refused (HTTP 403): there is no [pushes] configuration "
                    "saying how SBB's pushes are authenticated (pushes.listen, pushes.trusted_proxies or "
                    "pushes.allow_unauthenticated; see docs/configuration.md)")


class PushListener:
    """The push listener's application (``[pushes] listen``): POST /wl2/mutaties only, with the sender's
    certificate subject checked on every request. Nothing else runs in its process."""

    def __init__(self, config: Config):
        from adapter.store import Store

        self.store = Store(config.store.url, mapping_check_s=config.store.mapping_check_s)
        self.store.migrate()
        authenticator = PushAuthenticator(config.pushes, tls=True)
        receiver = push_receiver(config, self.store, Tenants(config.tenants), authenticator)
        self.wsgi = PushRouter(receiver, config.server.max_body_bytes, config.server.body_timeout_s)
        compile_all()
        log.info("pushes: listening on %s (mutual TLS, client certificates from %s, subject %s); Afleveradres %s",
                 config.pushes.listen, config.pushes.client_ca, config.pushes.sbb_subject, config.afleveradres)

    def after_fork(self) -> None:
        self.store.engine.dispose(close=False)
