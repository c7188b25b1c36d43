"""The journal: every SOAP exchange the simulator answered and every push attempt it made, with the receiver's
acknowledgement, newest first, in a bounded ring buffer (GET /admin/journal, GET /admin/messages).

A tester asks "what did SBB see from my school, and what did it push back?"; both directions in one place, with
filters, answer it without reading two logs.
"""
from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import deque

CALL, PUSH = "call", "push"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _text(data: bytes | str | None) -> str | None:
    if data is None:
        return None
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


class MessageLog:
    def __init__(self, capacity: int = 2000):
        self._entries: deque[dict] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def _add(self, entry: dict) -> dict:
        with self._lock:
            entry["id"] = next(self._ids)
            self._entries.append(entry)
        return entry

    def record(self, operation: str | None, oin: str | None, request: bytes, response: bytes,
               problems: list[str], status: int = 200, fault: str | None = None) -> dict:
        """One exchange on the SOAP endpoint; ``fault`` names the network fault a scenario acted out."""
        return self._add({
            "time": _now().isoformat(timespec="milliseconds"), "kind": CALL,
            "operation": operation, "oin": oin, "httpStatus": status, "fault": fault,
            "request": _text(request), "response": _text(response), "validationErrors": problems,
        })

    def record_push(self, push, attempt: int, outcome: str, response: bytes | None, error: str | None,
                    http_status: int | None) -> dict:
        """One delivery attempt of a push, with what the school's receiver answered (its acknowledgement)."""
        return self._add({
            "time": _now().isoformat(timespec="milliseconds"), "kind": PUSH,
            "operation": "MutatieLeerbedrijf", "oin": push.school_oin, "httpStatus": http_status, "fault": None,
            "request": _text(push.message), "response": _text(response), "validationErrors": [],
            "push": {"mutatieId": push.mutatie_id, "abonnementId": push.abonnement_id,
                     "afleveradres": push.afleveradres, "soort": push.mutation.soort, "attempt": attempt,
                     "outcome": outcome, "error": error},
        })

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def newest(self, limit: int, kind: str | None = CALL) -> list[dict]:
        """The newest ``limit`` entries (only of ``kind`` unless it is None)."""
        return self.query(limit=limit, kind=kind)

    def query(self, limit: int = 50, operation: str | None = None, oin: str | None = None,
              since: dt.datetime | None = None, kind: str | None = None) -> list[dict]:
        with self._lock:
            entries = list(self._entries)
        since_text = since.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds") if since else None
        found = []
        for entry in reversed(entries):
            if since_text and entry["time"] < since_text:
                break  # entries are in time order: nothing older can match
            if (operation and entry["operation"] != operation) or (oin and entry["oin"] != oin) \
                    or (kind and entry["kind"] != kind):
                continue
            found.append(entry)
            if len(found) >= limit:
                break
        return found
