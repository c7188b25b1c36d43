"""``Store.prepare`` runs, before workers fork, the reads a WL 1.0 call makes, so that SQLAlchemy's cache (the
engine's, which every forked worker inherits) holds them compiled: a worker's first call of an operation then
compiles nothing (2-8 ms before), nor does its subscriber thread when it records the first subscription intent. On
SQLite and PostgreSQL; and preparing leaves nothing behind."""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine.interfaces import CacheStats

from adapter.store import Store
from tests.support.store import SCHOOL


def _compiled_during_a_calls_reads(store: Store) -> list[CacheStats]:
    """SQLAlchemy's cache verdict for every statement the reads of a call run, as a worker would: after the fork
    (``after_fork`` disposes of the parent's connections), then code resolution and a mutations poll."""
    store.engine.dispose(close=False)
    seen: list[CacheStats] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(context.cache_hit)
    event.listen(store.engine, "after_cursor_execute", note)
    try:
        store.resolve_code("LB-NOT-MAPPED")
        store.mutations_after(SCHOOL, 0, 10)
        store.record_subscription_intent(SCHOOL, "LB0000000001", "25191")  # the subscriber thread's
    finally:
        event.remove(store.engine, "after_cursor_execute", note)
    return [s for s in seen if s in (CacheStats.CACHE_HIT, CacheStats.CACHE_MISS)]


def test_after_prepare_a_calls_reads_are_already_compiled(store_url):
    store = Store(store_url)
    try:
        store.migrate()
        store.prepare()
        verdicts = _compiled_during_a_calls_reads(store)
        assert len(verdicts) == 4 and set(verdicts) == {CacheStats.CACHE_HIT}, verdicts
    finally:
        store.close()


def test_without_prepare_the_first_call_compiles_them(store_url):
    """The negative control: the listener above does see a statement compiled on first use."""
    store = Store(store_url)
    try:
        store.migrate()
        verdicts = _compiled_during_a_calls_reads(store)
        assert verdicts.count(CacheStats.CACHE_MISS) == 4, verdicts
    finally:
        store.close()



def test_prepare_leaves_nothing_behind(store):
    store.prepare()
    assert store.list_subscription_intents() == []
