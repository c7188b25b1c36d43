"""The audit trail as the console reads it: the newest records of the shared JSON-lines file (``[audit] file``),
which every worker and every instance appends to, so the console shows all their calls, not one process's."""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from adapter.ops.audit import read_records

FIRST_WINDOW = 1 << 20  # bytes read from the end first; grows fourfold until enough records are found
TECHNICAL = (998, 999)


def _parse(lines: Iterable[str]) -> list[dict]:
    return list(read_records(lines))


def newest(path: str, limit: int) -> list[dict]:
    """Up to ``limit`` newest records, newest first; [] when the file does not exist (yet)."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return []
    window = FIRST_WINDOW
    with open(path, "rb") as f:
        while True:
            start = max(0, size - window)
            f.seek(start)
            lines = f.read(size - start).decode("utf-8", "replace").splitlines()
            if start > 0:
                lines = lines[1:]  # probably cut in the middle
            records = _parse(lines)
            if len(records) >= limit or start == 0:
                return list(reversed(records[-limit:]))
            window *= 4


def find(path: str, correlation_id: str, recent: list[dict]) -> dict | None:
    """One call by its correlation id: among the recent records, else anywhere in the file."""
    for rec in recent:
        if rec.get("correlation_id") == correlation_id:
            return rec
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            hit = None
            for rec in _parse(line for line in f if correlation_id in line):
                if rec.get("correlation_id") == correlation_id:
                    hit = rec
            return hit
    except OSError:
        return None


def problems_of(rec: dict) -> list[str]:
    """Every validation problem of the call: the school's request, the WL 2.0 answers and the answer to the school."""
    out = [f"WL 1.0 request: {p}" for p in rec.get("wl1_request_problems") or []]
    for leg in rec.get("wl2") or []:
        out += [f"WL 2.0 {leg.get('operation')} answer: {p}" for p in leg.get("response_problems") or []]
    return out + [f"WL 1.0 answer: {p}" for p in rec.get("wl1_response_problems") or []]


@dataclass(frozen=True)
class Filters:
    school: str = ""
    operation: str = ""
    signaalcode: str = ""  # a number, or "fault" for calls answered with a SOAP fault
    problems: bool = False

    def match(self, rec: dict) -> bool:
        if self.school and self.school not in (rec.get("tenant"), rec.get("tenant_oin")):
            return False
        if self.operation and rec.get("operation") != self.operation:
            return False
        if self.signaalcode == "fault" and rec.get("http_status", 200) < 400:
            return False
        if self.signaalcode not in ("", "fault") and str(rec.get("signaalcode")) != self.signaalcode:
            return False
        return not self.problems or bool(problems_of(rec))


def is_error(rec: dict) -> bool:
    """A call that did not get a business answer: a SOAP fault, or a technical signaalcode (998, 999)."""
    return rec.get("http_status", 200) >= 400 or rec.get("signaalcode") in TECHNICAL
