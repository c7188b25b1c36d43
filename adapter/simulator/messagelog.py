"""The recorded SOAP exchanges, newest first, in a bounded ring buffer (GET /admin/messages)."""
from __future__ import annotations

import datetime as dt
import threading
from collections import deque


class MessageLog:
    def __init__(self, capacity: int = 500):
        self._entries: deque[dict] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def record(self, operation: str | None, oin: str | None, request: bytes, response: bytes,
               problems: list[str]) -> None:
        entry = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
            "operation": operation, "oin": oin,
            "request": request.decode("utf-8", "replace"), "response": response.decode("utf-8", "replace"),
            "validationErrors": problems,
        }
        with self._lock:
            self._entries.append(entry)

    def newest(self, limit: int) -> list[dict]:
        with self._lock:
            return list(reversed(self._entries))[:limit]
