"""Schema migrations: idempotent, safe with two processes at once, all-or-nothing, never losing data."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import date

import pytest
from sqlalchemy import inspect, select

from adapter.errors import SchemaTooNew, StoreUnavailable
from adapter.store import LATEST_VERSION, Mutation, Store, mappings
from adapter.store.engine import read_transaction, write_transaction
from adapter.store.migrations import MIGRATIONS, Migration, migrate
from adapter.store.schema import code_mapping, metadata, schema_version
from tests.support.servers import ROOT
from tests.support.store import SCHOOL, guid


def _versions(s: Store) -> list[int]:
    with read_transaction(s.engine) as c:
        return list(c.execute(select(schema_version.c.version).order_by(schema_version.c.version)).scalars())


def test_migrate_is_idempotent(store_url, clock):
    s = Store(store_url, clock=clock)
    assert s.migrate() == [m.version for m in MIGRATIONS]
    assert s.migrate() == []
    assert Store(store_url, clock=clock).migrate() == []
    assert _versions(s) == [m.version for m in MIGRATIONS]
    s.ping()
    s.close()


def test_migrated_schema_matches_the_query_tables(store):
    inspector = inspect(store.engine)
    for table in metadata.sorted_tables:
        assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.columns.keys()), table.name


def test_ping_reports_an_unmigrated_store(store_url, clock):
    s = Store(store_url, clock=clock)
    with pytest.raises(StoreUnavailable, match="no such table|does not exist|schema"):
        s.ping()
    s.close()


_MIGRATE = """
import sys, time
from adapter.store import Store
start = float(sys.argv[2])
s = Store(sys.argv[1])
time.sleep(max(0.0, start - time.time()))
print(s.migrate())
"""


def test_two_processes_migrating_at_once(store_url):
    start = str(time.time() + 1.5)  # both processes call migrate() at the same moment
    procs = [subprocess.Popen([sys.executable, "-c", _MIGRATE, store_url, start], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    everything = str([m.version for m in MIGRATIONS])
    assert sorted(out.strip() for out, _ in results) == sorted([everything, "[]"])  # one applied all, one nothing
    s = Store(store_url)
    assert _versions(s) == [m.version for m in MIGRATIONS]
    s.close()


def _upgrade(version: int, *steps) -> tuple[Migration, ...]:
    return (*MIGRATIONS, Migration(version, "test upgrade", steps))


def test_upgrade_keeps_data_and_a_failing_upgrade_changes_nothing(store, clock):
    stored = store.store_mutation(SCHOOL, Mutation(guid(), "ERKENNING_VERLEEND", "123", date(2026, 1, 5)))
    broken = _upgrade(LATEST_VERSION + 1, "ALTER TABLE mutation ADD COLUMN note TEXT", "THIS IS NOT SQL")
    with pytest.raises(Exception):
        migrate(store.engine, clock(), broken)
    assert _versions(store) == [m.version for m in MIGRATIONS]
    assert "note" not in {c["name"] for c in inspect(store.engine).get_columns("mutation")}

    good = _upgrade(LATEST_VERSION + 1, "ALTER TABLE mutation ADD COLUMN note TEXT")
    assert migrate(store.engine, clock(), good) == [LATEST_VERSION + 1]
    assert migrate(store.engine, clock(), good) == []
    assert [r.volgnummer for r in store.mutations_after(SCHOOL, 0, 10)] == [stored.volgnummer]


def test_an_old_adapter_refuses_a_newer_schema(store, clock):
    migrate(store.engine, clock(), _upgrade(LATEST_VERSION + 1, "CREATE TABLE later (x INTEGER)"))
    with pytest.raises(SchemaTooNew, match="newer than this adapter"):
        store.migrate()


def test_migrations_must_be_ordered(store, clock):
    with pytest.raises(ValueError, match="distinct rising versions"):
        migrate(store.engine, clock(), (*MIGRATIONS, *MIGRATIONS))


def test_upgrade_to_the_mapping_generation_keeps_the_mappings(store_url, clock):
    """Migration 5 on a store with mappings: they resolve as before, the generation starts at 0 and rises."""
    s = Store(store_url, clock=clock)
    migrate(s.engine, clock(), MIGRATIONS[:4])
    with write_transaction(s.engine) as c:
        c.execute(code_mapping.insert().values(code="OLD", leerbedrijf_id="100", updated_at=clock()))
    assert s.migrate() == [5]

    def generation() -> int:
        with read_transaction(s.engine) as c:
            return mappings.generation(c)
    assert (generation(), s.resolve_code("OLD")) == (0, "100")
    s.add_mapping("OLD", "200")
    assert (generation(), s.resolve_code("OLD")) == (1, "200")
    s.close()
