"""The WL 2.0 clients of one worker: one per TLS client certificate (a school's own, or the adapter's), all
behind one circuit breaker, since they share the one upstream, and all telling the same ``on_exchange`` hooks."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from adapter.config import Tenant, UpstreamConfig, ValidationPolicy
from adapter.wl2.breaker import CircuitBreaker
from adapter.wl2.client import Exchange, Wl2Client


class Wl2Clients:
    def __init__(self, cfg: UpstreamConfig, breaker: CircuitBreaker | None = None,
                 policy: ValidationPolicy = ValidationPolicy()):
        self.cfg = cfg
        self.breaker = breaker or CircuitBreaker(cfg.breaker_failures, cfg.breaker_reset_s)
        self.policy = policy
        self.on_exchange: list[Callable[[Exchange], None]] = []  # shared by every client, also those made later
        self._clients: dict[tuple[str, str] | None, Wl2Client] = {}
        self._lock = threading.Lock()

    def _client(self, cert: tuple[str, str] | None) -> Wl2Client:
        client = self._clients.get(cert)
        if client is None:
            with self._lock:
                client = self._clients.get(cert)
                if client is None:
                    client = self._clients[cert] = Wl2Client(self.cfg, cert, self.breaker, self.policy,
                                                                   self.on_exchange)
        return client

    def prepare(self, tenants: Iterable[Tenant]) -> None:
        """Make every client now, before workers fork, so that no worker's first call waits for it: a client loads
        and compiles the WL 2.0 WSDL (~25 ms, measured: bench/first_calls.py). Its connections are made later, in
        the worker that calls (transport.py forgets a parent's)."""
        self.default()
        for tenant in tenants:
            self.for_tenant(tenant)

    def default(self) -> Wl2Client:
        return self._client((self.cfg.client_cert, self.cfg.client_key) if self.cfg.client_cert else None)

    def for_tenant(self, tenant: Tenant | None) -> Wl2Client:
        if tenant is not None and tenant.client_cert:
            return self._client((tenant.client_cert, tenant.client_key))
        return self.default()
