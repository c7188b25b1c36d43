"""Builds the adapter from its configuration: store, tenants, WL 2.0 clients, the WL 1.0 service, the routes."""
from __future__ import annotations

import json
import logging

from adapter.app import MUTATIES_PATH, AdapterApp
from adapter.config import Config
from adapter.tenants import Tenants
from adapter.subscriber import Subscriber
from adapter.upstream import Upstream
from adapter.wl1.facade import Facade
from adapter.wl1.service import build_wsgi
from adapter.wl2.receiver import MutationReceiver
from adapter.xmlsafe import Limits

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
        self.upstream = Upstream(config.upstream)
        self.subscriber = Subscriber(self.store, self.upstream, self.tenants,
                                     config.server.base_url + MUTATIES_PATH)
        self.facade = Facade(config, self.tenants, self.store, self.upstream, self.subscriber)
        self.receiver = MutationReceiver(self.store, self.tenants, config.upstream.oin)
        limits = Limits(max_bytes=config.server.max_body_bytes, max_depth=config.server.max_depth)
        self.wsgi = AdapterApp(
            build_wsgi(self.facade, limits),
            config.server.max_body_bytes,
            routes={"/healthz": _json_route(lambda: ("200 OK", {"status": "ok"}))},
            mutaties=self.receiver,
        )

    def after_fork(self) -> None:
        """Each worker opens its own database connections."""
        self.store.engine.dispose(close=False)
        self.subscriber.start()
