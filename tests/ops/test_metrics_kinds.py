"""The metrics an operator alerts on tell the causes apart: a refused connection to WL 2.0, a reset one and a
timeout are distinct ``kind``s of ``wl_adapter_upstream_errors_total`` (urllib3's connection error is a subclass
of its timeout error, so a refused connection used to count as a timeout and a firewall change fired the timeout
alert); the breaker gauge names its instance; ``wl_adapter_build_info`` says what runs.

One adapter process on loopback whose WL 2.0 address is a port this module controls: first nothing listens there
(refused), then a socket that accepts and never answers (timeout), then one that resets every connection.
"""
from __future__ import annotations

import platform
import re
import socket
import struct
import threading
from importlib import metadata

import pytest
import requests

from adapter import __version__
from tests.support.servers import Server, free_port, write_config
from tests.support.upstream import custom_adapter, geef_details

TIMEOUT_S = 0.5
# one attempt per call (no retries), and a breaker that stays closed through this module's failures
UPSTREAM = "retries = 0\nbreaker_failures = 100\n"
INSTANCE = "wl-adapter-test-7"


class FakeUpstream:
    """A TCP listener on the WL 2.0 port that never answers HTTP: ``hang`` holds each connection open and silent,
    ``reset`` reads the request and closes with a TCP reset."""

    def __init__(self, port: int, mode: str):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.mode == "hang":
                self.held.append(conn)
                continue
            conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() so the port is free again at once
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    port = free_port()
    adapter = custom_adapter(tmp_path_factory.mktemp("metric-kinds"), f"http://127.0.0.1:{port}/wl2",
                             upstream_lines=UPSTREAM, timeout_s=TIMEOUT_S)
    yield adapter, port
    adapter.stop()


def errors(adapter_url: str) -> dict[str, float]:
    """kind -> count of wl_adapter_upstream_errors_total for the GeefDetails upstream operation."""
    text = requests.get(f"{adapter_url}/metrics", timeout=5).text
    found = re.findall(r'^wl_adapter_upstream_errors_total\{kind="([a-z_0-9]+)",'
                       r'operation="OpvragenDetailgegevensLeerbedrijf"\} ([0-9.e+]+)$', text, re.M)
    return {kind: float(value) for kind, value in found}


def test_refused_reset_and_timeout_are_distinct_kinds(rig):
    adapter, port = rig
    before = errors(adapter.url)

    def grew() -> dict[str, float]:
        after = errors(adapter.url)
        return {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}

    assert geef_details(adapter.url)[0] == 998  # nothing listens on the port
    assert grew() == {"refused": 1.0}

    upstream = FakeUpstream(port, "hang")
    try:
        code, elapsed, _ = geef_details(adapter.url)
        assert code == 998 and elapsed >= TIMEOUT_S
    finally:
        upstream.close()
    assert grew() == {"refused": 1.0, "timeout": 1.0}

    upstream = FakeUpstream(port, "reset")
    try:
        assert geef_details(adapter.url)[0] == 998
    finally:
        upstream.close()
    assert grew() == {"refused": 1.0, "timeout": 1.0, "reset": 1.0}


def test_breaker_gauge_names_its_instance_and_build_info_says_what_runs(rig):
    adapter, _ = rig
    text = requests.get(f"{adapter.url}/metrics", timeout=5).text
    assert re.search(rf'^wl_adapter_breaker_open{{instance="127\.0\.0\.1:{adapter.port}"}} 0\.0$', text, re.M), text
    labels = {"python": platform.python_version(), "spyne": metadata.version("spyne"),
              "version": __version__, "zeep": metadata.version("zeep")}
    expected = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    assert f"wl_adapter_build_info{{{expected}}} 1.0" in text


def test_instance_name_is_configurable(tmp_path):
    """Set in the environment, as a container platform would (the pod's name)."""
    port = free_port()
    config = write_config(tmp_path / "adapter.toml", "http://127.0.0.1:9/wl2", f"sqlite:///{tmp_path / 'a.sqlite'}",
                          port)
    named = Server(["serve", "--config", str(config)], port, "/healthz",
                   env={"WL_ADAPTER_SERVER_INSTANCE_NAME": INSTANCE}, log=tmp_path / "adapter.log")
    try:
        text = requests.get(f"{named.url}/metrics", timeout=5).text
        assert f'wl_adapter_breaker_open{{instance="{INSTANCE}"}} 0.0' in text
    finally:
        named.stop()
