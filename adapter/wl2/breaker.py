"""A circuit breaker for the WL 2.0 leg: after repeated failures, fail at once; probe again after a pause."""
from __future__ import annotations

import threading
import time

from adapter.errors import CircuitOpen


class CircuitBreaker:
    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(self, failure_threshold: int = 5, reset_after_s: float = 10.0, clock=time.monotonic):
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at = 0.0
        self._state = self.CLOSED
        self._probe_in_flight = False

    @property
    def state(self) -> str:
        with self._lock:
            if self._state == self.OPEN and self._clock() - self._opened_at >= self.reset_after_s:
                return self.HALF_OPEN
            return self._state

    def before_call(self) -> None:
        with self._lock:
            if self._state == self.CLOSED:
                return
            if self._state == self.OPEN and self._clock() - self._opened_at >= self.reset_after_s:
                self._state = self.HALF_OPEN
                self._probe_in_flight = False
            if self._state == self.HALF_OPEN and not self._probe_in_flight:
                self._probe_in_flight = True  # let exactly one call through to probe the upstream
                return
            raise CircuitOpen("circuit open: WL 2.0 failed repeatedly, not calling it for now")

    def release(self) -> None:
        """The call that was let through did not reach the upstream: it proves nothing either way."""
        with self._lock:
            self._probe_in_flight = False

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._state = self.CLOSED
            self._probe_in_flight = False

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state == self.HALF_OPEN or self._failures >= self.failure_threshold:
                self._state = self.OPEN
                self._opened_at = self._clock()
                self._probe_in_flight = False
