"""An answer leaves the adapter (and the simulator) in one write, header and body together: a process that dies
while answering has sent all of the answer or nothing, and nothing is what nginx retries on another instance.
gunicorn on its own sends the header first, and a load balancer that got only the header can neither pass the
answer on nor retry it (``adapter/serve/runner.py``).

A tiny WSGI application served through the project's runner, in a process of its own, with each kind of worker: its
``/die`` answer kills its worker after gunicorn wrote the header and before the body.
"""
from __future__ import annotations

import http.client
import socket
import subprocess
import threading
import time

import pytest

from tests.support.servers import serve_app

APP = """
import os, signal, sys, time
from adapter.serve.runner import ServerOptions, run

def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/slow":
        time.sleep(1.0)  # a call in flight (with the gevent worker, time.sleep lets the others run)
    if path == "/cpu":
        until = time.perf_counter() + 0.005
        while time.perf_counter() < until:  # 5 ms of work that lets nothing else run
            pass
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
    if path == "/die":
        def body():
            yield b""                              # gunicorn writes its header block here
            os.kill(os.getpid(), signal.SIGKILL)   # the worker dies before the body
            yield b"late"
        return body()
    return [b"fine"]

run(lambda: app, ServerOptions(port=int(sys.argv[1]), workers=1, threads=2, worker=sys.argv[2]))
"""


WORKERS = ["gthread", "gevent"]


def start(worker: str) -> tuple[subprocess.Popen, int]:
    return serve_app(APP, worker)


@pytest.fixture(scope="module", params=WORKERS)
def server(request):
    proc, port = start(request.param)
    yield port
    proc.terminate()
    proc.wait(10)


def raw(port: int, path: str) -> bytes:
    """Everything the server sends for one request until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while chunk := s.recv(65536):
            received += chunk
        return received


def test_a_worker_that_dies_while_answering_has_sent_nothing(server):
    assert raw(server, "/die") == b""  # not "HTTP/1.1 200 OK ... Content-Length: 4" without its body


def test_answers_are_whole_also_on_a_kept_alive_connection_and_without_a_body(server):
    deadline = time.monotonic() + 30
    while True:  # the arbiter replaces the worker the test above killed
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
            first = connection.getresponse() if connection.request("GET", "/fine") is None else None
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert (first.status, first.read()) == (200, b"fine")
    connection.request("GET", "/empty")
    empty = connection.getresponse()
    assert (empty.status, empty.read()) == (204, b"")
    connection.request("GET", "/fine")
    again = connection.getresponse()
    assert (again.status, again.read()) == (200, b"fine")
    connection.close()


@pytest.mark.parametrize("worker", WORKERS)
def test_a_stopping_worker_answers_the_call_in_flight_and_closes_idle_connections(worker):
    proc, port = start(worker)
    try:
        idle = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        idle.request("GET", "/fine")
        assert idle.getresponse().read() == b"fine"  # now kept alive, waiting for a next request
        busy = socket.create_connection(("127.0.0.1", port), timeout=10)
        busy.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)  # the call is in flight
        proc.terminate()
        answer = b""
        while chunk := busy.recv(65536):  # the whole answer, then the connection closes
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"\r\n\r\nfine")
        assert b"\r\nConnection: close\r\n" in answer  # said, so the client sends its next call elsewhere
        # closed by the server rather than left waiting for the keep-alive time (5 s); gunicorn's gthread worker
        # takes a little over 2 s for it, the gevent worker here closes it at once (serve/greenlets.py)
        idle.sock.settimeout(3 if worker == "gevent" else 10)
        assert idle.sock.recv(1) == b""
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_gevent_serves_connections_in_turn_even_when_one_has_its_next_request_waiting():
    """A client that sends its requests back to back (pipelined here; a quick client on loopback comes close) must not
    keep the worker to itself: after each answer its connection goes behind the others (serve/greenlets.py)."""
    proc, port = start("gevent")
    try:
        greedy = socket.create_connection(("127.0.0.1", port), timeout=10)
        greedy.sendall(b"GET /cpu HTTP/1.1\r\nHost: x\r\n\r\n" * 40)  # 40 requests of 5 ms each, all waiting
        time.sleep(0.02)  # the worker is at them
        assert raw(port, "/fine").endswith(b"fine")  # a second client's call, answered ...
        greedy.setblocking(False)
        answered = b""
        try:  # what the greedy connection had got by then
            while chunk := greedy.recv(1 << 20):
                answered += chunk
        except BlockingIOError:
            pass
        # ... long before the greedy connection's 40 were done: it had its turns, one answer each
        assert answered.count(b"HTTP/1.1 200 OK") < 20
    finally:
        proc.terminate()
        proc.wait(10)


RECYCLED = """
import sys, time
from adapter.serve.runner import ServerOptions, run

def app(environ, start_response):
    time.sleep(0.002)  # a call in flight for a moment (with the gevent worker, others run meanwhile)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
    return [b"fine"]

run(lambda: app, ServerOptions(port=int(sys.argv[1]), workers=2, threads=8, worker=sys.argv[2], max_requests=40))
"""


@pytest.mark.parametrize("worker", WORKERS)
def test_a_worker_replaced_after_max_requests_loses_no_call_of_a_kept_alive_client(worker):
    """A worker is replaced after ``max_requests`` calls (the default is 100,000: a memory safety net). Its
    connections must end only where a client knows to open a new one: an answer that says ``Connection: close``,
    or a connection that was idle. Closing a kept-alive connection right after an answer that promised more lost the
    request the client sent on it next (a read error in wrk for each of the worker's connections, every restart)."""
    proc, port = serve_app(RECYCLED, worker)
    failures: list[str] = []
    answered: list[int] = []  # (list.append is atomic across threads; += on an int is not)

    def client() -> None:  # back to back on one kept-alive connection, as wrk and connection pools do
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(100):
            try:
                connection.request("GET", "/")
                response = connection.getresponse()
                assert response.read() == b"fine"
                answered.append(1)
            except (OSError, http.client.HTTPException) as exc:  # http.client reopens only after "close"
                failures.append(repr(exc))
                connection.close()
        connection.close()

    try:
        clients = [threading.Thread(target=client) for _ in range(12)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(120)
        # 1,200 calls through workers replaced every 40: some 30 replacements, each with calls in flight
        assert failures == [] and len(answered) == 1200
    finally:
        proc.terminate()
        proc.wait(10)
