"""The reference for bench/compare.py: a byte pass-through proxy under the adapter's gunicorn settings.

Why it exists: issue 10 sets the adapter's goals as ratios against the cheapest thing that could stand in its place,
a proxy that reads the request body, POSTs the bytes upstream over a pooled keep-alive connection (urllib3, one pool
per worker process, as many connections as threads) and returns the answer's bytes. It runs under gunicorn with the
settings adapter/serve/runner.py gives the adapter (gthread workers, keep-alive 5 s, preloaded app, ``gc.collect();
gc.freeze()`` before forking), so what differs between the two is the work per call.

Each worker accepts on a listening socket of its own (``SO_REUSEPORT``: the kernel spreads new connections over
them), so that the proxy's 2 x 32 threads can all be busy. On one shared socket, gthread workers race to accept, and
at 64 clients one worker held 58-63 of the 64 connections in three of four runs (counted with ``ss``): half of them
waited for a thread, and the proxy managed ~300 req/s with a 100 ms upstream, half of what its threads allow (issue
10 names 560-608 req/s). The adapter's gevent workers share their connections out themselves (serve/greenlets.py).

Usage: python bench/passthrough.py --port 8092 --upstream http://127.0.0.1:8091/wl2 [--workers 2] [--threads 32]
"""
from __future__ import annotations

import argparse
import gc
import os
import socket
import threading
from urllib.parse import urlsplit

import urllib3
from gunicorn.app.base import BaseApplication

_UPSTREAM = urlsplit(os.environ.get("PASSTHROUGH_UPSTREAM", "http://127.0.0.1:8091/wl2"))
_POOL_SIZE = int(os.environ.get("PASSTHROUGH_POOL", "32"))
_pool: urllib3.HTTPConnectionPool | None = None
_pool_pid = 0
_lock = threading.Lock()


def _upstream() -> urllib3.HTTPConnectionPool:
    """One keep-alive pool per worker process (made after the fork, never shared across it)."""
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        with _lock:
            if _pool is None or _pool_pid != os.getpid():
                _pool = urllib3.HTTPConnectionPool(_UPSTREAM.hostname, _UPSTREAM.port or 80, maxsize=_POOL_SIZE,
                                                   block=True, timeout=urllib3.Timeout(connect=3.0, read=30.0))
                _pool_pid = os.getpid()
    return _pool


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    headers = {"Content-Type": environ.get("CONTENT_TYPE") or "text/xml; charset=utf-8"}
    if "HTTP_SOAPACTION" in environ:
        headers["SOAPAction"] = environ["HTTP_SOAPACTION"]
    try:
        r = _upstream().urlopen("POST", _UPSTREAM.path or "/", body=body, headers=headers, retries=False,
                                preload_content=True)
    except urllib3.exceptions.HTTPError as exc:
        data = f"pass-through: upstream failed: {type(exc).__name__}".encode()
        start_response("502 Bad Gateway", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
        return [data]
    data = r.data
    start_response(f"{r.status} {r.reason or 'OK'}", [
        ("Content-Type", r.headers.get("Content-Type", "text/xml; charset=utf-8")),
        ("Content-Length", str(len(data)))])
    return [data]


def _freeze_before_fork(server, worker) -> None:
    gc.collect()
    gc.freeze()


_LISTEN = ("127.0.0.1", 8092)


def _own_listener(worker) -> None:
    """Replace the worker's share of the master's socket (bound to a port nobody uses) by a socket of its own on the
    real port, SO_REUSEPORT: the kernel spreads connections over the workers' sockets by their addresses."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as gunicorn sets it (accepted sockets inherit it)
    sock.bind(_LISTEN)
    sock.listen(2048)
    worker.sockets = [sock]  # gthread accepts, polls and closes it as it does gunicorn's own


class _Gunicorn(BaseApplication):
    """The settings of adapter/serve/runner.py (without TLS), for a like-for-like comparison."""

    def __init__(self, host: str, port: int, workers: int, threads: int):
        self._settings = {
            "bind": f"{host}:0",  # the master's socket takes no connections: each worker listens on its own
            "post_worker_init": _own_listener,
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "timeout": 60,
            "graceful_timeout": 5,
            "keepalive": 5,
            "preload_app": True,
            "max_requests": 0,
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": "wl-bench-passthrough",
            "pre_fork": _freeze_before_fork,
        }
        super().__init__()

    def load_config(self):
        for key, value in self._settings.items():
            self.cfg.set(key, value)

    def load(self):
        return app


def main() -> int:
    global _UPSTREAM, _POOL_SIZE, _LISTEN
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8092)
    ap.add_argument("--upstream", required=True, metavar="URL")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=32)
    args = ap.parse_args()
    _UPSTREAM = urlsplit(args.upstream)
    _POOL_SIZE = args.threads
    _LISTEN = (args.host, args.port)
    _Gunicorn(args.host, args.port, args.workers, args.threads).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
