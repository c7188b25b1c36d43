"""Fixtures for the store tests (no tests here): a fresh store per test, on SQLite and on PostgreSQL.

PostgreSQL: 127.0.0.1:5432, user postgres, database ``test``; each test gets its own schema, dropped afterwards.
Skipped with the reason when that server cannot be reached.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from helpers import ROOT

from adapter.store import Store

PG_DSN = os.environ.get("WL_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
PG_URL = os.environ.get("WL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SCHOOL = "0000000700025BE00000"
OTHER_SCHOOL = "0000000700099ZZ00000"


def _pg_connect():
    import psycopg

    return psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)


def _pg_unreachable() -> str | None:
    try:
        _pg_connect().close()
    except Exception as exc:  # any failure means: no PostgreSQL for these tests
        return f"PostgreSQL at {PG_DSN!r} unreachable: {exc}"
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    reason = _pg_unreachable()
    if reason:
        pytest.skip(reason)
    schema = f"store_test_{uuid.uuid4().hex[:12]}"
    with _pg_connect() as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with _pg_connect() as c:
            c.execute(f'DROP SCHEMA "{schema}" CASCADE')


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(store_url, clock):
    s = Store(store_url, clock=clock)
    s.migrate()
    yield s
    s.close()


def guid(n: int | str = None) -> str:
    return str(uuid.uuid4()) if n is None else str(uuid.uuid5(uuid.NAMESPACE_URL, f"wl-adapter-test/{n}"))


def python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python process (from the project root) and wait for it."""
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def wl_adapter(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "adapter", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
