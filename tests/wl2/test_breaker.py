"""The circuit breaker on its own, with a clock the test moves: it opens after N failures in a row, stays open for
the cool-down, then lets exactly one probe through; the probe's success closes it, its failure opens it again."""
from __future__ import annotations

import pytest

from adapter.wl2.breaker import CircuitBreaker, CircuitOpen
from tests.support.clock import FakeMonotonic

THRESHOLD = 3
COOL_DOWN = 10.0


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def breaker(clock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=THRESHOLD, reset_after_s=COOL_DOWN, clock=clock)


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.before_call()
        breaker.failure()


def opened(breaker: CircuitBreaker) -> None:
    fail(breaker, THRESHOLD)
    assert breaker.state == CircuitBreaker.OPEN


def test_closed_it_lets_every_call_through(breaker):
    for _ in range(20):
        breaker.before_call()
        breaker.success()
    assert breaker.state == CircuitBreaker.CLOSED


def test_it_opens_after_n_failures_in_a_row_not_before(breaker):
    fail(breaker, THRESHOLD - 1)
    assert breaker.state == CircuitBreaker.CLOSED
    breaker.before_call()  # still closed: this call goes through
    breaker.failure()
    assert breaker.state == CircuitBreaker.OPEN
    with pytest.raises(CircuitOpen):
        breaker.before_call()


def test_a_success_in_between_starts_the_count_again(breaker):
    fail(breaker, THRESHOLD - 1)
    breaker.before_call()
    breaker.success()
    fail(breaker, THRESHOLD - 1)
    assert breaker.state == CircuitBreaker.CLOSED


def test_it_stays_open_for_the_whole_cool_down(breaker, clock):
    opened(breaker)
    clock.advance(COOL_DOWN - 0.001)
    assert breaker.state == CircuitBreaker.OPEN
    with pytest.raises(CircuitOpen):
        breaker.before_call()


def test_after_the_cool_down_exactly_one_probe_goes_through(breaker, clock):
    opened(breaker)
    clock.advance(COOL_DOWN)
    assert breaker.state == CircuitBreaker.HALF_OPEN
    breaker.before_call()  # the probe
    for _ in range(3):  # everyone else waits for the probe's outcome
        with pytest.raises(CircuitOpen):
            breaker.before_call()


def test_a_successful_probe_closes_it(breaker, clock):
    opened(breaker)
    clock.advance(COOL_DOWN)
    breaker.before_call()
    breaker.success()
    assert breaker.state == CircuitBreaker.CLOSED
    fail(breaker, THRESHOLD - 1)  # and the failure count starts from zero
    assert breaker.state == CircuitBreaker.CLOSED


def test_a_failed_probe_opens_it_again_for_a_new_cool_down(breaker, clock):
    opened(breaker)
    clock.advance(COOL_DOWN)
    breaker.before_call()
    breaker.failure()  # one failure is enough when half open
    assert breaker.state == CircuitBreaker.OPEN
    clock.advance(COOL_DOWN - 0.001)  # counted from the probe's failure, not from the first opening
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    clock.advance(0.001)
    breaker.before_call()  # the next probe


def test_a_released_probe_frees_the_slot_for_another(breaker, clock):
    opened(breaker)
    clock.advance(COOL_DOWN)
    breaker.before_call()
    breaker.release()  # the probe never reached the upstream
    breaker.before_call()  # so another call may probe
    with pytest.raises(CircuitOpen):
        breaker.before_call()
