"""With ``server.worker = "gevent"`` a call waiting for WL 2.0 holds a greenlet, not one of a few threads
(``adapter/serve/greenlets.py``): one worker holds many more calls in flight than it has threads.

The upstream here is the simulator behind a holding proxy: each request waits until ``HELD`` requests are inside at
once (or ``GIVE_UP_S`` has passed), then all are forwarded. A worker limited to its 16 threads never gets there, its
calls wait until ``GIVE_UP_S`` and the proxy's peak stays at 16; with greenlets the peak is ``HELD`` and nothing waits.

How two gevent workers share new connections (``Shares``) is tested on a tiny application of two workers
(``SHARING_APP``: it answers with the pid of the worker that served the call), and piece by piece below it.
"""
from __future__ import annotations

import collections
import http.server
import resource
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import requests

from adapter.serve.greenlets import IDLE_S, WAIT_AT_MOST_S, OneWriteGeventWorker, Shares, SharingServer, waiting
from tests.support.servers import serve_app
from tests.support.upstream import COMPANY, geef_details

HELD = 48
GIVE_UP_S = 2.0  # under the adapter's WL 2.0 timeout in the tests (3 s): a call that had to give up is still 0


class HoldingProxy(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # all calls connect at once (the default backlog of 5 would drop SYNs)

    def __init__(self, upstream_url: str):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream_url = upstream_url
        self.inside = 0
        self.peak = 0
        self.cond = threading.Condition()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/wl2"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        server: HoldingProxy = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with server.cond:
            server.inside += 1
            server.peak = max(server.peak, server.inside)
            server.cond.notify_all()
            server.cond.wait_for(lambda: server.inside >= HELD, timeout=GIVE_UP_S)
        try:
            answer = requests.post(server.upstream_url, data=body, timeout=10,
                                   headers={k: v for k, v in self.headers.items() if k.lower() in
                                            ("content-type", "soapaction")})
        finally:
            with server.cond:
                server.inside -= 1
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("Content-Type", "text/xml"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args):
        pass


@pytest.fixture
def holding_proxy(simulator):
    proxy = HoldingProxy(f"{simulator.url}/wl2")
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


def test_one_gevent_worker_holds_more_calls_in_flight_than_threads(holding_proxy, start_adapter):
    adapter = start_adapter(holding_proxy.url, server='worker = "gevent"')  # one worker, threads = 16
    with ThreadPoolExecutor(HELD) as pool:
        results = list(pool.map(lambda _: geef_details(adapter.url), range(HELD)))
    assert holding_proxy.peak == HELD  # all of them waited on WL 2.0 at once
    assert [code for code, _, _ in results] == [0] * HELD
    assert all(f">{COMPANY}<" in r.text for _, _, r in results)


def test_a_gthread_worker_holds_at_most_its_threads(holding_proxy, start_adapter):
    """The contrast, so that the test above cannot pass for another reason (the proxy counting wrongly)."""
    adapter = start_adapter(holding_proxy.url, server='worker = "gthread"')
    with ThreadPoolExecutor(24) as pool:
        codes = [code for code, _, _ in pool.map(lambda _: geef_details(adapter.url), range(24))]
    assert holding_proxy.peak == 16
    assert codes == [0] * 24


SHARING_APP = """
import os, resource, sys, time
from adapter.serve.runner import ServerOptions, run

def app(environ, start_response):
    if environ["PATH_INFO"] == "/cpu":
        until = time.perf_counter() + 0.005
        while time.perf_counter() < until:  # 5 ms of work that lets nothing else in its worker run
            pass
    body = str(resource.getrlimit(resource.RLIMIT_NOFILE)[0] if environ["PATH_INFO"] == "/files" else os.getpid())
    body = body.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))  # a low soft limit
run(lambda: app, ServerOptions(port=int(sys.argv[1]), workers=2, threads=2, worker="gevent"))
"""


@pytest.fixture
def two_workers():
    proc, port = serve_app(SHARING_APP)
    yield port
    proc.terminate()
    proc.wait(10)


def ask(sock: socket.socket, path: str = "/") -> bytes:
    """One request on a kept-alive connection; the answer's body (the pid of the worker that answered)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return answer(sock)


def answer(sock: socket.socket) -> bytes:
    received = b""
    while True:
        head, sep, body = received.partition(b"\r\n\r\n")
        if sep and len(body) >= int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0]):
            return body
        chunk = sock.recv(4096)
        assert chunk, "the connection closed"
        received += chunk


def connect_all(port: int, n: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(n)]


def test_connections_arriving_at_once_are_shared_between_the_workers(two_workers):
    """Each worker keeps its connections for their whole life, so a worker that took most of a burst would serve
    its calls at half speed while the other idles (serve/greenlets.py, ``Shares``)."""
    for _ in range(3):
        conns = connect_all(two_workers, 64)  # all in the listening socket's queue before any is accepted
        try:
            pids = collections.Counter(ask(c) for c in conns)
        finally:
            for c in conns:
                c.close()
        assert len(pids) == 2 and all(28 <= n <= 36 for n in pids.values()), pids
        time.sleep(0.3)  # the workers see these connections closed before the next burst


def test_busy_workers_accept_a_burst_of_connections_at_once(two_workers):
    """A busy gevent worker takes a turn of its hub (every call that is ready) between two looks at the listening
    socket. Accepting one connection per turn (gevent's ``max_accept = 1``), 40 new connections waited 20 turns, a
    turn of every busy call in between; all of them are accepted within a turn or two now."""
    busy_answers = 0
    stop = threading.Event()

    def keep_busy():
        nonlocal busy_answers
        with socket.create_connection(("127.0.0.1", two_workers), timeout=10) as s:
            while not stop.is_set():
                ask(s, "/cpu")
                busy_answers += 1

    threads = [threading.Thread(target=keep_busy) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)  # both workers are at it
        before = busy_answers
        conns = connect_all(two_workers, 40)
        for c in conns:  # all sent before any answer is read
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            for c in conns:
                answer(c)
            during = busy_answers - before
        finally:
            for c in conns:
                c.close()
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    # each busy connection is answered once per turn of its worker: 20 turns each would be ~160 answers
    assert during < 48, during


@pytest.mark.skipif(resource.getrlimit(resource.RLIMIT_NOFILE)[1] < 2 * 1000 + 256, reason="hard limit too low")
def test_a_gevent_server_raises_its_open_file_limit_to_what_its_calls_need(two_workers):
    """Started with a soft limit of 256 files, a worker of 1,000 calls in flight would refuse connections (and fail
    WL 2.0 calls) at ~120: the runner raises the soft limit, within the hard one (serve/runner.py)."""
    with socket.create_connection(("127.0.0.1", two_workers), timeout=10) as s:
        assert int(ask(s, "/files")) >= 2 * 1000 + 256


def test_a_worker_holds_its_share_of_the_open_and_the_waiting_connections():
    shares = Shares(8)
    shares.claim(0)
    shares.claim(1)  # (both slots this process's here; in a server, one worker's each)
    shares.add(0, 10)
    assert shares.over(0, workers=2, waiting=0)  # 10 of 10 open
    assert not shares.over(1, workers=2, waiting=0)
    assert not shares.over(0, workers=2, waiting=20)  # its share of 30 is 15 (+2)
    shares.add(0, -10)
    assert not shares.over(0, workers=2, waiting=0)


def test_the_accept_queue_is_read_from_the_listening_socket():
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        waiting_now = [socket.create_connection(listener.getsockname()) for _ in range(3)]
        try:
            assert waiting(listener) == 3
            listener.accept()[0].close()
            assert waiting(listener) == 2
        finally:
            for c in waiting_now:
                c.close()
    with socket.socket(socket.AF_UNIX) as unix:
        assert waiting(unix) == 0  # unknown: the share is then of the open connections only


def test_a_worker_over_its_share_leaves_new_connections_to_the_others_for_a_while_only(monkeypatch):
    shares = Shares(8)
    shares.claim(0)
    shares.add(0, 10)  # over its share: the other worker holds none
    clock = [100.0]
    monkeypatch.setattr("adapter.serve.greenlets.time.monotonic", lambda: clock[0])
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = SharingServer(listener, shares, 0, 2, handle=lambda *a: None)
        assert server._leave_to_others()
        clock[0] += WAIT_AT_MOST_S / 2
        assert server._leave_to_others()
        clock[0] += WAIT_AT_MOST_S / 2  # the others have not taken them: this worker does
        assert not server._leave_to_others()
        server._left_since = None  # (what do_read does once none are left waiting)
        assert server._leave_to_others()  # the next arrival is left to the others first again


def test_a_stopping_worker_closes_only_connections_idle_with_no_request_in():
    """``_close_idle``, on real sockets: of the kept-alive connections a stopping worker holds, it shuts those that
    have waited ``IDLE_S`` with nothing to read; one whose next request is in (the client sent it after a keep-alive
    answer) is left to be served, and one that had its answer a moment ago gets its moment."""
    pairs = {name: socket.socketpair() for name in ("idle", "request_in", "just_answered", "in_flight")}
    try:
        now = time.monotonic()
        worker = SimpleNamespace(_between={
            pairs["idle"][0]: now - IDLE_S - 0.01,
            pairs["request_in"][0]: now - IDLE_S - 0.01,
            pairs["just_answered"][0]: now,
            pairs["in_flight"][0]: None,  # a call in flight: its answer will say Connection: close
        })
        pairs["request_in"][1].sendall(b"POST /wl1 HTTP/1.1\r\n")
        OneWriteGeventWorker._close_idle(worker)
        for name, (_ours, client) in pairs.items():
            client.settimeout(0.2)
            if name == "idle":
                assert client.recv(1) == b""  # shut: the client sees the connection end
            else:
                with pytest.raises(TimeoutError):  # still open, nothing sent
                    client.recv(1)
    finally:
        for ours, client in pairs.values():
            ours.close()
            client.close()
