"""Fixtures of the mutations tests: a PostgreSQL database of their own (test_postgres.py, test_push_auth.py)."""
from __future__ import annotations

import uuid

import pytest

from tests.support.store import PG_ADMIN


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
