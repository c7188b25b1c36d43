"""A per-school token bucket (per worker process: with N workers a school gets up to N times the rate)."""
from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self, per_second: float, burst: int, clock=time.monotonic):
        self.per_second = per_second
        self.burst = max(1, burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        if self.per_second <= 0:
            return True
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.per_second)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1, now)
            return True
