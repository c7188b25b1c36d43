"""A monotonic clock the test moves by hand, for units that take ``clock=time.monotonic`` (the circuit breaker, the
rate limiter): time passes only when the test says so, so cool-downs and refills are exact and instant."""
from __future__ import annotations


class FakeMonotonic:
    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
