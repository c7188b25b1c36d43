"""The gevent worker: a call waiting for WL 2.0 holds a greenlet instead of one of a few dozen threads.

With threads, a worker holds at most ``threads`` calls in flight: against an upstream that answers in 100 ms that
caps a worker at threads × 10 calls a second, and the calls beyond it queue. CPython threads also cost more than they
hold: 32 of them hand the GIL to one another around every socket operation. A greenlet costs a few kB, so hundreds
of calls wait on WL 2.0 at once, and the Python work of all of them runs on one thread that never waits for the GIL
(docs/figures.md, "Fourth round"; docs/operations.md, "Concurrency").
"""
from __future__ import annotations

import socket
import time
from functools import partial

import gevent
from gevent.pool import Pool
from gevent.server import StreamServer
from gunicorn.sock import ssl_context
from gunicorn.workers.ggevent import GeventWorker

from adapter.serve.runner import _HeldHeader

TURN_S = 1e-6  # a timer, not sleep(0): gevent runs sleep(0)'s callback before it looks at the sockets again
POLL_S = 0.05  # how soon a worker notices it must stop, and how often it looks whether its last calls are done


class OneWriteGeventWorker(GeventWorker):
    """gunicorn's gevent worker, patching only what a call waits on, with each answer in one write (serve/runner.py)
    and a prompt stop.

    Sockets, ssl and sleeps become cooperative. Threads stay real threads (no ``patch_thread``): the few background
    threads (subscriber, body deadline, trimmer, housekeeping) keep running beside the hub, and a large document is
    still parsed on a short-lived real thread so that libxml2's per-thread dictionary goes with it
    (soap/xmlsafe.py). Nothing a call does holds a lock or a database connection across a wait, so greenlets never
    wait for one another on a real lock.

    After each answer the connection goes behind the worker's other connections (``TURN_S``): else a client whose
    next request is already waiting is served again and again while the others wait.

    On stop, gunicorn's gevent worker waits up to ``graceful_timeout`` for every connection, also those only kept
    alive for a next request, and looks once a second: here connections between two requests are closed at once and
    a connection whose call is in flight is closed once that call is answered."""

    def patch(self):
        from gevent import monkey
        from gevent import socket as gsocket

        monkey.patch_socket()
        monkey.patch_ssl()
        monkey.patch_time()
        self.sockets = [gsocket.socket(s.FAMILY, gsocket.SOCK_STREAM, fileno=s.sock.detach())
                        for s in self.sockets]  # type: ignore[has-type]
        self._between: dict[object, bool] = {}  # open connection -> True while it waits for its next request

    def handle(self, listener, client, addr):
        self._between[client] = True
        try:
            super().handle(listener, client, addr)
        finally:
            self._between.pop(client, None)

    def handle_request(self, listener_name, req, sock, addr):
        self._between[sock] = False
        held = _HeldHeader(sock)
        try:
            super().handle_request(listener_name, req, held, addr)
        except StopIteration:  # the answer is complete and the connection closes after it (or was given up)
            held.flush()
            raise
        held.flush()
        self._between[sock] = True
        if not self.alive:  # stopping: no next request on this connection
            raise StopIteration
        # Fair turns: a gevent socket whose next request is already there reads it without yielding, so a quick
        # client kept one greenlet serving request after request while the worker's other connections waited
        # (two workers at 16 clients: p50 0.3 ms, p99 57 ms). Yielding here puts this connection behind the others.
        gevent.sleep(TURN_S)
        return True

    def run(self):
        ssl_args = {"ssl_context": ssl_context(self.cfg)} if self.cfg.is_ssl else {}
        servers = []
        for s in self.sockets:
            s.setblocking(1)
            server = StreamServer(s, handle=partial(self.handle, s), spawn=Pool(self.worker_connections), **ssl_args)
            if self.cfg.workers > 1:
                server.max_accept = 1  # leave the other connections to the other workers
            server.start()
            servers.append(server)
        next_notify = 0.0
        while self.alive:
            if time.monotonic() >= next_notify:
                self.notify()  # the heartbeat the arbiter watches (and a check that the arbiter still lives)
                next_notify = time.monotonic() + 1.0
            gevent.sleep(POLL_S)
        for server in servers:
            server.close()  # no new connections
        for conn, between in list(self._between.items()):
            if between:  # waiting for a next request that will not be served: end it now
                _shut(conn)
        give_up = time.monotonic() + self.cfg.graceful_timeout
        while any(server.pool.free_count() != server.pool.size for server in servers):
            if time.monotonic() >= give_up:
                self.log.warning("Worker graceful timeout (pid:%s)", self.pid)
                for server in servers:
                    server.stop(timeout=1)
                return
            self.notify()
            gevent.sleep(POLL_S)


def _shut(conn) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
