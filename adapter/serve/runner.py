"""Runs a WSGI application under gunicorn (gthread or gevent workers), optionally with TLS and client certificates.

One place for how this project serves HTTP: the adapter and the simulator both come through here.

Each answer leaves in one write: gunicorn sends the header block and the body in two, and a process that dies
between them (an instance killed, or crashing) leaves a load balancer holding an answer's header without its body,
which it can neither pass on whole nor retry elsewhere. With the header held back until the body goes with it,
a dying instance has sent all of an answer or nothing, and nothing is what a load balancer retries on another
instance (docs/deployment.md).

A worker replaced after ``max_requests`` calls is succeeded, not just stopped: its successor accepts before it stops
(``Succession``).
"""
from __future__ import annotations

import gc
import logging
import mmap
import os
import resource
import signal
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker
from gunicorn.workers.gthread import ThreadWorker

from adapter.serve.memory import trim

log = logging.getLogger("wl_adapter.serve")

FILES_SPARE = 256  # files a worker holds besides its calls' sockets: listeners, store, logs, libraries
SUCCESSOR_WAIT_S = 30.0  # a worker that asked for a successor stops by itself after this (no arbiter answered)


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


SERVING, RETIRING = 1, 2  # a worker's state in the succession (0: starting, not yet accepting)


class Succession:
    """Each worker's state (accepting, or asking for a successor), in memory the workers and the arbiter share.

    gunicorn replaces a worker after ``max_requests`` calls by stopping it and then starting another: for the
    moment between, its connections' clients reconnect to the other workers, which hold their share already. At 256
    clients those reconnections waited for the new worker (0.3-0.5 s) and doubled the p99 of every 10-second run
    with a replacement in it (docs/figures.md, fifteenth round). Here the worker asks for a successor instead and
    goes on serving; the arbiter starts the successor, and stops the old worker (``SIGTERM``: a graceful stop) once
    the successor accepts.

    One slot per worker (``slot_for``), as in ``greenlets.Shares``; a state counts only for the pid written beside
    it."""

    def __init__(self, slots: int):
        self.slots = slots
        self._mem = mmap.mmap(-1, 16 * slots)  # anonymous and shared: the workers forked after this see it
        self._pids = memoryview(self._mem).cast("q")[:slots]
        self._states = memoryview(self._mem).cast("q")[slots:]

    def mark(self, slot: int, state: int) -> None:
        """In the worker: its state now."""
        self._pids[slot] = os.getpid()
        self._states[slot] = state

    def state(self, slot: int, pid: int) -> int:
        """In the arbiter: the state of the worker with this slot and pid (0 while it starts)."""
        return self._states[slot] if self._pids[slot] == pid else 0


_SUCCESSIONS: dict[int, Succession] = {}  # per gunicorn configuration, i.e. per arbiter (made before the forks)


def slots(workers: int) -> int:
    """Slots in the memory the workers share: room for every worker, its successor, and more."""
    return max(8, 4 * workers)


def slot_for(worker, live) -> int:
    """In the arbiter, before ``worker`` is forked: the lowest slot no live worker holds. (Chosen by ``age`` modulo
    the slots, as it was, a worker that outlived the slots' number of replacements of the others shared its slot
    with a newer one.)"""
    taken = {getattr(w, "slot", None) for w in live}
    return next((i for i in range(slots(worker.cfg.workers)) if i not in taken), worker.age % slots(worker.cfg.workers))


class Succeeded(Worker):
    """Mixed into a gunicorn worker class (before it): after ``max_requests`` calls it asks for a successor and goes
    on serving until the arbiter stops it (``Succession``). gunicorn's own count is switched off (``max_requests`` =
    ``sys.maxsize``): it would stop the worker at once. The worker class calls ``accepting`` when it begins to
    accept, and ``count_call`` for each request."""

    max_requests: int  # gunicorn's, set in its __init__
    alive: bool

    def __init__(self, age, *args, **kwargs):
        super().__init__(age, *args, **kwargs)  # in the arbiter, before the fork
        self.succession = _SUCCESSIONS.setdefault(id(self.cfg), Succession(slots(self.cfg.workers)))
        self.slot = self.age % self.succession.slots  # the arbiter chooses a free one before the fork (slot_for)
        self.calls_before_successor, self.max_requests = self.max_requests, sys.maxsize
        self.calls = 0
        self.asked_at: float | None = None

    def accepting(self) -> None:
        self.succession.mark(self.slot, SERVING)
        self._wake_arbiter()

    def count_call(self) -> None:
        self.calls += 1
        if self.calls == self.calls_before_successor:
            self.log.info("Asking for a successor after %d calls (max_requests)", self.calls)
            self.asked_at = time.monotonic()
            self.succession.mark(self.slot, RETIRING)
            self._wake_arbiter()
        elif self.asked_at is not None and time.monotonic() - self.asked_at > SUCCESSOR_WAIT_S and self.alive:
            self.log.warning("No successor after %.0f s: stopping anyway", SUCCESSOR_WAIT_S)
            self.alive = False

    def _wake_arbiter(self) -> None:
        """The arbiter looks at its workers when a signal comes, else once a second. SIGCHLD is the one it expects
        from its workers; one from a live worker reaps nothing and has it look at the workers now."""
        try:
            os.kill(self.ppid, signal.SIGCHLD)
        except OSError:
            pass  # the arbiter is gone: the worker notices that itself and stops


class _Arbiter(Arbiter):
    """gunicorn's arbiter, with workers replaced by succession (``Succession``)."""

    def __init__(self, app):
        super().__init__(app)
        self._stopping: set[int] = set()  # retiring workers already told to stop

    def manage_workers(self):
        succession = _SUCCESSIONS.get(id(self.cfg))
        retiring = {pid for pid, w in self.WORKERS.items()
                    if succession is not None and succession.state(w.slot, pid) == RETIRING}
        self._stopping &= retiring
        if succession is None or not retiring:
            return super().manage_workers()
        others = sorted(((pid, w) for pid, w in self.WORKERS.items() if pid not in retiring), key=lambda i: i[1].age)
        for _ in range(self.num_workers - len(others)):  # the successors
            self.spawn_worker()
        for pid, _ in others[:max(0, len(others) - self.num_workers)]:  # fewer workers asked for (SIGTTOU)
            self.kill_worker(pid, signal.SIGTERM)
        if sum(succession.state(w.slot, pid) == SERVING for pid, w in others) >= self.num_workers:
            for pid in retiring - self._stopping:
                self.kill_worker(pid, signal.SIGTERM)
                self._stopping.add(pid)
        return None


class OneWriteWorker(Succeeded, ThreadWorker):
    """gunicorn's gthread worker whose answers each leave in one write (see the module's docstring), and say
    ``Connection: close`` once the worker stops; replaced by succession (``Succession``)."""

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = closing_when_stopping(self, self.wsgi)  # type: ignore[has-type]

    def run(self):
        self.accepting()
        super().run()

    def handle_request(self, req, conn):
        self.count_call()
        one = _Conn(conn)
        keep_alive = super().handle_request(req, one)  # on an error after the header, gunicorn closes: nothing sent
        one.sock.flush()
        return keep_alive


def _before_fork(server, worker) -> None:
    """The worker's slot in the memory the workers share (``slot_for``). And objects made while loading the app are
    never collected: frozen, they stay out of every GC pass (tail latency). What loading freed (the XSDs' parsed
    trees, the compilers' scratch) goes back to the system first, so that no worker starts with it."""
    worker.slot = slot_for(worker, server.WORKERS.values())
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
        settings["pre_fork"] = _before_fork
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

    def run(self):
        try:
            _Arbiter(self).run()
        except RuntimeError as exc:  # as gunicorn's BaseApplication.run: a configuration it refuses
            print(f"\nError: {exc}\n", file=sys.stderr)
            sys.exit(1)


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
