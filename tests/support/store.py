"""What the store tests share besides their fixtures (in tests/conftest.py): the PostgreSQL they may use, a clock
the test moves by hand, the schools' OINs and deterministic MutatieIds.

PostgreSQL: 127.0.0.1:5432, user postgres, database ``test`` (override with WL_TEST_PG_DSN / WL_TEST_PG_URL).
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

PG_DSN = os.environ.get("WL_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
PG_URL = os.environ.get("WL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"  # where the mutations tests create a database of their own
SCHOOL = "0000000700025BE00000"
OTHER_SCHOOL = "0000000700099ZZ00000"


def pg_connect():
    import psycopg

    return psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)


def pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be used for these tests, or None when it can."""
    try:
        pg_connect().close()
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL for these tests
        return f"PostgreSQL at {PG_DSN!r} unreachable: {exc}"
    return None


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


def guid(n: int | str = None) -> str:
    return str(uuid.uuid4()) if n is None else str(uuid.uuid5(uuid.NAMESPACE_URL, f"wl-adapter-test/{n}"))
