"""Fault injection (POST/DELETE /admin/scenario): latency, soap:Server faults, forced signaalcodes, non-XML, and
network faults (a refused port, a reset connection, HTTP 503, an answer that never comes or drips in).

Testers need the adapter's 998 paths and its circuit breaker without killing processes; the SOAP-level faults
alone cannot show what a broken network does. A scenario may hold for the next ``count`` calls only.
"""
from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, replace

ALL = "*"
NETWORK_FAULTS = ("refuse", "reset", "http503", "hang", "slow_body")
# connection-level faults the endpoint cannot express in an answer: the server acts on the socket (app.py)
CONNECTION_FAULTS = ("reset", "hang")


@dataclass(frozen=True)
class Scenario:
    latency_ms: int = 0
    error_rate: float = 0.0  # share of calls answered with a soap:Server fault
    signaalcode: int | None = None  # forced into an otherwise valid response
    malformed: bool = False  # answer HTTP 200 with a body that is not XML
    fault: str | None = None  # one of NETWORK_FAULTS
    count: int | None = None  # the next N calls only; None: until cleared
    duration_ms: int | None = None  # refuse: reopen after this long; hang: give up after this long

    def as_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


class Scenarios:
    """One scenario per operation (``*`` for all); an operation's own wins over ``*``. ``changed`` is notified
    on every change, so a hanging or dripping answer can end as soon as its scenario is cleared."""

    def __init__(self, seed: int):
        self._by_operation: dict[str, Scenario] = {}
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.generation = 0  # bumped on every change
        self.changed = threading.Condition(self._lock)

    def set(self, operation: str, scenario: Scenario) -> None:
        with self._lock:
            self._by_operation[operation] = scenario
            self._bump()

    def clear(self, seed: int | None = None) -> None:
        with self._lock:
            self._by_operation.clear()
            if seed is not None:
                self._random = random.Random(seed)
            self._bump()

    def remove(self, operation: str, scenario: Scenario) -> bool:
        """Remove ``operation``'s scenario if it is still ``scenario`` (a timer ending a refuse)."""
        with self._lock:
            if self._by_operation.get(operation) is not scenario:
                return False
            del self._by_operation[operation]
            self._bump()
            return True

    def _bump(self) -> None:
        self.generation += 1
        self.changed.notify_all()

    def take(self, operation: str) -> Scenario | None:
        """The scenario for this call; a counted one is used up by it (and gone after its last call)."""
        with self._lock:
            key = operation if operation in self._by_operation else ALL
            scenario = self._by_operation.get(key)
            if scenario is None or scenario.count is None:
                return scenario
            if scenario.count <= 1:
                del self._by_operation[key]
                self._bump()
            else:
                self._by_operation[key] = replace(scenario, count=scenario.count - 1)
            return scenario

    def get(self, operation: str) -> Scenario | None:
        with self._lock:
            return self._by_operation.get(operation)

    def fails(self, scenario: Scenario) -> bool:
        if scenario.error_rate <= 0:
            return False
        with self._lock:
            return self._random.random() < scenario.error_rate

    def wait_changed(self, generation: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a change after ``generation``; True when one came."""
        with self._lock:
            if self.generation == generation:
                self.changed.wait(timeout)
            return self.generation != generation

    def as_json(self) -> dict:
        with self._lock:
            return {op: s.as_json() for op, s in self._by_operation.items()}
