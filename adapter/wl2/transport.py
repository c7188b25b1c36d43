"""The WL 2.0 leg's HTTP: a keep-alive POST to one upstream, over TCP or (mutual) TLS, bounded in time and size.

Why not urllib3 (used here until the third round of issue 10): the WL 2.0 leg needs one shape of request to one
origin, and urllib3 with http.client under it cost ~310 µs of CPU per POST on the bench machine, half of it
http.client reading the header lines through the ``email`` package; the byte pass-through the adapter is measured
against pays the same, so it was the largest cost the adapter could still shed. Here a request is one ``sendall``
of bytes made from a template, and the answer is parsed by ``httptools`` (MagicStack's binding of llhttp, the
parser of Node.js, which uvicorn uses): ~40 µs per POST in all (bench/profile_calls.py, docs/figures.md). What a
hand-written client gets wrong is the parsing, and that is llhttp's: chunked bodies, lengths, keep-alive, 1xx.

The answer is bounded twice: in size (``max_response_bytes``: refused as soon as Content-Length announces more or
the body read passes it) and in time (every read, status line and headers included, may only wait for what is left
of the attempt's time, so an upstream dripping a byte every half second cannot hold a call longer than that).
Failures are the ``TransportError`` tree of adapter/errors.py, each with the ``kind`` the metrics count.

Idle connections are kept per upstream and event loop (at most ``pool_size``, newest reused first; with gevent a
socket belongs to the thread whose hub made it, so a worker's request greenlets and its subscriber thread keep
their own), and are dropped when the upstream has closed them (readable while idle) or when a process forks (a
gunicorn worker never shares its parent's sockets). A connection is never reused after an answer that was not
read to its end.

zeep's own transport is kept only to load the WSDL and XSDs, which come from the package and nowhere else.
"""
from __future__ import annotations

import collections
import os
import select
import socket
import ssl
import threading
import time
import weakref
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools
import zeep

from adapter.errors import (
    AnswerTooLarge,
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TlsError,
)

_CHUNK = 64 * 1024


@dataclass
class Response:
    status_code: int
    content: bytes
    headers: dict[str, str]  # lower-case names (a repeated header: its last value)


class _Answer:
    """httptools' callbacks for one answer: headers, body parts and whether the message is complete. Nothing is
    raised in a callback (httptools would wrap it); the caller checks sizes after each feed."""

    __slots__ = ("headers", "parts", "size", "headers_done", "complete", "final_status", "keep_alive", "_parser")

    def __init__(self):
        self.headers: dict[str, str] = {}
        self.parts: list[bytes] = []
        self.size = 0
        self.headers_done = self.complete = self.keep_alive = False
        self.final_status = 0
        self._parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.parts.append(body)
        self.size += len(body)

    def on_message_complete(self) -> None:
        parser = self._parser
        assert parser is not None  # only called while the parser is being fed
        status = parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows on the same connection
            self.headers, self.parts, self.size, self.headers_done = {}, [], 0, False
            return
        self.final_status = status
        self.keep_alive = parser.should_keep_alive()  # asked now: llhttp forgets it once the message is over
        self.complete = True

    def ends_at_close(self) -> bool:
        """A body without a length that the upstream ends by closing the connection (HTTP/1.0 style)."""
        return (self.headers_done and "content-length" not in self.headers
                and "chunked" not in self.headers.get("transfer-encoding", "").lower())


_upstreams: weakref.WeakSet = weakref.WeakSet()


def _forget_idle_after_fork() -> None:
    for upstream in list(_upstreams):
        upstream.idle_by_loop.clear()  # the parent's sockets: closing them here would not close the parent's


os.register_at_fork(after_in_child=_forget_idle_after_fork)


class Upstream:
    """One WL 2.0 origin (scheme, host, port) with its idle keep-alive connections and, for https, its TLS
    context: the system's CAs or ``ca``, and the client certificate when there is one (mutual TLS)."""

    def __init__(self, url: str, *, cert: tuple[str, str] | None = None, ca: str = "", pool_size: int = 64,
                 max_response_bytes: int = 16 * 1024 * 1024):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.https = parts.scheme == "https"
        self.host_header = parts.netloc.rpartition("@")[2]
        self.cert, self.ca = cert, ca
        self.pool_size = pool_size
        self.max_response_bytes = max_response_bytes
        # idle connections, one deque per event loop: a gevent socket belongs to the thread whose hub made it
        # (serve/greenlets.py); with plain sockets every thread shares deque 0. append and pop are atomic.
        self.idle_by_loop: dict[int, collections.deque[socket.socket]] = {}
        self._tls: ssl.SSLContext | None = None
        self._tls_lock = threading.Lock()
        _upstreams.add(self)

    # -- requests ---------------------------------------------------------------------------------------------------
    def head(self, method: str, target: str, headers: dict[str, str], length: int | None) -> bytes:
        """The request line and headers (``Accept-Encoding: identity``: the answer is never compressed)."""
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host_header}", "Accept-Encoding: identity"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def request(self, method: str, target: str, body: bytes, headers: dict[str, str],
                timeout: tuple[float, float]) -> Response:
        """One request: connected within ``timeout[0]``, and the whole answer read within ``timeout[1]`` of the
        start. Raises a ``TransportError``."""
        connect, read = timeout
        deadline = time.monotonic() + read
        data = self.head(method, target, headers, len(body) if body or method == "POST" else None) + body
        idle = self.idle
        sock = self._idle_connection(idle) or self._connect(connect)
        reusable = False
        try:
            response, reusable = self._exchange(sock, data, deadline, read)
        finally:
            if reusable and len(idle) < self.pool_size:
                idle.append(sock)
            else:
                sock.close()
        return response

    def _exchange(self, sock: socket.socket, data: bytes, deadline: float, read: float) -> tuple[Response, bool]:
        answer = _Answer()
        parser = answer._parser
        try:
            _wait(sock, deadline)
            sock.sendall(data)
            while not answer.complete:
                _wait(sock, deadline)
                chunk = sock.recv(_CHUNK)
                if not chunk:
                    if answer.ends_at_close():
                        answer.final_status = parser.get_status_code()
                        break
                    raise ReadError("the connection was closed before the answer was complete")
                parser.feed_data(chunk)
                self._check_size(answer)
            reusable = answer.complete and answer.keep_alive
        except TimeoutError:
            raise ReadTimeout(f"the answer was not complete within {read:g} s") from None
        except ssl.SSLError as exc:  # also a client certificate refused after a TLS 1.3 handshake
            raise TlsError(str(exc)) from None
        except httptools.HttpParserError as exc:
            raise RemoteProtocolError(f"not an HTTP answer: {exc}") from None
        except OSError as exc:
            raise ReadError(f"{type(exc).__name__}: {exc}") from None
        finally:
            answer._parser = None  # the parser holds the answer's callbacks: a cycle only a full collection frees
        return Response(answer.final_status, b"".join(answer.parts), answer.headers), reusable

    def _check_size(self, answer: _Answer) -> None:
        limit = self.max_response_bytes
        declared = answer.headers.get("content-length", "") if answer.headers_done else ""
        if declared.isdigit() and int(declared) > limit:
            raise AnswerTooLarge(f"WL 2.0 announced an answer of {declared} bytes, the limit is {limit}")
        if answer.size > limit:
            raise AnswerTooLarge(f"WL 2.0 answer larger than {limit} bytes")

    # -- connections ------------------------------------------------------------------------------------------------
    @property
    def idle(self) -> collections.deque[socket.socket]:
        """This event loop's idle connections."""
        loop = threading.get_ident() if socket.socket.__module__.startswith("gevent") else 0
        idle = self.idle_by_loop.get(loop)
        if idle is None:
            idle = self.idle_by_loop.setdefault(loop, collections.deque())
        return idle

    @staticmethod
    def _idle_connection(idle: collections.deque[socket.socket]) -> socket.socket | None:
        """The newest idle connection the upstream has not closed: readable while idle means closed (or sending
        what nobody asked for); either way it cannot carry a request."""
        while True:
            try:
                sock = idle.pop()
            except IndexError:
                return None
            if not _readable_now(sock):
                return sock
            sock.close()

    def _connect(self, timeout: float) -> socket.socket:
        where = f"{self.host}:{self.port}"
        try:
            sock = socket.create_connection((self.host, self.port), timeout=max(timeout, 0.001))
        except TimeoutError:
            raise ConnectTimeout(f"connecting to {where} took more than {timeout:g} s") from None
        except OSError as exc:  # refused, unreachable, a name that does not resolve
            raise ConnectError(f"cannot connect to {where}: {exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.https:
            return sock
        try:
            return self._tls_context().wrap_socket(sock, server_hostname=self.host)  # the handshake, in time
        except TimeoutError:
            sock.close()
            raise ConnectTimeout(f"the TLS handshake with {where} took more than {timeout:g} s") from None
        except (ssl.SSLError, OSError) as exc:
            sock.close()
            raise TlsError(f"TLS with {where}: {exc}") from None

    def _tls_context(self) -> ssl.SSLContext:
        """Made at the first connection, not before: a certificate file that cannot be read fails that call
        (998, named in the audit trail), as a refused handshake does, rather than a worker's start."""
        if self._tls is None:
            with self._tls_lock:
                if self._tls is None:
                    context = ssl.create_default_context(cafile=self.ca or None)
                    if self.cert:
                        context.load_cert_chain(*self.cert)
                    self._tls = context
        return self._tls

    def close(self) -> None:
        for idle in list(self.idle_by_loop.values()):
            while idle:
                idle.pop().close()


def _wait(sock: socket.socket, deadline: float) -> None:
    """The next send or receive may wait only for what is left of the attempt's time."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    sock.settimeout(remaining)


def _readable_now(sock: socket.socket) -> bool:
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class PackagedOnly(zeep.Transport):
    """zeep's transport, only for loading the WSDL and XSDs: they come from the package, never the network."""

    def load(self, url):
        if "://" in url and not url.startswith("file://"):
            raise ValueError(f"refusing to fetch {url}: contracts are loaded from the package only")
        return super().load(url)
