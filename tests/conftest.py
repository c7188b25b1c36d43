"""Shared fixtures: a real WL 2.0 simulator and real adapters on loopback, talking SOAP over HTTP; a fresh store per
test on SQLite and on PostgreSQL with a clock the test moves.

The session-wide ``simulator`` and ``adapter`` are shared by many modules: a test that changes the simulator's data
(events) or the adapter's store must use companies no other test relies on, or start its own with
``start_simulator_process`` / ``start_adapter``. The helpers behind these fixtures live in tests/support/.
"""
from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import requests
import zeep

from adapter.store import Store
from tests.support.servers import ROOT, SIM_COMPANIES, AdapterServer, free_port, start_simulator_process, write_config
from tests.support.soap import wl1_client
from tests.support.store import PG_ADMIN, PG_URL, Clock, pg_connect, pg_unreachable


# -- the simulator and adapters ----------------------------------------------------------------------------------------
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


@pytest.fixture
def in_process(simulator, tmp_path):
    """The adapter's WSGI application in this process (with its background threads), on the test simulator: called
    with ``tests.support.servers.wsgi_call``."""
    from adapter.config import load_config
    from adapter.serve.build import Adapter

    path = write_config(tmp_path / "adapter.toml", f"{simulator.url}/wl2", f"sqlite:///{tmp_path / 's.sqlite'}",
                        free_port())
    adapter = Adapter(load_config(path, environ={}))
    yield adapter
    adapter.store.close()


@pytest.fixture(scope="session")
def wl1(adapter) -> zeep.proxy.ServiceProxy:
    return wl1_client(adapter).service


# -- the store ----------------------------------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A fresh store URL: a SQLite file, or a PostgreSQL schema of its own (dropped afterwards; skipped with the
    reason when PostgreSQL on 127.0.0.1:5432 cannot be reached)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    reason = pg_unreachable()
    if reason:
        pytest.skip(reason)
    schema = f"store_test_{uuid.uuid4().hex[:12]}"
    with pg_connect() as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with pg_connect() as c:
            c.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(store_url, clock):
    s = Store(store_url, clock=clock)
    s.migrate()
    yield s
    s.close()


@pytest.fixture(scope="module")
def pg_url():
    psycopg = pytest.importorskip("psycopg")
    try:
        admin_conn = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}")
    name = f"wl_test_{uuid.uuid4().hex[:12]}"
    admin_conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin_conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin_conn.close()
