"""The request path writes nothing (issue 10, goal D): subscription wishes are remembered and written by the
subscriber's own thread; resolved company codes are cached, and the process's own mapping changes clear the cache."""
from __future__ import annotations

import threading
import time
from datetime import date

import pytest

from adapter.mutations.subscriber import Subscriber
from adapter.store import Mutation, Store
from tests.support.store import SCHOOL


class CountingStore(Store):
    """A real SQLite store that counts the intents it is asked to write (and can be told to fail once)."""

    def __init__(self, url: str, **kw):
        super().__init__(url, **kw)
        self.writes: list[tuple] = []
        self.fail_next = False
        self.written = threading.Event()

    def record_subscription_intent(self, tenant_oin, leerbedrijf_id, crebo):
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("database is locked")
        self.writes.append((tenant_oin, leerbedrijf_id, crebo))
        created = super().record_subscription_intent(tenant_oin, leerbedrijf_id, crebo)
        self.written.set()
        return created


@pytest.fixture
def store(tmp_path):
    s = CountingStore(f"sqlite:///{tmp_path / 'store.sqlite'}")
    s.migrate()
    return s


def subscriber(store) -> Subscriber:
    return Subscriber(store, upstream=None, tenants=None, afleveradres="http://127.0.0.1:9/wl2/mutaties")


def test_a_repeated_wish_is_written_once(store):
    sub = subscriber(store)
    for _ in range(50):
        sub.want(SCHOOL, "100001", "25171")
    sub.want(SCHOOL, "100001", "25172")  # another crebo is another wish
    assert store.writes == [(SCHOOL, "100001", "25171"), (SCHOOL, "100001", "25172")]
    assert [(i.leerbedrijf_id, i.crebo) for i in store.claim_subscription_intents(10, 60)] == \
        [("100001", "25171"), ("100001", "25172")]


def test_with_a_running_subscriber_the_wish_is_written_by_its_thread(store):
    sub = subscriber(store)
    sub.process_once = lambda: 0  # no WL 2.0 in this test: only the writing of wishes runs
    sub.start()
    caller = threading.current_thread()
    writer: list[threading.Thread] = []
    original = store.record_subscription_intent
    store.record_subscription_intent = lambda *a: (writer.append(threading.current_thread()), original(*a))[1]
    started = time.monotonic()
    sub.want(SCHOOL, "100002", "25171")
    assert time.monotonic() - started < 0.05  # the caller does not wait for the store
    assert store.written.wait(5), "the subscriber thread never wrote the wish"
    assert writer and writer[0] is not caller


def test_a_wish_the_store_refused_is_tried_again_at_the_next_call(store):
    sub = subscriber(store)
    store.fail_next = True
    with pytest.raises(RuntimeError):
        sub.want(SCHOOL, "100003", "25171")
    sub.want(SCHOOL, "100003", "25171")
    assert store.writes == [(SCHOOL, "100003", "25171")]


def test_resolved_codes_are_cached_and_own_changes_clear_the_cache(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    worker = Store(url, mapping_check_s=0.5)
    worker.migrate()
    other = Store(url, mapping_check_s=0)  # another process: an import or a push handled elsewhere
    assert worker.resolve_code("OLDCODE1") is None  # now cached as "no mapping"
    read_at = time.monotonic()
    other.add_mapping("OLDCODE1", "100001")
    if time.monotonic() - read_at < 0.4:  # (a stalled machine may already be past the window)
        assert worker.resolve_code("OLDCODE1") is None, "served from the cache, no query"
    time.sleep(0.6)
    assert worker.resolve_code("OLDCODE1") == "100001", "seen once mapping_check_s has passed"
    worker.add_mapping("OLDCODE2", "100002")
    assert worker.resolve_code("OLDCODE2") == "100002"
    # an ID change pushed to this worker moves the mapping, and the cached answer with it
    worker.store_mutation(SCHOOL, Mutation(mutatie_id="3f2504e0-4f89-11d3-9a0c-0305e82c3301",
                                           soort="LEERBEDRIJFID_GEWIJZIGD", leerbedrijf_id="200002",
                                           oud_leerbedrijf_id="100002", ingangsdatum=date(2026, 11, 1)))
    assert worker.resolve_code("OLDCODE2") == "200002"
