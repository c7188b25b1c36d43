"""The per-school token bucket on its own, with a clock the test moves: a burst of ``burst`` calls, then one call
per 1/rate seconds as tokens refill (never more than ``burst`` saved up), each school with a bucket of its own."""
from __future__ import annotations

import pytest

from adapter.wl1.ratelimit import RateLimiter
from tests.support.clock import FakeMonotonic

RATE = 2.0  # tokens per second: one every 0.5 s
BURST = 3


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def limiter(clock) -> RateLimiter:
    return RateLimiter(per_second=RATE, burst=BURST, clock=clock)


def allowed(limiter: RateLimiter, key: str, attempts: int) -> int:
    return sum(limiter.allow(key) for _ in range(attempts))


def test_a_burst_is_allowed_at_once_and_no_more(limiter):
    assert [limiter.allow("school") for _ in range(BURST + 2)] == [True] * BURST + [False, False]


def test_tokens_refill_at_the_rate(limiter, clock):
    allowed(limiter, "school", BURST)
    clock.advance(0.49)
    assert not limiter.allow("school")  # not a whole token yet
    clock.advance(0.01)
    assert limiter.allow("school")  # 0.5 s: one token
    assert not limiter.allow("school")
    clock.advance(1.0)
    assert allowed(limiter, "school", 5) == 2  # 1 s: two tokens


def test_refill_never_saves_up_more_than_the_burst(limiter, clock):
    allowed(limiter, "school", BURST)
    clock.advance(3600)
    assert allowed(limiter, "school", BURST + 5) == BURST


def test_refused_calls_do_not_use_up_tokens(limiter, clock):
    allowed(limiter, "school", BURST)
    for _ in range(4):  # hammering while empty does not push the next token further away
        clock.advance(0.1)
        assert not limiter.allow("school")
    clock.advance(0.1)  # 0.5 s since the bucket emptied
    assert limiter.allow("school")


def test_each_school_has_its_own_bucket(limiter, clock):
    assert allowed(limiter, "school-a", BURST + 2) == BURST
    assert allowed(limiter, "school-b", BURST + 2) == BURST  # a's empty bucket is not b's
    clock.advance(0.5)
    assert limiter.allow("school-b")
    assert limiter.allow("school-a")  # a's refill is its own, unaffected by b's calls


def test_a_rate_of_zero_means_no_limit(clock):
    unlimited = RateLimiter(per_second=0, burst=1, clock=clock)
    assert allowed(unlimited, "school", 1000) == 1000
