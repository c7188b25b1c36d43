"""Runs a WSGI application under gunicorn (gthread or gevent workers), optionally with TLS and client certificates.

One place for how this project serves HTTP: the adapter and the simulator both come through here.

Each answer leaves in one write: gunicorn sends the header block and the body in two, and a process that dies
between them (an instance killed, or crashing) leaves a load balancer holding an answer's header without its body,
which it can neither pass on whole nor retry elsewhere. With the header held back until the body goes with it,
a dying instance has sent all of an answer or nothing, and nothing is what a load balancer retries on another
instance (docs/deployment.md).
"""
from __future__ import annotations

import gc
import logging
import resource
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from adapter.serve.memory import trim

log = logging.getLogger("wl_adapter.serve")

FILES_SPARE = 256  # files a worker holds besides its calls' sockets: listeners, store, logs, libraries


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
    max_requests_jitter: int = 0
    access_log: bool = False
    name: str = "wl-adapter"  # the process title (ps)
    extra_ports: tuple[int, ...] = ()  # also listen on these ports (same host), e.g. the simulator's admin port
    worker: str = "gthread"  # or "gevent": calls as greenlets, at most ``connections`` in flight per worker
    connections: int = 1000

    @property
    def binds(self) -> list[str]:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return [f"{host}:{port}" for port in (self.port, *self.extra_ports)]


class _HeldHeader:
    """The connection's socket for one answer, except that the first ``sendall`` (gunicorn's header block) is
    held and sent together with the next one (the body, or its first chunk); ``flush`` sends what is still held
    (an answer without a body). Everything else goes to the socket as it is."""

    def __init__(self, sock):
        self._sock = sock
        self.raw = sock  # the socket itself, for what needs a real one (the body deadline's shutdown)
        self._held: bytes | None = None
        self._first = True
        self._dropped = False  # the server gave up on the answer (shut the socket): what is held is never sent

    def shutdown(self, how) -> None:
        self._dropped = True
        self._sock.shutdown(how)

    def close(self) -> None:
        self._dropped = True
        self._sock.close()

    def sendall(self, data) -> None:
        if self._first:
            self._first, self._held = False, bytes(data)
            return
        if not data:  # an empty body item: nothing to send the header with yet
            return
        if self._held is not None:
            data, self._held = self._held + bytes(data), None
        self._sock.sendall(data)

    def flush(self) -> None:
        if self._held is not None and not self._dropped:
            held, self._held = self._held, None
            self._sock.sendall(held)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class _Conn:
    """gunicorn's connection with the held-header socket, for one request."""

    def __init__(self, conn):
        self._conn = conn
        self.sock = _HeldHeader(conn.sock)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def closing_when_stopping(worker, app: Callable) -> Callable:
    """``app`` answering ``Connection: close`` once ``worker`` has begun to stop (a signal, or ``max_requests``
    reached): gunicorn decides that header before the call, so an answer to a call in flight promised keep-alive and
    the connection was closed under the client's next request (lost; a read error in the client)."""
    def app_of_a_worker(environ, start_response):
        result = app(environ, start_response)
        if not worker.alive:
            start_response.__self__.force_close()  # gunicorn's Response: its header is sent after this
        return result
    return app_of_a_worker


class OneWriteWorker(ThreadWorker):
    """gunicorn's gthread worker whose answers each leave in one write (see the module's docstring), and say
    ``Connection: close`` once the worker stops."""

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = closing_when_stopping(self, self.wsgi)  # type: ignore[has-type]

    def handle_request(self, req, conn):
        one = _Conn(conn)
        keep_alive = super().handle_request(req, one)  # on an error after the header, gunicorn closes: nothing sent
        one.sock.flush()
        return keep_alive


def _freeze_before_fork(server, worker) -> None:
    """Objects made while loading the app are never collected: frozen, they stay out of every GC pass (tail latency).
    What loading freed (the XSDs' parsed trees, the compilers' scratch) goes back to the system first, so that no
    worker starts with it."""
    gc.collect()
    trim()
    gc.freeze()


_WORKERS = {"gthread": f"{__name__}.OneWriteWorker", "gevent": "adapter.serve.greenlets.OneWriteGeventWorker"}


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
            "worker_class": _WORKERS[o.worker],
            "worker_connections": o.connections,
            "sendfile": False,  # os.sendfile would pass the held header by; no answer here is a file anyway
            "threads": o.threads,
            "timeout": o.timeout_s,
            "graceful_timeout": 5,
            "keepalive": o.keepalive_s,
            "preload_app": True,
            "max_requests": o.max_requests,
            "max_requests_jitter": o.max_requests_jitter,
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
    enough_files(options)
    _Gunicorn(app_factory, options, post_fork, on_worker, on_ready).run()


def enough_files(options: ServerOptions) -> int:
    """Raise this process's limit of open files (its soft limit, up to the hard one) to what a worker may need: a
    call in flight holds two sockets, its client's and its WL 2.0 connection. A shell's usual 1,024 would stop a
    gevent worker at ~500 calls in flight (``EMFILE``: connections refused, WL 2.0 calls failing). Returns the
    limit now in force; says so in the log when even the hard limit is too low."""
    in_flight = options.connections if options.worker == "gevent" else options.threads
    needed = 2 * in_flight + FILES_SPARE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft != resource.RLIM_INFINITY and soft < needed:
        log.warning("open files are limited to %d per process (hard limit); %d calls in flight per worker need "
                    "about %d: raise the limit (LimitNOFILE, ulimit -n) or lower [server] connections",
                    soft, in_flight, needed)
    return soft
