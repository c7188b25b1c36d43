"""Running a placement check: every row of an export through the adapter's own pieces, politely and resumably.

Each placement's company code is resolved as a live WL 1.0 call would resolve it (``wl1/resolve.py``: the store's
mapping, a bare LeerbedrijfId, the old-code search), then OpvragenDetailgegevensLeerbedrijf gives the company's
recognitions and ``judge.py`` decides. The check must not crowd out the school's live traffic, so WL 2.0 calls are
paced by a per-school rate, run on a few threads, and each company is asked once per run (concurrent rows for the
same company wait for the one call; the answer lives in memory only for the run and is never written down: SBB's
licence forbids keeping WL data). A row WL 2.0 could not answer (998) is retried with back-off and, if still
unavailable, left undecided so the next run checks it again.

Resume: every decided row is appended to ``DIR/state.jsonl`` (flushed per row) with a key of its line and content;
a second run on the same file skips those rows. The state holds no WL data beyond the verdict.
"""
from __future__ import annotations

import csv
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from adapter.bpv.judge import Verdict, judge
from adapter.bpv.outcomes import DECIDED
from adapter.bpv.placements import COLUMNS, Export, Row
from adapter.errors import UnknownCode, UpstreamError, UpstreamUnavailable, Wl2Refused
from adapter.wl1.resolve import resolve_code

STATE_FILE = "state.jsonl"
RESULT_FILE = "placements.csv"
REPORT_FILE = "report.html"
META_FILE = "check.json"  # which of the school's headers is which column, for readers of placements.csv
RESULT_COLUMNS = ("outcome", "detail", "leerbedrijf_id", "risk_date")
DETAILS = "OpvragenDetailgegevensLeerbedrijf"
SEARCH = "ZoekenLeerbedrijfOfLeerplaats"


@dataclass(frozen=True)
class Settings:
    rate: float = 10.0  # WL 2.0 calls per second for this check (0: unpaced)
    workers: int = 4
    retries: int = 3  # extra attempts of a call WL 2.0 could not answer (998), on top of the client's own
    backoff_s: float = 1.0  # first pause before such a retry, doubling


@dataclass(frozen=True)
class Decision:
    key: str
    outcome: str
    detail: str = ""
    leerbedrijf_id: str = ""
    risk_date: str = ""


class Stopped(Exception):
    """The run is being stopped (Ctrl-C, SIGTERM): threads give up instead of waiting for their turn."""


class Pacer:
    """A token bucket that waits: at most ``rate`` calls per second over time, bursts of a second's worth."""

    def __init__(self, rate: float, stop: threading.Event, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = max(1.0, rate)
        self._tokens = 1.0  # start gently: the first second is not a burst
        self._last = clock()
        self._clock = clock
        self._stop = stop
        self._lock = threading.Lock()

    def wait(self) -> None:
        while True:
            if self._stop.is_set():
                raise Stopped
            if self.rate <= 0:
                return
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                pause = (1 - self._tokens) / self.rate
            self._stop.wait(pause)


class _MappingOnly:
    """The store as ``resolve_code`` sees it during a check: read the mapping, learn nothing. A check changes
    nothing, and an old code stays visible as one (``old_code``) on every run."""

    def __init__(self, store):
        self._store = store

    def resolve_code(self, code: str) -> str | None:
        return self._store.resolve_code(code)

    def add_mapping(self, code: str, leerbedrijf_id: str) -> None:
        pass


class _Unavailable(Exception):
    """WL 2.0 could not give a usable answer for this row; the detail says why."""


class Checker:
    """Decides one row at a time, from any number of threads."""

    def __init__(self, store, client, school_oin: str, settings: Settings):
        self.store = _MappingOnly(store)
        self.client = client  # a Wl2Client: .call(operation, sender_oin, body)
        self.school_oin = school_oin
        self.settings = settings
        self.stop = threading.Event()  # set: rows still waiting give up (they stay undecided)
        self.calls = 0  # WL 2.0 calls made (attempts of this check, not the client's own retries)
        self.pacer = Pacer(settings.rate, self.stop)
        self._lock = threading.Lock()
        self._codes: dict[str, Future] = {}  # code -> (leerbedrijf_id, via the old-code fallback)
        self._companies: dict[str, Future] = {}  # leerbedrijf_id -> details answer (memory only, this run)
        # set when a call stayed unavailable after all its retries, cleared by the next answer: while WL 2.0 is
        # down, rows fail after one attempt, so an outage drains the run in seconds instead of hours of back-off
        self._outage = threading.Event()

    def decide(self, row: Row) -> Decision:
        if row.placement is None:
            return Decision(row.key, "invalid_row", row.invalid)
        p = row.placement
        try:
            leerbedrijf_id, via_fallback = self._once(self._codes, p.code, lambda: self._resolve(p.code))
        except UnknownCode:
            return Decision(row.key, "unknown_company", f"code {p.code} cannot be resolved to one LeerbedrijfId")
        except _Unavailable as exc:
            return Decision(row.key, "unavailable", str(exc))
        try:
            answer = self._once(self._companies, leerbedrijf_id, lambda: self._details(leerbedrijf_id))
        except _Unavailable as exc:
            return Decision(row.key, "unavailable", str(exc), leerbedrijf_id)
        if answer is None:
            return Decision(row.key, "unknown_company", f"WL 2.0 does not know LeerbedrijfId {leerbedrijf_id}",
                            leerbedrijf_id)
        verdict = judge(p, answer)
        if via_fallback:
            verdict = _with_old_code(verdict, p.code, leerbedrijf_id)
        return Decision(row.key, verdict.outcome, verdict.detail, leerbedrijf_id,
                        verdict.risk_date.isoformat() if verdict.risk_date else "")

    def _once(self, cache: dict[str, Future], key: str, compute: Callable):
        """One computation per key and run; concurrent askers wait for it. Failures are not kept."""
        with self._lock:
            future = cache.get(key)
            mine = future is None
            if mine:
                future = cache[key] = Future()
        if mine:
            try:
                future.set_result(compute())
            except BaseException as exc:  # noqa: BLE001 - whoever waits on the future must learn the outcome
                with self._lock:
                    cache.pop(key, None)
                future.set_exception(exc)
        return future.result()

    def _resolve(self, code: str) -> tuple[str, bool]:
        searched = []

        def search(body: dict) -> dict:
            searched.append(True)
            return self._call(SEARCH, body)

        try:
            return resolve_code(code, self.store, search), bool(searched)
        except Wl2Refused as exc:
            raise _Unavailable(f"WL 2.0 refused the search for old code {code}: signaalcode {exc.signaalcode}") \
                from None

    def _details(self, leerbedrijf_id: str) -> list[dict] | None:
        """The company's recognitions, or None when WL 2.0 does not know the id (10)."""
        body = self._call(DETAILS, {"LeerbedrijfId": leerbedrijf_id})
        code = body["Signalering"]["Signaalcode"]
        if code == 10:
            return None
        if code != 0:
            raise _Unavailable(f"WL 2.0 answered signaalcode {code} ({body['Signalering'].get('Signaaltekst', '')})")
        company = body.get("Leerbedrijf") or {}
        return list((company.get("Erkenningen") or {}).get("Erkenning") or [])

    def _call(self, operation: str, body: dict) -> dict:
        pause = self.settings.backoff_s
        retries = 0 if self._outage.is_set() else self.settings.retries
        for attempt in range(retries + 1):
            self.pacer.wait()
            with self._lock:
                self.calls += 1
            try:
                answer = self.client.call(operation, self.school_oin, body)
                self._outage.clear()
                return answer
            except UpstreamUnavailable as exc:
                if attempt == retries:
                    self._outage.set()
                    raise _Unavailable(f"WL 2.0 unavailable after {attempt + 1} attempt(s): {exc}") from None
            except UpstreamError as exc:
                raise _Unavailable(f"WL 2.0 gave no usable answer: {exc}") from None
            self.stop.wait(pause)
            pause *= 2
        raise AssertionError("unreachable")


def _with_old_code(verdict: Verdict, code: str, leerbedrijf_id: str) -> Verdict:
    """A problem with the recognition outranks the old code; the new id is in the leerbedrijf_id column anyway."""
    note = f"old code {code} found only by its address: store LeerbedrijfId {leerbedrijf_id}"
    if verdict.outcome == "ok":
        return Verdict("old_code", note)
    return Verdict(verdict.outcome, f"{verdict.detail}; {note}", verdict.risk_date)


# -- the state file: resume after an interruption ---------------------------------------------------------------
def run_identity(export: Export, school_oin: str, day: date) -> dict:
    return {"file_sha256": export.digest, "school": school_oin, "date": day.isoformat()}


def load_state(out_dir: Path, identity: dict) -> dict[str, Decision]:
    """Decisions of an earlier run of the same check (same file, school and date); else nothing."""
    path = out_dir / STATE_FILE
    if not path.exists():
        return {}
    decisions: dict[str, Decision] = {}
    with path.open(encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not lines or _loads(lines[0]).get("run") != identity:
        return {}
    for line in lines[1:]:
        record = _loads(line)  # a line cut short by a kill is skipped: that row is simply checked again
        if record.get("outcome") in DECIDED and record.get("key"):
            decisions[record["key"]] = Decision(**{k: record.get(k, "") for k in Decision.__dataclass_fields__})
    return decisions


def _loads(line: str) -> dict:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class StateWriter:
    def __init__(self, out_dir: Path, identity: dict, kept: dict[str, Decision]):
        path = out_dir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:  # start from what is still valid, atomically
            f.write(json.dumps({"run": identity}) + "\n")
            for d in kept.values():
                f.write(json.dumps(asdict(d)) + "\n")
        os.replace(tmp, path)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def add(self, decision: Decision) -> None:
        with self._lock:
            self._file.write(json.dumps(asdict(decision)) + "\n")
            self._file.flush()  # a killed process loses at most the row it was writing

    def close(self) -> None:
        self._file.close()


# -- the run ----------------------------------------------------------------------------------------------------
def check_rows(checker: Checker, rows: list[Row], state: StateWriter, progress=None) -> dict[str, Decision]:
    """Decide every row (on the checker's threads); each decision is written to the state as it comes."""
    decided: dict[str, Decision] = {}
    with ThreadPoolExecutor(max_workers=max(1, checker.settings.workers), thread_name_prefix="bpv-check") as pool:
        futures = [pool.submit(checker.decide, row) for row in rows]
        try:
            for future in as_completed(futures):
                decision = future.result()
                decided[decision.key] = decision
                if decision.outcome in DECIDED:
                    state.add(decision)
                if progress is not None:
                    progress.update(1)
        except BaseException:
            checker.stop.set()  # running rows stop at their next wait; queued ones never start
            for f in futures:
                f.cancel()
            raise
    return decided


def write_meta(out_dir: Path, export: Export, columns: dict[str, str], identity: dict) -> None:
    """What a later reader of placements.csv (the digest mail) needs to read it: delimiter and column names."""
    meta = {**identity, "delimiter": export.delimiter, "columns": {n: columns.get(n, n) for n in COLUMNS}}
    tmp = out_dir / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    os.replace(tmp, out_dir / META_FILE)


def write_results(path: Path, export: Export, decisions: dict[str, Decision]) -> None:
    """Every input row with its outcome, in the input's delimiter, UTF-8 with a BOM (Excel reads it right)."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=export.delimiter)
        writer.writerow([*export.header, *RESULT_COLUMNS])
        for row in export.rows:
            d = decisions[row.key]
            writer.writerow([*row.fields, d.outcome, d.detail, d.leerbedrijf_id, d.risk_date])
    os.replace(tmp, path)
