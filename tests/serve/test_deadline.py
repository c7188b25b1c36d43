"""The body deadline's watchdog (adapter/serve/deadline.py) on real sockets: a read still blocked at its deadline
returns, a released socket is never touched, and an earlier deadline is kept even while a later one is watched."""
from __future__ import annotations

import socket
import threading
import time

from adapter.serve.deadline import Watchdog


def _blocked_read(sock: socket.socket, out: list) -> threading.Thread:
    def read():
        started = time.monotonic()
        out.append((sock.recv(10), time.monotonic() - started))
    thread = threading.Thread(target=read)
    thread.start()
    return thread


def test_a_read_blocked_at_its_deadline_returns():
    dog = Watchdog()
    a, b = socket.socketpair()
    with a, b:
        token = dog.watch(a, time.monotonic() + 0.3)
        out: list = []
        _blocked_read(a, out).join(5)
        assert out and out[0][0] == b"" and 0.2 < out[0][1] < 2.0
        assert dog.release(token) is True


def test_a_released_socket_is_never_shut():
    dog = Watchdog()
    a, b = socket.socketpair()
    with a, b:
        assert dog.release(dog.watch(a, time.monotonic() + 0.1)) is False
        time.sleep(0.4)
        b.sendall(b"still here")
        assert a.recv(10) == b"still here"


def test_an_earlier_deadline_is_kept_while_a_later_one_is_watched():
    dog = Watchdog()
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    with a, b, c, d:
        late = dog.watch(a, time.monotonic() + 30)
        time.sleep(0.2)  # the watchdog now sleeps until the late deadline
        early = dog.watch(c, time.monotonic() + 0.2)
        out: list = []
        _blocked_read(c, out).join(5)
        assert out and out[0][0] == b"" and out[0][1] < 2.0
        assert dog.release(early) is True
        assert dog.release(late) is False
