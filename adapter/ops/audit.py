"""The audit trail: one JSON record per WL 1.0 call that ties its four messages together under one correlation id
(legacy request, WL 2.0 request, WL 2.0 response, legacy answer), with tenant, operation, timings per leg,
signaalcodes and validation results; and one per push SBB sent to /wl2/mutaties (``wl2_push``): who sent it (the
authenticated certificate subject), for which school, what it said, whether it was stored, and for an ID change the
old and the new LeerbedrijfId, since that change re-points the school's company codes. Message bodies are
optional, truncated, and masked: the licence and personal data (names, e-mail addresses, phone numbers) never
reach the log."""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from adapter.config import AuditConfig

if TYPE_CHECKING:
    from adapter.mutations.push import Push
    from adapter.wl1.call import Call

log = logging.getLogger("wl_adapter.audit")

# elements whose text is masked in logged bodies (local names; any prefix)
MASKED_ELEMENTS = ("Licentie", "Naam", "Bedrijfsnaam", "LeerbedrijfNaam", "Email", "Telefoonnummer")
# everything between the start and end tag is masked: text, CDATA sections and comments alike
_MASK = re.compile(r"(<([\w.-]+:)?(" + "|".join(MASKED_ELEMENTS) + r")(?:\s[^>]*)?>)(.*?)(</\2?\3\s*>)", re.S)


# and in a malformed message, whatever text follows a start tag that has no matching end tag
_OPEN = re.compile(r"(<(?:[\w.-]+:)?(?:" + "|".join(MASKED_ELEMENTS) + r")(?:\s[^>]*)?>)(?!\*\*\*<)([^<]+)")


def mask(xml: bytes | str) -> str:
    text = xml.decode("utf-8", "replace") if isinstance(xml, bytes) else xml
    text = _MASK.sub(lambda m: m.group(1) + ("***" if m.group(4) else "") + m.group(5), text)
    return _OPEN.sub(lambda m: m.group(1) + "***", text)


class _AppendOnly:
    """One JSON line per ``os.write`` on an O_APPEND descriptor: the kernel appends each write whole, so every
    worker process can share the file without interleaving records. Opened per process (after the fork)."""

    def __init__(self) -> None:
        self._fds: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()

    def write(self, path: str, line: str) -> None:
        key = (os.getpid(), path)
        fd = self._fds.get(key)
        if fd is None:
            with self._lock:
                fd = self._fds.get(key)
                if fd is None:
                    fd = self._fds[key] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        os.write(fd, (line + "\n").encode("utf-8"))


_FILES = _AppendOnly()

_stamp: tuple[int, str] = (-1, "")


def _now() -> str:
    """The current second, UTC, as the records give it. Made once a second: ``time.strftime`` took ~20 µs inside
    a call (a tenth of that in a loop: locale and time-zone tables out of the processor's caches), measured with
    bench/profile_calls.py, and under load a worker writes hundreds of records a second."""
    global _stamp
    second = int(time.time())
    if second != _stamp[0]:
        _stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))  # one tuple: swapped whole
    return _stamp[1]


def _body(data: bytes, settings: AuditConfig) -> str:
    text = mask(data)
    if len(text) > settings.max_body_chars:
        text = text[: settings.max_body_chars] + f"...[{len(text) - settings.max_body_chars} more]"
    return text


def request_problems(call: Call) -> list[str]:
    """What was wrong with the request: the pipeline's problems, or why it was refused before any operation saw it
    (not well-formed, unknown operation, the other SOAP version's envelope, too large)."""
    if call.request_problems:
        return [str(p) for p in call.request_problems]
    return [call.refusal] if call.refusal else []


def record(settings: AuditConfig, call: Call) -> dict:
    """Build (and log) the record of one finished call; ``call.operation`` is None when the request never reached
    an operation (malformed XML, unknown operation, oversize), and ``call.refusal`` then says why."""
    problems = request_problems(call)
    entry: dict = {
        "type": "wl1_call",
        "correlation_id": call.correlation_id,
        "time": _now(),
        "path": call.path,
        "soap_version": call.soap_version,
        "http_status": call.http_status,
        "operation": call.operation,
        "tenant": call.tenant.name if call.tenant else None,
        "tenant_oin": call.tenant.oin if call.tenant else None,
        "signaalcode": call.signaalcode,
        "wl1_request_valid": not problems if call.operation is not None or problems else None,
        "wl1_request_problems": problems,
        "wl1_response_problems": [str(p) for p in call.response_problems],  # (under "enforce" a fault went instead)
        "total_ms": round(call.elapsed_s * 1000, 2),
        "wl2": [
            {
                "operation": ex.operation,
                "message_id": ex.message_id,
                "elapsed_ms": round(ex.elapsed_s * 1000, 2),
                "attempts": ex.attempts,
                "response_valid": not ex.response_problems,
                "response_problems": [str(p) for p in ex.response_problems],
                "error": ex.error or None,
            }
            for ex in call.exchanges
        ],
    }
    if settings.bodies:
        entry["messages"] = {
            "wl1_request": _body(call.request, settings),
            "wl2": [{"request": _body(ex.request, settings), "response": _body(ex.response, settings)}
                    for ex in call.exchanges],
            "wl1_response": _body(call.response, settings),
        }
    if settings.enabled:
        line = json.dumps(entry, ensure_ascii=False)
        log.info(line)
        if settings.file:
            try:
                _FILES.write(settings.file, line)
            except OSError as exc:  # a full disk must not fail the call; the log line above still has it
                log.error("cannot append to the audit file %s: %s", settings.file, exc)
    return entry


class Audit:
    """The audit trail as a call listener and a push listener."""

    def __init__(self, settings: AuditConfig):
        self.settings = settings

    def call_done(self, call: Call) -> None:
        record(self.settings, call)

    def push_done(self, push: Push) -> None:
        push_record(self.settings, push)


def push_record(settings: AuditConfig, push: Push) -> dict:
    """Build (and log) the record of one push to /wl2/mutaties (``mutations/push.py``)."""
    m = push.mutation
    entry: dict = {
        "type": "wl2_push",
        "time": _now(),
        "message_id": push.message_id,
        "peer": push.peer,
        "subject": push.subject,
        "http_status": push.http_status,
        "outcome": push.outcome,
        "reason": push.refused or push.fault or push.foutmelding,
        "signaalcode": push.signaalcode,
        "tenant": push.tenant.name if push.tenant else None,
        "tenant_oin": push.tenant.oin if push.tenant else None,
        "mutatie_id": m.mutatie_id if m else None,
        "abonnement_id": m.abonnement_id if m else None,
        "soort": m.soort if m else None,
        "leerbedrijf_id": m.leerbedrijf_id if m else None,
        "crebo": m.crebo if m else None,
        "total_ms": round(push.elapsed_s * 1000, 2),
    }
    if m is not None and m.soort == "LEERBEDRIJFID_GEWIJZIGD":  # it re-points the school's company codes
        entry["id_change"] = {"old_leerbedrijf_id": m.oud_leerbedrijf_id, "new_leerbedrijf_id": m.leerbedrijf_id}
    if settings.enabled:
        log.info(json.dumps(entry, ensure_ascii=False))
    return entry


RECORD_MARKER = '{"type": "wl1_call"'


def read_records(lines: Iterable[str]) -> Iterator[dict]:
    """The ``wl1_call`` records in log lines (whatever the log handler put before them); other lines, and a line
    cut short (a partial write, a window's edge), are skipped."""
    for line in lines:
        start = line.find(RECORD_MARKER)
        if start < 0:
            continue
        try:
            yield json.loads(line[start:])
        except ValueError:
            continue
