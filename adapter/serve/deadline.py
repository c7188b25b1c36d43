"""A deadline on reading a request body, whatever the client's pace.

A gthread worker reads a request body on one of its threads with blocking reads and no timeout, and a socket timeout
would not help: it bounds one read, and a client sending a byte every second never lets one read wait that long.
So a client that sends its body slowly holds a thread for as long as it likes, and a few dozen such clients hold all
of them. Here one watchdog thread per worker process shuts the reading side of a connection whose body is not in by
its deadline: the blocked read returns at once, the client gets an answer (HTTP 408) and the thread is free again.
Only the body is covered: the request line and headers are read by gunicorn before the application is called, which
is what a buffering reverse proxy in front is for (docs/operations.md, "Slow clients").
"""
from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time

_IDLE_WAKE_S = 1.0  # how often the watchdog looks when nothing is watched (so a new watch need not wake it)


class Watchdog:
    """``watch(sock, deadline)`` before a blocking read, ``release(token)`` after it; a socket still watched at its
    deadline has its reading side shut down (``SHUT_RD``).

    Cheap on the request path, where every WL 1.0 call passes: two short lock holds, and the watchdog thread is woken
    only when a new deadline comes before the moment it will look anyway, which is rare, since every body gets the
    same timeout and so deadlines arrive in order. (Waking it on every call cost ~5 % of a worker's CPU: py-spy.)"""

    def __init__(self):
        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, socket.socket]] = []
        self._active: set[int] = set()
        self._expired: set[int] = set()
        self._ids = itertools.count()
        self._wake_at = 0.0  # when the watchdog thread looks next (monotonic)
        self._pid = None  # the thread is started lazily in each process: threads do not survive a fork

    def watch(self, sock: socket.socket, deadline: float) -> int:
        with self._cv:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._heap.clear()
                self._active.clear()
                self._wake_at = 0.0
                threading.Thread(target=self._run, name="body-deadline", daemon=True).start()
            token = next(self._ids)
            heapq.heappush(self._heap, (deadline, token, sock))
            self._active.add(token)
            if deadline < self._wake_at:
                self._cv.notify()
            return token

    def release(self, token: int) -> bool:
        """Stop watching; True when the deadline had already passed and the socket was shut."""
        with self._cv:
            self._active.discard(token)
            self._drop_released()  # here, not by the watchdog, which may sleep for a whole timeout
            if token in self._expired:
                self._expired.discard(token)
                return True
            return False

    def _drop_released(self) -> None:
        while self._heap and self._heap[0][1] not in self._active:
            heapq.heappop(self._heap)

    def _run(self) -> None:
        with self._cv:
            while True:
                self._drop_released()
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    _deadline, token, sock = heapq.heappop(self._heap)
                    self._active.discard(token)
                    self._expired.add(token)
                    try:  # under the lock: a socket released a moment ago is never shut
                        # the plain socket's shutdown even for TLS: SSLSocket.shutdown would drop its TLS state and
                        # the 408 answer would leave unencrypted
                        # (through the one-write wrapper of serve/runner.py to the socket itself)
                        socket.socket.shutdown(getattr(sock, "raw", sock), socket.SHUT_RD)
                    except OSError:
                        pass  # already closed
                    continue
                self._wake_at = self._heap[0][0] if self._heap else now + _IDLE_WAKE_S
                self._cv.wait(self._wake_at - now)


WATCHDOG = Watchdog()
