"""Test helpers: free loopback ports and real server processes started through the ``wl-adapter`` CLI."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A ``wl-adapter`` subcommand running as a child process until ``stop()``."""

    def __init__(self, args: list[str], port: int, ready_path: str, scheme: str = "http",
                 env: dict | None = None, log: Path | None = None, verify=False, cert=None):
        self.port = port
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.args = args
        self.log = log
        self.verify, self.cert = verify, cert  # how tests reach it over TLS (admin API of a TLS simulator)
        self._logf = open(log, "wb") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "adapter", *args],
            cwd=ROOT, env={**os.environ, **(env or {})},
            stdout=self._logf, stderr=subprocess.STDOUT, start_new_session=True,
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
        if self._logf is not subprocess.DEVNULL:
            self._logf.close()
