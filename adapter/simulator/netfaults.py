"""Network faults acted out on the connection itself: a refused port, a reset connection, an answer that never
comes, an answer that drips in one byte at a time.

These cannot be expressed as an HTTP answer, so the simulator reaches below WSGI: gunicorn hands the client socket
to the application (``environ["gunicorn.socket"]``) and, through its ``post_worker_init`` hook, the worker with its
listening sockets and poller. The simulator runs one gunicorn worker (its state lives in that process's memory),
so that worker owns every connection.

A socket that gunicorn still holds is never closed under it: its file descriptor is pointed at a harmless stand-in
with ``dup2``, which drops the real socket (and, with SO_LINGER 0, sends the RST) while gunicorn's own clean-up
acts on the stand-in.
"""
from __future__ import annotations

import errno
import logging
import os
import select
import socket
import struct
import threading
import time
from typing import Any

log = logging.getLogger(__name__)

DRIP_INTERVAL_S = 0.5  # slow_body: one byte per interval
HANG_MAX_S = 60.0  # hang: give up after this long unless duration_ms says otherwise (so test runs end)
HTTP503_BODY = (b"<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1>"
                b"<p>The server is temporarily unable to service your request (simulated: scenario http503).</p>"
                b"</body></html>\n")
HTML_TYPE = "text/html; charset=utf-8"


class ConnectionDropped(OSError):
    """Raised to the server after the connection was reset on purpose: gunicorn treats ECONNRESET as the client's
    doing and only logs it at debug level."""

    def __init__(self):
        super().__init__(errno.ECONNRESET, "connection reset by the simulator (scenario)")


def _stand_in(family: int) -> socket.socket:
    return socket.socket(family, socket.SOCK_STREAM)


def reset(environ: dict) -> None:
    """Abort the client's connection with a TCP RST (SO_LINGER 0), then tell the server it is gone."""
    sock = environ.get("gunicorn.socket")
    if sock is None:
        raise RuntimeError("a connection-level fault needs the simulator served by `wl-adapter simulate`")
    fd = sock.fileno()
    if fd >= 0:
        # a plain handle on the same socket (also when gunicorn wrapped it in TLS); options hold for the socket
        with socket.socket(fileno=os.dup(fd)) as raw:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            family = raw.family
        stand_in = _stand_in(family)
        os.dup2(stand_in.fileno(), fd)  # the last reference to the real socket goes: RST
        stand_in.close()
    raise ConnectionDropped()


def client_gone(environ: dict, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the client to close (or send anything: a client waiting for an answer
    sends nothing more, so any event on its socket means it gave up)."""
    sock = environ.get("gunicorn.socket")
    if sock is None or sock.fileno() < 0:
        time.sleep(timeout)
        return False
    try:
        readable, _, failed = select.select([sock.fileno()], [], [sock.fileno()], timeout)
    except (OSError, ValueError):
        return True
    return bool(readable or failed)


class ServerSockets:
    """The worker's listening socket for the SOAP port, to stop accepting connections (``refuse``) and start again.

    Refusing shuts the listening socket down (new connections get RST: "connection refused"), and puts a quiet
    stand-in listener under its file descriptor so gunicorn's poller and clean-up keep working. Reopening binds a
    new listening socket to the same address and puts it under that descriptor again.
    """

    def __init__(self, soap_port: int):
        self.soap_port = soap_port
        self.worker: Any = None  # gunicorn's worker (its poller, sockets, method queue)
        self._listener: Any = None  # gunicorn's listening socket for the SOAP port
        self._address: Any = None
        self._lock = threading.Lock()
        self.refusing = False

    def attach(self, worker) -> None:
        """gunicorn's post_worker_init: remember the worker and the SOAP port's listener."""
        self.worker = worker
        for listener in getattr(worker, "sockets", []):
            try:
                address = listener.getsockname()
            except OSError:
                continue
            if isinstance(address, tuple) and address[1] == self.soap_port:
                self._listener, self._address = listener, address

    @property
    def attached(self) -> bool:
        return self._listener is not None and getattr(self.worker, "poller", None) is not None

    @property
    def stopping(self) -> bool:
        """The server is shutting down: hanging and dripping answers end."""
        return self.worker is not None and not getattr(self.worker, "alive", True)

    def refuse(self) -> None:
        with self._lock:
            if self.refusing:
                return
            self._on_main_thread(self._refuse)
            self.refusing = True

    def reopen(self) -> None:
        with self._lock:
            if not self.refusing:
                return
            self._on_main_thread(self._reopen)
            self.refusing = False

    def _on_main_thread(self, action) -> None:
        """Run ``action`` where gunicorn's event loop runs (its method queue, where there is one), and wait."""
        queue = getattr(self.worker, "method_queue", None)
        if queue is None or not hasattr(queue, "defer"):
            action()
            return
        done = threading.Event()
        failure: list[BaseException] = []

        def run():
            try:
                action()
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                failure.append(exc)
            finally:
                done.set()

        queue.defer(run)
        if not done.wait(5):
            raise RuntimeError("the server's event loop did not run the socket change within 5 s")
        if failure:
            raise failure[0]

    def _swap(self, replacement: socket.socket) -> None:
        """Put ``replacement`` under the listener's file descriptor, keeping the poller's registration."""
        poller, listener = self.worker.poller, self._listener
        try:
            key = poller.get_key(listener)
        except (KeyError, ValueError):
            key = None  # not accepting just now (connection limit): gunicorn registers it again later
        if key is not None:
            poller.unregister(listener)
        os.dup2(replacement.fileno(), listener.fileno())
        replacement.close()
        if key is not None:
            poller.register(listener, key.events, key.data)

    def _refuse(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)  # the socket itself: also the master process's copy
        stand_in = socket.socket(self._listener.family, socket.SOCK_STREAM)
        stand_in.bind((self._address[0], 0))
        stand_in.listen(1)  # never connected to: never readable
        stand_in.setblocking(False)
        self._swap(stand_in)
        log.warning("scenario refuse: port %s no longer accepts connections", self.soap_port)

    def _reopen(self) -> None:
        fresh = socket.socket(self._listener.family, socket.SOCK_STREAM)
        fresh.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        fresh.bind(self._address)
        fresh.listen(getattr(getattr(self.worker, "cfg", None), "backlog", 2048))
        fresh.setblocking(False)
        self._swap(fresh)
        log.warning("scenario refuse ended: port %s accepts connections again", self.soap_port)
