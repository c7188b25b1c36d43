"""The WL 2.0 leg's HTTP client (adapter/wl2/transport.py) against a scripted server on loopback.

The server reads each request and answers it with the bytes the test gives (or closes, or drips), and counts its
connections, so the tests see what the client reuses. Answers the adapter's own tests never get from the simulator
are here: chunked bodies, an interim 100 Continue, a body ended by closing, Connection: close, a garbled status line,
a connection closed while idle or halfway, an answer too large or too slow; and mutual TLS with generated
certificates.
"""
from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Callable

import pytest

from adapter.errors import (
    AnswerTooLarge,
    ConnectError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TlsError,
)
from adapter.wl2.transport import Upstream
from tests.support.servers import free_port, python
from tests.support.tls import make_pki

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 5\r\n\r\nhello"
TIMEOUT = (2.0, 2.0)


def _read_request(conn: socket.socket) -> bytes | None:
    """One request (head and Content-Length body), or None when the client closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


class Scripted:
    """A server whose every answer is ``answer(conn, request)``; it may write, close or sleep."""

    def __init__(self, answer: Callable[[socket.socket, bytes], None], tls: ssl.SSLContext | None = None):
        self.answer = answer
        self.tls = tls
        self.connections = 0
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            while (request := _read_request(conn)) is not None:
                self.requests.append(request)
                self.answer(conn, request)
        except OSError:
            pass
        finally:
            conn.close()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/wl2?x=1"

    def stop(self) -> None:
        self.stopping = True
        self.listener.close()


@pytest.fixture
def serve():
    started: list[Scripted] = []

    def start(answer, tls=None) -> Scripted:
        started.append(Scripted(answer, tls))
        return started[-1]
    yield start
    for server in started:
        server.stop()


def reply(data: bytes, close: bool = False):
    def answer(conn, request):
        conn.sendall(data)
        if close:
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()
    return answer


def post(upstream: Upstream, body: bytes = b"<x/>", timeout=TIMEOUT):
    return upstream.request("POST", "/wl2?x=1", body, {"Content-Type": "text/xml", "SOAPAction": '"a"'}, timeout)


def test_request_bytes_and_keep_alive_reuse(serve):
    server = serve(reply(OK))
    upstream = Upstream(server.url())
    for _ in range(3):
        r = post(upstream)
        assert (r.status_code, r.content, r.headers["content-type"]) == (200, b"hello", "text/xml")
    assert server.connections == 1
    assert server.requests[0] == (
        f"POST /wl2?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAccept-Encoding: identity\r\n"
        "Content-Type: text/xml\r\nSOAPAction: \"a\"\r\nContent-Length: 4\r\n\r\n<x/>").encode()


def test_a_connection_the_upstream_closed_while_idle_is_not_used(serve):
    server = serve(reply(OK, close=True))  # answers with a length, then closes
    upstream = Upstream(server.url())
    for _ in range(3):
        assert post(upstream).content == b"hello"
        time.sleep(0.05)  # the close arrives while the connection is idle
    assert server.connections == 3


def test_connection_close_answer_is_not_pooled(serve):
    server = serve(reply(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"))
    upstream = Upstream(server.url())
    assert post(upstream).content == b"ok"
    assert not upstream.idle


def test_chunked_interim_and_close_delimited_answers(serve):
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\nContent-Length: 3\r\n\r\nbad"
    for answer, expected, pooled in ((reply(chunked), (200, b"abcde"), True),
                                     (reply(interim), (500, b"bad"), True),
                                     (reply(b"HTTP/1.0 200 OK\r\n\r\nuntil-close", close=True),
                                      (200, b"until-close"), False)):
        upstream = Upstream(serve(answer).url())
        r = post(upstream)
        assert (r.status_code, r.content) == expected
        assert bool(upstream.idle) is pooled


def test_a_get_has_no_body_and_no_length(serve):
    server = serve(reply(OK))
    Upstream(server.url()).request("GET", "/wl2", b"", {}, TIMEOUT)
    assert server.requests[0].startswith(b"GET /wl2 HTTP/1.1\r\n")
    assert b"content-length" not in server.requests[0].lower()


@pytest.mark.parametrize("answer, error", [
    (reply(b"<html>not http</html>", close=True), RemoteProtocolError),
    (reply(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", close=True), ReadError),
    (reply(b"", close=True), ReadError),
])
def test_broken_answers(serve, answer, error):
    upstream = Upstream(serve(answer).url())
    with pytest.raises(error):
        post(upstream)
    assert not upstream.idle


def test_too_large_announced_or_streamed(serve):
    big = 10_000
    announced = Upstream(serve(reply(b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\nabc")).url(),
                         max_response_bytes=big)
    with pytest.raises(AnswerTooLarge, match="announced an answer of 20000 bytes"):
        post(announced)
    streamed = Upstream(serve(reply(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 50_000, close=True)).url(),
                        max_response_bytes=big)
    with pytest.raises(AnswerTooLarge, match="larger than 10000 bytes"):
        post(streamed)
    assert not announced.idle and not streamed.idle


def test_a_dripping_answer_ends_at_the_attempts_time(serve):
    def drip(conn, request):
        for byte in OK:
            conn.sendall(bytes([byte]))
            time.sleep(0.1)
    upstream = Upstream(serve(drip).url())
    started = time.monotonic()
    with pytest.raises(ReadTimeout, match="within 0.5 s"):
        post(upstream, timeout=(1.0, 0.5))
    assert 0.45 <= time.monotonic() - started < 0.9


def test_refused_connection():
    with pytest.raises(ConnectError, match="refused"):
        post(Upstream(f"http://127.0.0.1:{free_port()}/wl2"))


def test_a_forked_process_does_not_use_its_parents_connections(serve):
    server = serve(reply(OK))
    upstream = Upstream(server.url())
    post(upstream)
    assert len(upstream.idle) == 1
    pid = os.fork()
    if pid == 0:
        os._exit(0 if not upstream.idle else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert len(upstream.idle) == 1  # the parent keeps its own


def test_mutual_tls_reuses_the_connection_and_refuses_strangers(serve, tmp_path):
    pki = make_pki(tmp_path / "pki")
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=pki.ca)
    server_side.load_cert_chain(*pki.server.pair)
    server_side.verify_mode = ssl.CERT_REQUIRED
    server = serve(reply(OK), tls=server_side)
    upstream = Upstream(server.url("https"), cert=pki.client.pair, ca=pki.ca)
    assert post(upstream).content == b"hello"
    assert post(upstream).content == b"hello"
    assert server.connections == 1
    with pytest.raises((TlsError, ReadError)):  # no client certificate: refused in or right after the handshake
        post(Upstream(server.url("https"), ca=pki.ca))
    with pytest.raises(TlsError, match="CERTIFICATE_VERIFY_FAILED"):  # the system's CAs do not know ours
        post(Upstream(server.url("https"), cert=pki.client.pair))
    with pytest.raises(TlsError, match="No such file"):
        post(Upstream(server.url("https"), cert=(str(tmp_path / "missing.pem"), pki.client.key), ca=pki.ca))


_GEVENT = """
from gevent import monkey
monkey.patch_socket(); monkey.patch_ssl(); monkey.patch_time()  # as the adapter's gevent worker does
import sys, threading
from adapter.wl2.transport import Upstream

upstream = Upstream(sys.argv[1])

def post():
    return upstream.request("POST", "/wl2", b"<x/>", {"Content-Type": "text/xml"}, (2.0, 2.0)).status_code

in_thread = []
thread = threading.Thread(target=lambda: in_thread.append(post()))  # e.g. the subscriber, a real thread
thread.start(); thread.join()
print(in_thread[0], post(), post(), len(upstream.idle_by_loop), sum(map(len, upstream.idle_by_loop.values())))
"""


def test_with_gevent_each_thread_reuses_only_the_connections_its_own_loop_made(serve):
    """A gevent socket belongs to the hub of the thread that made it; used from another thread it raises "Cannot
    switch to a different thread". A worker's background thread and its request greenlets keep separate pools."""
    server = serve(reply(OK))
    done = python(_GEVENT, f"http://127.0.0.1:{server.port}/wl2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", "200", "200", "2", "2"]  # two loops, one idle connection each
    assert server.connections == 2  # the main loop's second call reused its own


_GEVENT_BURST = """
from gevent import monkey
monkey.patch_socket(); monkey.patch_ssl(); monkey.patch_time()
import sys, gevent
from adapter.config import UpstreamConfig
from adapter.wl2.transport import Upstream

upstream = Upstream(sys.argv[1], pool_size=UpstreamConfig().pool_size)  # the default
def burst():
    calls = [gevent.spawn(upstream.request, "POST", "/wl2", b"<x/>", {}, (5.0, 5.0)) for _ in range(200)]
    gevent.joinall(calls, raise_error=True)
burst()
print(len(upstream.idle))
burst()
"""


def test_a_gevent_worker_keeps_a_connection_for_each_call_it_had_in_flight(serve):
    """A gevent worker has hundreds of calls in flight against a slow upstream. With fewer idle connections kept
    than that, every round of calls opened (and closed) new ones to WL 2.0: with 128 calls in flight per worker and
    64 kept, half of all calls paid a TCP connect, and p99 at 256 clients went from 1.6-1.9× p50 to 2.3-3.1×."""
    def slow(conn, request):
        time.sleep(0.3)  # all 200 are in flight at once
        conn.sendall(OK)

    server = serve(slow)
    done = python(_GEVENT_BURST, f"http://127.0.0.1:{server.port}/wl2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200"]
    assert server.connections == 200  # the second burst made no new connection
