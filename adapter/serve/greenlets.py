"""The gevent worker: a call waiting for WL 2.0 holds a greenlet instead of one of a few dozen threads.

With threads, a worker holds at most ``threads`` calls in flight: against an upstream that answers in 100 ms that
caps a worker at threads × 10 calls a second, and the calls beyond it queue. CPython threads also cost more than they
hold: 32 of them hand the GIL to one another around every socket operation. A greenlet costs a few kB, so hundreds
of calls wait on WL 2.0 at once, and the Python work of all of them runs on one thread that never waits for the GIL
(docs/figures.md, "Fourth round"; docs/operations.md, "Concurrency").
"""
from __future__ import annotations

import mmap
import os
import select
import socket
import struct
import time
from functools import partial
from typing import Any

import gevent
from gevent.pool import Pool
from gevent.server import StreamServer
from gunicorn.sock import ssl_context
from gunicorn.workers.ggevent import GeventWorker

from adapter.serve.runner import Succeeded, _HeldHeader, closing_when_stopping, slots

TURN_S = 1e-6  # a timer, not sleep(0): gevent runs sleep(0)'s callback before it looks at the sockets again
POLL_S = 0.05  # how soon a worker notices it must stop, and how often it looks whether its last calls are done
SLACK = 2  # a worker accepts while it holds fewer than its share of the open connections + this many
RECHECK_S = 0.002  # a worker over its share looks again this soon (the others may have accepted meanwhile) ...
WAIT_AT_MOST_S = 0.5  # ... and accepts anyway once it has left new connections to the others this long
IDLE_S = 0.1  # a stopping worker closes a kept-alive connection once it has waited this long with no request in


class Shares:
    """Each gevent worker's count of open connections, in memory the workers share, so that a worker can leave new
    connections to the others when it holds its share.

    The workers share one listening socket, and every worker's hub wakes when a connection arrives. Accepting one
    connection per turn of the hub (gevent's ``max_accept = 1``) was slow: a turn of a busy hub runs every call that
    is ready, ~0.1 s at 128 calls, and 256 clients connecting at once waited up to 2 s to be accepted (goal C at 256
    clients: p99 2.5 s against a p50 of 0.28 s). Accepting all that wait is prompt, but the worker that wakes first
    takes most of them (200 of 256, or all 64 of a burst to idle workers): its calls then wait twice as long for the
    CPU for as long as the connections live. So in one turn a worker accepts up to its share of the open connections
    and of those waiting in the listening socket's queue (``SLACK`` more), and leaves the rest to the others; a worker
    that stays busy cannot keep them waiting longer than ``WAIT_AT_MOST_S``.

    One slot per worker, chosen by the arbiter (``runner.slot_for``) and written only by the worker whose pid is in
    it. A count left by a worker that died only raises the total, which lets the others accept more, never less.
    """

    def __init__(self, slots: int):
        self.slots = slots
        self._mem = mmap.mmap(-1, 16 * slots)  # anonymous and shared: the workers forked after this see it
        self._pids = memoryview(self._mem).cast("q")[:slots]
        self._counts = memoryview(self._mem).cast("q")[slots:]

    def claim(self, slot: int) -> None:
        """In the worker, before it accepts anything."""
        self._pids[slot] = os.getpid()
        self._counts[slot] = 0

    def add(self, slot: int, n: int) -> None:
        if self._pids[slot] == os.getpid():  # else a newer worker has this slot (this one is on its way out)
            self._counts[slot] += n

    def over(self, slot: int, workers: int, waiting: int) -> bool:
        """True when this worker holds its share (and the slack) of the open and the ``waiting`` connections."""
        return self._counts[slot] >= (sum(self._counts) + waiting) / workers + SLACK


def waiting(listener) -> int:
    """Connections in a listening socket's accept queue: Linux reports it in TCP_INFO's ``tcpi_unacked`` for a
    listening socket. 0 where that is not known (a Unix socket, another system): the share is then of the open
    connections only, and a burst is accepted over a few more turns."""
    try:
        info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 32)
    except (OSError, AttributeError):
        return 0
    return struct.unpack_from("I", info, 24)[0] if len(info) >= 28 else 0


_SHARES: dict[int, Shares] = {}  # per gunicorn configuration, i.e. per arbiter (made in the arbiter, before fork)


class SharingServer(StreamServer):
    """gevent's StreamServer that accepts every waiting connection in one turn, up to this worker's share."""

    max_accept = 1000

    def __init__(self, listener, shares: Shares, slot: int, workers: int, **kwargs):
        super().__init__(listener, **kwargs)
        self.shares, self.slot, self.workers = shares, slot, workers
        self._recheck: Any = None
        self._left_since: float | None = None

    def do_read(self):
        if self._leave_to_others():
            self.stop_accepting()  # else the waiting connections wake this hub again at once
            self._recheck = self.loop.timer(RECHECK_S)
            self._recheck.start(self._look_again)
            return None  # gevent's accept loop ends here
        accepted = super().do_read()
        if accepted:  # counted now: its greenlet only starts after this turn's other accepts
            self.shares.add(self.slot, 1)
        else:  # none left waiting: the next one to arrive is left to the others again first
            self._left_since = None
        return accepted

    def do_close(self, *args):
        self.shares.add(self.slot, -1)
        super().do_close(*args)

    def _leave_to_others(self) -> bool:
        if not self.shares.over(self.slot, self.workers, waiting(self.socket)):
            self._left_since = None
            return False
        now = time.monotonic()
        if self._left_since is None:
            self._left_since = now
        return now - self._left_since < WAIT_AT_MOST_S  # after that the others have not taken them: this one does

    def _look_again(self) -> None:
        self._recheck.close()
        self._recheck = None
        self._start_accepting_if_started()

    def close(self) -> None:
        if self._recheck is not None:
            self._recheck.close()
            self._recheck = None
        super().close()


class OneWriteGeventWorker(Succeeded, GeventWorker):
    """gunicorn's gevent worker, patching only what a call waits on, with each answer in one write (serve/runner.py)
    and a prompt stop.

    Sockets, ssl and sleeps become cooperative. Threads stay real threads (no ``patch_thread``): the few background
    threads (subscriber, body deadline, trimmer, housekeeping) keep running beside the hub, and a large document is
    still parsed on a short-lived real thread so that libxml2's per-thread dictionary goes with it
    (soap/xmlsafe.py). Nothing a call does holds a lock or a database connection across a wait, so greenlets never
    wait for one another on a real lock.

    After each answer the connection goes behind the worker's other connections (``TURN_S``): else a client whose
    next request is already waiting is served again and again while the others wait. New connections are accepted
    all at once, each worker taking its share (``Shares``).

    On stop (also when replaced after ``max_requests`` calls, once its successor accepts: ``runner.Succession``),
    gunicorn's gevent worker waits up to ``graceful_timeout`` for every connection, also those only kept alive for a
    next request, and looks once a second. Here a call in flight is answered with ``Connection: close``
    (``closing_when_stopping``), a next request already sent on a kept-alive connection is answered the same way,
    and a connection that has waited ``IDLE_S`` with no request in is closed: the stop takes a fraction of a second,
    and no client loses a request it was told it could send. A worker being succeeded leaves its idle connections
    to their next request or the keep-alive time instead (``run``): its successor serves meanwhile."""

    def __init__(self, age, *args, **kwargs):
        super().__init__(age, *args, **kwargs)  # in the arbiter: the shares are made here, before the fork
        self._shares = _SHARES.setdefault(id(self.cfg), Shares(slots(self.cfg.workers)))

    def patch(self):
        from gevent import monkey
        from gevent import socket as gsocket

        monkey.patch_socket()
        monkey.patch_ssl()
        monkey.patch_time()
        self.sockets = [gsocket.socket(s.FAMILY, gsocket.SOCK_STREAM, fileno=s.sock.detach())
                        for s in self.sockets]  # type: ignore[has-type]
        self._between: dict[Any, float | None] = {}  # open connection -> since when it waits for a next request

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = closing_when_stopping(self, self.wsgi)  # type: ignore[has-type]

    def handle(self, listener, client, addr):
        self._between[client] = time.monotonic()
        try:
            super().handle(listener, client, addr)
        finally:
            self._between.pop(client, None)

    def handle_request(self, listener_name, req, sock, addr):
        self.count_call()
        self._between[sock] = None
        held = _HeldHeader(sock)
        try:
            super().handle_request(listener_name, req, held, addr)
        except StopIteration:  # the answer is complete and the connection closes after it (or was given up)
            held.flush()
            raise
        held.flush()
        self._between[sock] = time.monotonic()  # the answer said keep-alive: a next request is read and answered
        # Fair turns: a gevent socket whose next request is already there reads it without yielding, so a quick
        # client kept one greenlet serving request after request while the worker's other connections waited
        # (two workers at 16 clients: p50 0.3 ms, p99 57 ms). Yielding here puts this connection behind the others.
        gevent.sleep(TURN_S)
        return True

    def run(self):
        ssl_args = {"ssl_context": ssl_context(self.cfg)} if self.cfg.is_ssl else {}
        servers = []
        self._shares.claim(self.slot)
        for s in self.sockets:
            s.setblocking(1)
            server = SharingServer(s, self._shares, self.slot, self.cfg.workers, handle=partial(self.handle, s),
                                   spawn=Pool(self.worker_connections), **ssl_args)
            server.start()
            servers.append(server)
        self.accepting()
        next_notify = 0.0
        while self.alive:
            if time.monotonic() >= next_notify:
                self.notify()  # the heartbeat the arbiter watches (and a check that the arbiter still lives)
                next_notify = time.monotonic() + 1.0
            gevent.sleep(POLL_S)
        for server in servers:
            server.close()  # no new connections
        # A worker whose successor serves already (runner.Succession) need not hurry: it leaves each kept-alive
        # connection to end as any does, answered with ``Connection: close`` at its client's next request or
        # closed at the keep-alive time. Closing those idle for IDLE_S raced with clients that were themselves held
        # up for that long (a busy or preempted host): wrk at 256 clients, stopped for 0.25 s every 0.4 s, lost
        # 23-87 requests in four of five runs with replacements (read errors), and none with this.
        succeeded = self.asked_at is not None
        give_up = time.monotonic() + self.cfg.graceful_timeout + (self.cfg.keepalive if succeeded else 0)
        while any(server.pool.free_count() != server.pool.size for server in servers):
            if time.monotonic() >= give_up:
                self.log.warning("Worker graceful timeout (pid:%s)", self.pid)
                for server in servers:
                    server.stop(timeout=1)
                return
            if not succeeded:
                self._close_idle()
            self.notify()
            gevent.sleep(POLL_S)

    def _close_idle(self) -> None:
        """Close the kept-alive connections that have waited ``IDLE_S`` for a next request and have none in. One
        that had its answer a moment ago may be sending its next request now; one whose request is in is served."""
        now = time.monotonic()
        idle = [conn for conn, since in list(self._between.items()) if since is not None and now - since >= IDLE_S]
        if not idle:
            return
        poll = select.poll()  # the standard library's (gevent patches neither it nor select here): it never waits
        for conn in idle:
            poll.register(conn.fileno(), select.POLLIN)
        arrived = {fd for fd, _ in poll.poll(0)}
        for conn in idle:
            if conn.fileno() not in arrived and not (hasattr(conn, "pending") and conn.pending()):
                _shut(conn)


def _shut(conn) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
