"""The cache of resolved codes on its own, with a clock the test moves: when an answer is served, when the store
must be asked, and which answers racing threads may leave in it (store/codecache.py)."""
from __future__ import annotations

import math

import pytest

from adapter.store.codecache import MISSING, CodeCache


class Tick:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tick():
    return Tick()


def test_an_answer_is_served_until_check_s_after_the_read_that_confirmed_the_generation(tick):
    cache = CodeCache(1.0, clock=tick)
    assert cache.get("A") is MISSING
    cache.put("A", "100", generation=1, read_at=tick.now)
    cache.put("NOPE", None, generation=1, read_at=tick.now)  # "not mapped" is an answer too
    tick.now += 0.99
    assert (cache.get("A"), cache.get("NOPE"), cache.get("B")) == ("100", None, MISSING)
    tick.now += 0.01
    assert (cache.get("A"), cache.get("NOPE")) == (MISSING, MISSING), "check_s over: ask the store"
    cache.put("B", "200", generation=1, read_at=tick.now)  # the same generation: everything is trusted again
    assert (cache.get("A"), cache.get("B")) == ("100", "200")


def test_a_newer_generation_drops_every_answer(tick):
    cache = CodeCache(1.0, clock=tick)
    cache.put("A", "100", 1, tick.now)
    tick.now += 2
    cache.put("B", "200", 2, tick.now)  # another process changed the mapping
    assert (cache.get("A"), cache.get("B")) == (MISSING, "200")


def test_with_check_s_0_the_store_is_asked_every_time(tick):
    cache = CodeCache(0.0, clock=tick)
    cache.put("A", "100", 1, tick.now)
    assert cache.get("A") is MISSING


def test_an_own_change_drops_the_cache_at_once(tick):
    cache = CodeCache(60.0, clock=tick)
    cache.put("A", "100", 1, tick.now)
    cache.changed(1)  # a write that changed nothing committed the same generation: keep
    assert cache.get("A") == "100"
    cache.changed(2)
    assert cache.get("A") is MISSING


def test_a_read_begun_before_an_own_change_does_not_put_its_older_answer_back(tick):
    cache = CodeCache(60.0, clock=tick)
    cache.put("A", "100", 1, tick.now)
    read_at = tick.now + 1  # a thread starts reading A ...
    tick.now += 2
    cache.changed(2)  # ... this Store re-maps A and commits generation 2 ...
    cache.put("A", "100", 1, read_at)  # ... and the read, done before that commit, comes back
    assert cache.get("A") is MISSING
    cache.put("A", "101", 2, tick.now)
    assert cache.get("A") == "101"


def test_a_read_of_an_older_generation_is_not_kept_nor_trusted(tick):
    cache = CodeCache(1.0, clock=tick)
    slow_read = tick.now
    tick.now += 0.5
    cache.put("B", "200", 5, tick.now)  # a faster thread already saw generation 5
    cache.put("A", "100", 4, slow_read)
    assert (cache.get("A"), cache.get("B")) == (MISSING, "200")
    tick.now += 1.0
    assert cache.get("B") is MISSING  # trusted from the generation-5 read only, not extended by the old one


def test_a_lower_generation_read_after_adopting_means_the_database_went_back(tick):
    """A restored or recreated database starts lower: adopt it rather than never cache again."""
    cache = CodeCache(1.0, clock=tick)
    cache.put("A", "100", 7, tick.now)
    tick.now += 2
    cache.put("A", "900", 0, tick.now)
    assert cache.get("A") == "900"


def test_the_cache_is_bounded_least_recently_used_first(tick):
    cache = CodeCache(60.0, maxsize=3, clock=tick)
    for n, code in enumerate("ABC"):
        cache.put(code, str(n), 1, tick.now)
    assert cache.get("A") == "0"  # A used: B is now the least recently used
    cache.put("D", "3", 1, tick.now)
    assert [cache.get(code) for code in "ABCD"] == ["0", MISSING, "2", "3"]


@pytest.mark.parametrize("check_s", [-1.0, math.nan, math.inf])
def test_negative_nan_and_infinite_check_intervals_are_refused(check_s):
    with pytest.raises(ValueError, match="mapping_check_s"):
        CodeCache(check_s)
