"""Judging one placement against a company's recognitions (WL 2.0 ``Erkenningen``): pure functions, no I/O.

Why not VerifieerAccreditatie: it answers for the crebo on one day, over any leerweg (CONTRACTS.md, status rule), so
a BBL placement at a company recognised only for BOL is "recognised", and it says nothing of the days after the
start. OpvragenDetailgegevensLeerbedrijf gives every recognition with its leerweg and dates, so the whole placement
period can be judged. Like the status rule, dates decide (a withdrawal sets Einddatum to the last recognised day);
a recognition with status NIET_ERKEND never counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from adapter.bpv.placements import Placement


@dataclass(frozen=True)
class Recognition:
    leerweg: str | None  # None: WL 2.0 did not say; counts for both
    begin: date
    end: date | None  # the last recognised day; None: open-ended


@dataclass(frozen=True)
class Verdict:
    outcome: str
    detail: str
    risk_date: date | None = None  # the first day the placement is not covered (for the chart by month)


def _as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def recognitions(erkenningen: list[dict], crebo: str) -> list[Recognition]:
    """The recognitions for ``crebo`` that can cover a day (with a Begindatum, not NIET_ERKEND)."""
    out = []
    for e in erkenningen:
        if e.get("Crebonummer") != crebo or e.get("Status") == "NIET_ERKEND" or not e.get("Begindatum"):
            continue
        out.append(Recognition(e.get("Leerweg"), _as_date(e["Begindatum"]), _as_date(e.get("Einddatum"))))
    return out


def _covers(r: Recognition, day: date) -> bool:
    return r.begin <= day and (r.end is None or day <= r.end)


def covered_until(recs: list[Recognition], start: date) -> date | None:
    """The last day of the unbroken run of recognised days from ``start`` (None: no end), following recognitions
    that take over from each other without a gap. ``start`` itself must be covered."""
    day = start
    while True:
        running = [r for r in recs if _covers(r, day)]
        if not running:
            return day - timedelta(days=1)
        if any(r.end is None for r in running):
            return None
        day = max(r.end for r in running) + timedelta(days=1)


def judge(p: Placement, erkenningen: list[dict]) -> Verdict:
    recs = recognitions(erkenningen, p.crebo)
    at_start = [r for r in recs if _covers(r, p.begin)]
    if not at_start:
        return Verdict("not_recognised_at_start", _why_not_at_start(p, recs), p.begin)
    same_path = [r for r in recs if r.leerweg in (None, p.leerweg)]
    if not any(_covers(r, p.begin) for r in same_path):
        other = sorted({r.leerweg for r in at_start if r.leerweg})
        return Verdict("leerweg_mismatch", f"recognised for crebo {p.crebo} on {p.begin.isoformat()} only for "
                                           f"{' and '.join(other)}, not for {p.leerweg}", p.begin)
    last = covered_until(same_path, p.begin)
    if last is not None and (p.end is None or last < p.end):
        until = p.end.isoformat() if p.end else "no end date"
        return Verdict("recognition_ends_during_placement",
                       f"recognised until {last.isoformat()} (last recognised day); the placement runs until {until}",
                       last + timedelta(days=1))
    return Verdict("ok", "")


def _why_not_at_start(p: Placement, recs: list[Recognition]) -> str:
    if not recs:
        return f"no recognition for crebo {p.crebo}"
    later = sorted(r.begin for r in recs if r.begin > p.begin)
    ended = sorted(r.end for r in recs if r.end is not None and r.end < p.begin)
    if ended and not later:
        return f"recognition for crebo {p.crebo} ended on {ended[-1].isoformat()}, before {p.begin.isoformat()}"
    if later:
        return f"recognition for crebo {p.crebo} begins only on {later[0].isoformat()}"
    return f"no recognition for crebo {p.crebo} on {p.begin.isoformat()}"
