"""ops/audit.py's parts alone (the records themselves are tested through real calls in test_operating.py)."""
from __future__ import annotations

import time
from types import SimpleNamespace

from adapter.ops import audit


def test_the_time_is_the_current_utc_second_whenever_the_clock_moves(monkeypatch):
    """Made once a second: a new second (or a clock set back) gives a new text, never the last one's."""
    now = [86_399.2]
    monkeypatch.setattr(audit, "time", SimpleNamespace(time=lambda: now[0], strftime=time.strftime, gmtime=time.gmtime))
    monkeypatch.setattr(audit, "_stamp", (-1, ""))
    seen = []
    for now[0] in (86_399.2, 86_399.9, 86_400.0, 86_400.99, 86_399.5, 1_796_083_200.4):
        seen.append(audit._now())
    assert seen == ["1970-01-01T23:59:59Z", "1970-01-01T23:59:59Z", "1970-01-02T00:00:00Z", "1970-01-02T00:00:00Z",
                    "1970-01-01T23:59:59Z", "2026-12-01T00:00:00Z"]


def test_the_time_is_now():
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stamp = audit._now()
    after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    assert before <= stamp <= after
