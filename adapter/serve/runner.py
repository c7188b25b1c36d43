"""Runs a WSGI application under gunicorn (gthread workers), optionally with TLS and client certificates.

One place for how this project serves HTTP: the adapter and the simulator both come through here.
"""
from __future__ import annotations

import gc
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from gunicorn.app.base import BaseApplication


@dataclass
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    threads: int = 32
    timeout_s: int = 60
    keepalive_s: int = 5
    certfile: str | None = None
    keyfile: str | None = None
    client_ca: str | None = None  # when set, clients must present a certificate signed by this CA
    max_requests: int = 0
    access_log: bool = False
    name: str = "wl-adapter"  # the process title (ps)
    extra_ports: tuple[int, ...] = ()  # also listen on these ports (same host), e.g. the simulator's admin port

    @property
    def binds(self) -> list[str]:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return [f"{host}:{port}" for port in (self.port, *self.extra_ports)]


def _freeze_before_fork(server, worker) -> None:
    """Objects made while loading the app are never collected: frozen, they stay out of every GC pass (tail latency)."""
    gc.collect()
    gc.freeze()


class _Gunicorn(BaseApplication):
    def __init__(self, app_factory: Callable[[], Callable], options: ServerOptions,
                 post_fork: Callable[[], None] | None = None, on_worker: Callable[[object], None] | None = None,
                 on_ready: Callable[[], None] | None = None):
        self._factory = app_factory
        self._opts = options
        self._post_fork = post_fork
        self._on_worker = on_worker
        self._on_ready = on_ready
        self._app: Callable | None = None
        super().__init__()

    def load_config(self):
        o = self._opts
        settings = {
            "bind": o.binds,
            "workers": o.workers,
            "worker_class": "gthread",
            "threads": o.threads,
            "timeout": o.timeout_s,
            "graceful_timeout": 5,
            "keepalive": o.keepalive_s,
            "preload_app": True,
            "max_requests": o.max_requests,
            "accesslog": "-" if o.access_log else None,
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": o.name,
        }
        if o.certfile:
            settings.update(certfile=o.certfile, keyfile=o.keyfile)
            if o.client_ca:
                settings.update(ca_certs=o.client_ca, cert_reqs=ssl.CERT_REQUIRED)
        settings["pre_fork"] = _freeze_before_fork
        if self._post_fork:
            settings["post_fork"] = lambda server, worker: self._post_fork()
        if self._on_worker:
            settings["post_worker_init"] = lambda worker: self._on_worker(worker)
        if self._on_ready:  # the sockets are bound: the server has started
            settings["when_ready"] = lambda server: self._on_ready()
        for key, value in settings.items():
            if value is not None:
                self.cfg.set(key, value)

    def load(self):
        if self._app is None:
            self._app = self._factory()
        return self._app


def run(app_factory: Callable[[], Callable], options: ServerOptions,
        post_fork: Callable[[], None] | None = None, on_worker: Callable[[object], None] | None = None,
        on_ready: Callable[[], None] | None = None) -> None:
    """Serve until stopped (SIGTERM/SIGINT). ``app_factory`` runs once, before workers fork; ``on_worker`` gets each
    gunicorn worker once it is initialised (the simulator's network faults need its sockets); ``on_ready`` runs
    once the listening sockets are bound."""
    _Gunicorn(app_factory, options, post_fork, on_worker, on_ready).run()
