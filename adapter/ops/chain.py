"""The chain report: how the chain school → adapter → WL 2.0 performed, per school and operation, as one HTML page.

Why: the sector wants both sides to report on how the chain works. The audit trail (one JSON line per WL 1.0 call,
``ops/audit.py``) has every call's school, operation, signaalcode and timing; the store has every mutation SBB
pushed, when it came in and when the school's system fetched it. This module turns both into figures (plain
functions over records), and ``render`` draws a chart per figure (pygal, inline SVG) into a self-contained page
(Jinja2). No message bodies, licences or WL data go into the report: counts, codes and times only.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pygal
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pygal.style import Style

from adapter.ops.audit import read_records

NO_SCHOOL = "(no school: unknown licence or unreadable call)"
NO_OPERATION = "(no operation)"
PALETTE = ("#1565c0", "#2e7d32", "#f9a825", "#c62828", "#6a1b9a", "#00838f", "#ef6c00", "#546e7a", "#ad1457",
           "#9e9d24")


@dataclass
class CallFigures:
    calls: int = 0
    signaalcodes: Counter = field(default_factory=Counter)  # code (as text) -> calls; "fault" for SOAP faults
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def errors(self) -> int:
        """Technical errors: signaalcode 999 and SOAP faults."""
        return self.signaalcodes["999"] + self.signaalcodes["fault"]

    def rate(self, n: int) -> float:
        return n / self.calls if self.calls else 0.0

    def percentile(self, p: float) -> float:
        return percentile(self.latencies_ms, p)


@dataclass
class MutationFigures:
    received: int = 0
    delivered: int = 0
    waiting: int = 0
    delays_h: list[float] = field(default_factory=list)  # received -> fetched, of delivered ones
    oldest_waiting_h: float = 0.0


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values): a value that really occurred."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def read_audit(lines: Iterable[str], since: datetime | None = None) -> Iterable[dict]:
    """The ``wl1_call`` records of an audit log (other log lines are skipped), at or after ``since``."""
    for rec in read_records(lines):
        if since is not None and _when(rec.get("time")) < since:
            continue
        yield rec


def _when(text: str | None) -> datetime:
    try:
        return datetime.fromisoformat((text or "").replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)


def call_figures(records: Iterable[dict]) -> dict[tuple[str, str], CallFigures]:
    figures: dict[tuple[str, str], CallFigures] = defaultdict(CallFigures)
    for rec in records:
        f = figures[(rec.get("tenant") or NO_SCHOOL, rec.get("operation") or NO_OPERATION)]
        f.calls += 1
        code = rec.get("signaalcode")
        f.signaalcodes["fault" if code is None or rec.get("http_status", 200) >= 400 else str(code)] += 1
        if isinstance(rec.get("total_ms"), (int, float)):
            f.latencies_ms.append(float(rec["total_ms"]))
    return dict(figures)


def mutation_figures(rows_by_school: dict[str, list], now: datetime,
                     since: datetime | None = None) -> dict[str, MutationFigures]:
    """``rows_by_school``: school name -> its StoredMutationRows (the store keeps delivered ones for its retention)."""
    out = {}
    for school, rows in rows_by_school.items():
        f = MutationFigures()
        for r in rows:
            if since is not None and r.received_at < since:
                continue
            f.received += 1
            if r.delivered_at is None:
                f.waiting += 1
                f.oldest_waiting_h = max(f.oldest_waiting_h, (now - r.received_at).total_seconds() / 3600)
            else:
                f.delivered += 1
                f.delays_h.append((r.delivered_at - r.received_at).total_seconds() / 3600)
        out[school] = f
    return out


# -- the page --------------------------------------------------------------------------------------------------
def _style(n: int) -> Style:
    return Style(background="white", plot_background="white", font_family="sans-serif", legend_font_size=13,
                 label_font_size=12, colors=tuple(PALETTE[i % len(PALETTE)] for i in range(n)))


def _chart(kind, labels: list[str], series: list[tuple[str, list]], **options) -> Markup:
    chart = kind(js=[], disable_xml_declaration=True, style=_style(len(series)), width=900,
                 height=max(280, 110 + 28 * len(labels)), legend_at_bottom=True, legend_at_bottom_columns=3,
                 truncate_legend=-1, truncate_label=-1, margin_bottom=30, **options)
    chart.x_labels = labels
    for name, values in series:
        chart.add(name, values)
    return Markup(chart.render(is_unicode=True))


def charts(calls: dict[tuple[str, str], CallFigures], mutations: dict[str, MutationFigures]) -> dict[str, Markup]:
    schools = sorted({s for s, _ in calls} | set(mutations))
    operations = sorted({o for _, o in calls})
    per_school: dict[str, CallFigures] = defaultdict(CallFigures)
    per_op: dict[str, CallFigures] = defaultdict(CallFigures)
    for (school, op), f in calls.items():
        for agg in (per_school[school], per_op[op]):
            agg.calls += f.calls
            agg.signaalcodes.update(f.signaalcodes)
            agg.latencies_ms += f.latencies_ms
    codes = sorted({c for f in calls.values() for c in f.signaalcodes}, key=lambda c: (c == "fault", c.zfill(4)))
    call_schools = [s for s in schools if s in per_school]
    out = {}
    if calls:
        out["calls"] = _chart(pygal.HorizontalStackedBar, call_schools, [
            (op, [calls[(s, op)].calls if (s, op) in calls else None for s in call_schools]) for op in operations])
        out["signaalcodes"] = _chart(pygal.HorizontalStackedBar, call_schools, [
            (f"signaalcode {c}" if c != "fault" else "SOAP fault",
             [per_school[s].signaalcodes[c] or None for s in call_schools]) for c in codes])
        out["rates"] = _chart(pygal.HorizontalBar, call_schools, [
            ("errors (999 + faults) %", [round(100 * per_school[s].rate(per_school[s].errors), 2)
                                         for s in call_schools]),
            ("998 %", [round(100 * per_school[s].rate(per_school[s].signaalcodes["998"]), 2) for s in call_schools])])
        out["latency"] = _chart(pygal.HorizontalBar, operations, [
            (f"p{p} ms", [round(per_op[op].percentile(p), 1) for op in operations]) for p in (50, 90, 99)])
    mut_schools = [s for s in schools if s in mutations]
    if mutations:
        out["mutations"] = _chart(pygal.HorizontalBar, mut_schools, [
            ("received", [mutations[s].received for s in mut_schools]),
            ("delivered", [mutations[s].delivered for s in mut_schools]),
            ("waiting", [mutations[s].waiting for s in mut_schools])])
        out["delay"] = _chart(pygal.HorizontalBar, mut_schools, [
            ("median delay until fetched (h)", [round(percentile(mutations[s].delays_h, 50), 2) for s in mut_schools]),
            ("longest delay until fetched (h)", [round(max(mutations[s].delays_h, default=0), 2)
                                                 for s in mut_schools]),
            ("oldest still waiting (h)", [round(mutations[s].oldest_waiting_h, 2) for s in mut_schools])])
    return out


def render(calls: dict[tuple[str, str], CallFigures], mutations: dict[str, MutationFigures], since: str,
           generated: str, sources: list[str]) -> str:
    env = Environment(loader=PackageLoader("adapter.ops", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    rows = [(school, op, f) for (school, op), f in sorted(calls.items())]
    return env.get_template("chain.html.j2").render(
        rows=rows, mutations=sorted(mutations.items()), charts=charts(calls, mutations), since=since,
        generated=generated, sources=sources, total=sum(f.calls for f in calls.values()), percentile=percentile)
