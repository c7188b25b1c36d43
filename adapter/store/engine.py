"""Database engines for the store: SQLite (one host) or PostgreSQL (several adapter processes).

SQLite connections get WAL, a busy timeout and foreign keys; the driver's own transaction handling is switched off
so that the store says when a transaction begins: ``BEGIN IMMEDIATE`` for every write transaction (it takes the
write lock up front, so two writers queue on the busy timeout instead of failing on a lock upgrade) and a plain
``BEGIN`` for reads. PostgreSQL runs at READ COMMITTED; row locks and advisory locks do the serialising there.
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_POOL_SIZE = 32  # the default [server] threads
_BEGIN_MODE = "store_begin_mode"


def make_engine(url: str) -> Engine:
    """An engine for ``sqlite:///PATH`` or ``postgresql+psycopg://...``; anything else is a ValueError."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - sqlalchemy raises ArgumentError, or others, for garbage
        raise ValueError(f"store.url: cannot parse it: {exc}") from None
    shown = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError(f"store.url: SQLite needs a file (sqlite:///PATH), got {shown!r}")
        # as many pooled connections as a worker has request threads: SQLAlchemy's default (5, plus 10 opened and
        # closed again as needed) made a worker under 16 clients open a new connection, with its PRAGMAs, for
        # every seventh GeefMutaties call in one bench run; an idle SQLite connection costs next to nothing
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                               pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if backend == "postgresql":
        try:
            return create_engine(parsed, pool_pre_ping=True)  # imports the driver now
        except ImportError:
            raise ValueError(_missing_driver(parsed.get_driver_name())) from None
    raise ValueError(f"store.url: expected sqlite:///PATH or postgresql+psycopg://..., got {shown!r}")


def _missing_driver(driver: str) -> str:
    """PostgreSQL needs a driver that is an extra of the package, not a dependency: say how to get it."""
    if driver == "psycopg":
        return ("store.url: PostgreSQL needs the psycopg driver, which is not installed: "
                "pip install 'wl-adapter[postgres]'")
    return (f"store.url: the {driver} driver is not installed; the adapter uses psycopg: write the URL as "
            "postgresql+psycopg://... and pip install 'wl-adapter[postgres]'")


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # no implicit BEGIN from the driver: see _sqlite_on_begin
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    _enable_wal(cursor)
    cursor.execute("PRAGMA synchronous = FULL")  # a commit is on disk before store_mutation returns
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _enable_wal(cursor) -> None:
    """WAL is a property of the file. Switching to it needs a moment of exclusive access, and SQLite does not
    wait for that on its busy timeout: when two processes open a new file at once, one sees "database is locked"."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sqlite_on_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(_BEGIN_MODE, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def is_postgresql(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction, committed on normal exit and rolled back on any exception."""
    with engine.connect() as connection:
        connection = connection.execution_options(**{_BEGIN_MODE: "IMMEDIATE"})
        with connection.begin():
            yield connection


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection, connection.begin():
        yield connection


def insert_for(connection: Connection):
    """The dialect's ``insert`` (it has ``on_conflict_do_nothing`` / ``on_conflict_do_update``)."""
    return postgresql.insert if is_postgresql(connection) else sqlite.insert
