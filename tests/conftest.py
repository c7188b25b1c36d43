"""Shared fixtures: a real WL 2.0 simulator and real adapters on loopback, talking SOAP over HTTP.

The session-wide ``simulator`` and ``adapter`` are shared by many modules: a test that changes the simulator's data
(events) or the adapter's store must use companies no other test relies on, or start its own with
``start_simulator`` / ``start_adapter``.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import zeep
from helpers import ROOT, Server, free_port

from adapter.simulator import DEFAULT_OIN
from adapter.tenants import licence_hash

TODAY = "2026-11-29"
LICENCE = "test-licentie-roc-1"
SCHOOL_OIN = "0000000700025BE00000"
OTHER_LICENCE = "test-licentie-roc-2"
OTHER_SCHOOL_OIN = "0000000700031HO00000"
SIM_COMPANIES = 300


def start_simulator_process(log: Path, *extra: str, count: int = SIM_COMPANIES, scheme: str = "http",
                            verify=False, cert=None, env: dict | None = None) -> Server:
    port = free_port()
    return Server(["simulate", "--port", str(port), "--seed", "1", "--leerbedrijven", str(count), "--today", TODAY,
                   "--push-backoff-s", "0.1", *extra], port, "/admin/health", scheme=scheme, log=log,
                  verify=verify, cert=cert, env=env)


# the test set-up opts in to unauthenticated pushes on loopback explicitly; tests of push authentication pass
# their own [pushes] section (tests/mutations/test_push_auth.py), or None for none at all
UNAUTHENTICATED_PUSHES = "allow_unauthenticated = true"


def write_config(path: Path, upstream_url: str, store_url: str, port: int, extra: str = "",
                 workers: int = 1, timeout_s: float = 3.0, audit_bodies: bool = True,
                 pushes: str | None = UNAUTHENTICATED_PUSHES) -> Path:
    pushes_section = "" if pushes is None else f"[pushes]\n{pushes}\n"
    path.write_text(f"""
[server]
host = "127.0.0.1"
port = {port}
workers = {workers}
threads = 16

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
    def __init__(self, workdir: Path, upstream_url: str, store_url: str | None = None, extra: str = "",
                 workers: int = 1, timeout_s: float = 3.0, port: int | None = None, audit_bodies: bool = True,
                 pushes: str | None = UNAUTHENTICATED_PUSHES, env: dict | None = None):
        workdir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        self.store_url = store_url or f"sqlite:///{workdir / 'adapter.sqlite'}"
        self.config = write_config(workdir / "adapter.toml", upstream_url, self.store_url, port, extra, workers,
                                   timeout_s, audit_bodies, pushes)
        super().__init__(["serve", "--config", str(self.config)], port, "/healthz", log=workdir / "adapter.log",
                         env=env)
        self.wl1_url = f"{self.url}/wl1"

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Run a ``wl-adapter`` subcommand against this adapter's configuration."""
        return subprocess.run([sys.executable, "-m", "adapter", *args, "--config", str(self.config)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)

    def audit_records(self) -> list[dict]:
        records = []
        for line in self.output().splitlines():
            if line.startswith('{"type": "wl1_call"'):
                records.append(json.loads(line))
        return records


@pytest.fixture(scope="session")
def simulator(tmp_path_factory):
    server = start_simulator_process(tmp_path_factory.mktemp("sim") / "simulator.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def companies(simulator) -> list[dict]:
    """The simulator's data set as its admin API gives it (read-only: do not change these companies' data)."""
    r = requests.get(f"{simulator.url}/admin/leerbedrijven", params={"offset": 0, "limit": SIM_COMPANIES}, timeout=10)
    r.raise_for_status()
    return r.json()["leerbedrijven"]


@pytest.fixture(scope="session")
def adapter(simulator, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("adapter")
    server = AdapterServer(workdir, f"{simulator.url}/wl2")
    mapping = workdir / "mapping.csv"
    subprocess.run([sys.executable, "-m", "adapter", "simulate", "--seed", "1", "--leerbedrijven",
                    str(SIM_COMPANIES), "--export-mapping", str(mapping)], cwd=ROOT, check=True, timeout=120)
    server.mapping_csv = mapping
    yield server
    server.stop()


@pytest.fixture
def start_adapter(tmp_path):
    """Factory: ``start_adapter(upstream_url, **options)`` starts an adapter that is stopped after the test."""
    started: list[AdapterServer] = []

    def start(upstream_url: str, name: str = "adapter", **options) -> AdapterServer:
        server = AdapterServer(tmp_path / f"{name}{len(started)}", upstream_url, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def wl1_client(adapter: AdapterServer, path: str = "/wl1") -> zeep.Client:
    """A zeep client built from the WSDL the adapter serves (as a school system would)."""
    return zeep.Client(f"{adapter.url}{path}?wsdl")


@pytest.fixture(scope="session")
def wl1(adapter):
    return wl1_client(adapter).service
