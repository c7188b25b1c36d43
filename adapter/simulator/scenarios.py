"""Fault injection (POST/DELETE /admin/scenario): latency, soap:Server faults, forced signaalcodes, non-XML."""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass

ALL = "*"


@dataclass(frozen=True)
class Scenario:
    latency_ms: int = 0
    error_rate: float = 0.0  # share of calls answered with a soap:Server fault
    signaalcode: int | None = None  # forced into an otherwise valid response
    malformed: bool = False  # answer HTTP 200 with a body that is not XML


class Scenarios:
    def __init__(self, seed: int):
        self._by_operation: dict[str, Scenario] = {}
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def set(self, operation: str, scenario: Scenario) -> None:
        with self._lock:
            self._by_operation[operation] = scenario

    def clear(self) -> None:
        with self._lock:
            self._by_operation.clear()

    def for_operation(self, operation: str) -> Scenario | None:
        with self._lock:
            return self._by_operation.get(operation) or self._by_operation.get(ALL)

    def fails(self, scenario: Scenario) -> bool:
        if scenario.error_rate <= 0:
            return False
        with self._lock:
            return self._random.random() < scenario.error_rate

    def as_json(self) -> dict:
        with self._lock:
            return {op: vars(s) for op, s in self._by_operation.items()}
