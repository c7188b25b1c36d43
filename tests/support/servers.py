"""Real processes for the tests: free loopback ports, ``wl-adapter`` subcommands as child processes (the simulator,
adapters with a generated configuration), and one way to run a ``wl-adapter`` command to completion.

The constants describe the test world every configuration shares: the simulator's data set (seed 1, ``TODAY``,
``SIM_COMPANIES`` companies) and the two schools (tenants) with their licences. Kept here rather than in conftest.py
so that test modules and bench/ scripts import them like any other module.
"""
from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import requests

from adapter.simulator import DEFAULT_OIN
from adapter.tenants import licence_hash

ROOT = Path(__file__).resolve().parents[2]

TODAY = "2026-11-29"
LICENCE = "test-licentie-roc-1"
SCHOOL_OIN = "0000000700025BE00000"
OTHER_LICENCE = "test-licentie-roc-2"
OTHER_SCHOOL_OIN = "0000000700031HO00000"
SIM_COMPANIES = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wsgi_call(app, body: bytes, method: str = "POST", path: str = "/wl1", query: str = "") -> bytes:
    """A request to a WSGI application in this process (``in_process``'s ``.wsgi``): the answer's bytes."""
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
               "CONTENT_TYPE": "text/xml; charset=utf-8", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1"}
    return b"".join(app(environ, lambda status, headers, exc_info=None: None))


def wl_adapter(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a ``wl-adapter`` subcommand (as ``python -m adapter``, from the project root) and wait for it."""
    return subprocess.run([sys.executable, "-m", "adapter", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python process (from the project root) and wait for it."""
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


# The start of a script (``python``) that plays a gevent worker with another call in flight: patched as the
# adapter's gevent worker is (serve/greenlets.py), with a greenlet that notes the time every millisecond in ``ticks``
# whenever the worker lets it run. What follows counts the ticks between two moments.
GEVENT_WORKER = """
from gevent import monkey
monkey.patch_socket(); monkey.patch_time()
import sys, time
import gevent
ticks = []

def other_call():
    while True:
        ticks.append(time.monotonic())
        gevent.sleep(0.001)

gevent.spawn(other_call)
gevent.sleep(0.01)
"""


def serve_app(code: str, *args: str) -> tuple[subprocess.Popen, int]:
    """Run ``code`` (a tiny WSGI application served through adapter/serve/runner.py) in a process of its own, with
    the free port it must listen on as its first argument; return once the port accepts connections."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", code, str(port), *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "the server did not start"
            time.sleep(0.1)


class Server:
    """A ``wl-adapter`` subcommand running as a child process until ``stop()``."""

    def __init__(self, args: list[str], port: int, ready_path: str, scheme: str = "http",
                 env: dict | None = None, log: Path | None = None, verify=False, cert=None):
        self.port = port
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.args = args
        self.log = log
        self.verify, self.cert = verify, cert  # how tests reach it over TLS (admin API of a TLS simulator)
        self._logf: IO[bytes] | None = open(log, "wb") if log else None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "adapter", *args],
            cwd=ROOT, env={**os.environ, **(env or {})},
            stdout=self._logf or subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_ready(ready_path, verify, cert)

    def _wait_ready(self, path: str, verify, cert, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.args}\n{self.output()}")
            try:
                r = requests.get(self.url + path, timeout=1, verify=verify, cert=cert)
                if r.status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout}s: {self.args}\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def audit_records(self) -> list[dict]:
        """The audit trail's per-call records in this server's log (an adapter's); a line still being written when
        the log is read is skipped, as the adapter's own readers do."""
        from adapter.ops.audit import read_records

        return list(read_records(self.output().splitlines()))

    def kill(self) -> None:
        """SIGKILL the whole process group (a crash)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill()
        if self._logf is not None:
            self._logf.close()


def start_simulator_process(log: Path, *extra: str, count: int = SIM_COMPANIES, scheme: str = "http",
                            verify=False, cert=None, port: int | None = None, env: dict | None = None) -> Server:
    """A simulator with the test data set (seed 1, ``TODAY``) on a free port, or on ``port`` to restart one where
    an adapter expects it."""
    port = port or free_port()
    return Server(["simulate", "--port", str(port), "--seed", "1", "--leerbedrijven", str(count), "--today", TODAY,
                   "--push-backoff-s", "0.1", *extra], port, "/admin/health", scheme=scheme, log=log,
                  verify=verify, cert=cert, env=env)


# the test set-up opts in to unauthenticated pushes on loopback explicitly; tests of push authentication pass
# their own [pushes] section (tests/mutations/test_push_auth.py), or None for none at all
UNAUTHENTICATED_PUSHES = "allow_unauthenticated = true"


def write_config(path: Path, upstream_url: str, store_url: str, port: int, extra: str = "",
                 workers: int = 1, timeout_s: float = 3.0, audit_bodies: bool = True,
                 pushes: str | None = UNAUTHENTICATED_PUSHES, server: str = "") -> Path:
    pushes_section = "" if pushes is None else f"[pushes]\n{pushes}\n"
    path.write_text(f"""
[server]
host = "127.0.0.1"
port = {port}
workers = {workers}
threads = 16
{server}

[upstream]
url = "{upstream_url}"
oin = "{DEFAULT_OIN}"
timeout_s = {timeout_s}
connect_timeout_s = 1.0

[store]
url = "{store_url}"

[audit]
bodies = {str(audit_bodies).lower()}

{pushes_section}
[[tenants]]
name = "ROC Test"
oin = "{SCHOOL_OIN}"
licence_sha256 = "{licence_hash(LICENCE)}"

[[tenants]]
name = "ROC Ander"
oin = "{OTHER_SCHOOL_OIN}"
licence_sha256 = "{licence_hash(OTHER_LICENCE)}"
{extra}
""", encoding="utf-8")
    return path


class AdapterServer(Server):
    """``wl-adapter serve`` with the test configuration (both schools, a SQLite store in ``workdir`` by default)."""

    def __init__(self, workdir: Path, upstream_url: str, store_url: str | None = None, extra: str = "",
                 workers: int = 1, timeout_s: float = 3.0, port: int | None = None, audit_bodies: bool = True,
                 pushes: str | None = UNAUTHENTICATED_PUSHES, env: dict | None = None, server: str = ""):
        workdir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        self.store_url = store_url or f"sqlite:///{workdir / 'adapter.sqlite'}"
        self.config = write_config(workdir / "adapter.toml", upstream_url, self.store_url, port, extra, workers,
                                   timeout_s, audit_bodies, pushes, server)
        super().__init__(["serve", "--config", str(self.config)], port, "/healthz", log=workdir / "adapter.log",
                         env=env)
        self.wl1_url = f"{self.url}/wl1"

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Run a ``wl-adapter`` subcommand against this adapter's configuration."""
        return wl_adapter(*args, "--config", str(self.config))
