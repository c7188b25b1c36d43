"""Opt-in recording of whole WL 1.0 requests and answers, for ``wl-adapter replay`` after a change.

The audit trail masks names and truncates bodies, so it cannot be played again faithfully. With
``[audit] record_requests = true`` each call is appended whole to ``record_dir/requests-YYYY-MM-DD.jsonl`` (UTC
day), with the licence removed: replay re-supplies it from a file the tester keeps. Files older than
``record_retention_days`` are deleted, because answers hold company data (and contact persons' names).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from adapter.ops.audit import _FILES

if TYPE_CHECKING:
    from adapter.wl1.call import Call

log = logging.getLogger("wl_adapter.recording")

RECORD_TYPE = "wl1_request"
REPLAY_PREFIX = "replay-"  # X-Correlation-ID of requests sent by `wl-adapter replay`
FILE_PATTERN = re.compile(r"^requests-(\d{4}-\d{2}-\d{2})\.jsonl$")
_LICENCE = re.compile(r"(<([\w.-]+:)?Licentie(?:\s[^>]*)?>)(.*?)(</\2?Licentie\s*>)", re.S)
_LICENCE_UNCLOSED = re.compile(r"(<(?:[\w.-]+:)?Licentie(?:\s[^>]*)?>)([^<]+)")
_EMPTY_LICENCE = re.compile(r"(<([\w.-]+:)?Licentie(?:\s[^>]*)?>)(</\2?Licentie\s*>)")


def without_licence(xml: str) -> str:
    """The request with every Licentie element emptied (also in a malformed request)."""
    return _LICENCE_UNCLOSED.sub(r"\1", _LICENCE.sub(r"\1\4", xml))


def with_licence(xml: str, licence: str) -> str:
    """Put ``licence`` back into the emptied Licentie element(s) of a recorded request."""
    escaped = licence.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _EMPTY_LICENCE.sub(lambda m: m.group(1) + escaped + m.group(3), xml)


class Recorder:
    def __init__(self, directory: str, retention_days: int, clock=lambda: dt.datetime.now(dt.timezone.utc)):
        self.directory = Path(directory)
        self.retention_days = retention_days
        self.clock = clock
        self._purged_on: dt.date | None = None
        self._lock = threading.Lock()

    def call_done(self, call: Call) -> None:
        """A call listener: record the finished call (never a replay of one)."""
        if call.correlation_id.startswith(REPLAY_PREFIX):
            return  # a replay of a recording: recording it again would only duplicate it
        try:
            text = call.request.decode("utf-8")
        except UnicodeDecodeError:
            log.warning("call %s not recorded: the request is not UTF-8", call.correlation_id)
            return
        now = self.clock()
        entry = {
            "type": RECORD_TYPE, "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "correlation_id": call.correlation_id,
            "path": call.path, "soap_action": call.soap_action, "content_type": call.content_type,
            "http_status": call.http_status, "operation": call.operation,
            "tenant": call.tenant.name if call.tenant else None,
            "tenant_oin": call.tenant.oin if call.tenant else None,
            "request": without_licence(text), "response": call.response.decode("utf-8", "replace"),
        }
        self._purge(now.date())
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _FILES.write(str(self.directory / f"requests-{now.date().isoformat()}.jsonl"),
                         json.dumps(entry, ensure_ascii=False))
        except OSError as exc:  # a full disk must not fail the call
            log.error("cannot record call %s: %s", call.correlation_id, exc)

    def _purge(self, today: dt.date) -> None:
        """Once a day per process: delete recordings older than the retention."""
        with self._lock:
            if self._purged_on == today:
                return
            self._purged_on = today
        oldest = today - dt.timedelta(days=self.retention_days)
        for path in self.directory.glob("requests-*.jsonl") if self.directory.is_dir() else ():
            match = FILE_PATTERN.match(path.name)
            if match and dt.date.fromisoformat(match.group(1)) < oldest:
                try:
                    path.unlink()
                    log.info("deleted recording %s (older than %d days)", path, self.retention_days)
                except OSError as exc:
                    log.warning("cannot delete old recording %s: %s", path, exc)
