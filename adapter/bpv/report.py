"""The placement check's report: one self-contained HTML page (no network needed to open it).

Jinja2 renders the page from a template shipped in the package (autoescaped: student names and codes come from the
school's file). The charts are drawn here, server-side, as inline SVG by pygal: pure Python, SVG is its native
output, so the page needs no chart script and no fonts or files from elsewhere (pygal's own tooltip script is
switched off, ``js=[]``, because it would be fetched from the internet). Counts in the page come from the same
decisions as ``placements.csv``.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

import pygal
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pygal.style import Style

from adapter.bpv.outcomes import BY_CODE, OUTCOMES
from adapter.bpv.placements import Export

TOP_CREBOS = 25  # the chart per crebo shows the crebos with most placements; the CSV has them all
MAX_MONTHS = 48  # the chart by month shows every month in between up to this span, else only months with risk


@dataclass(frozen=True)
class ProblemRow:
    line: int
    student: str
    code: str
    crebo: str
    leerweg: str
    begin: str
    end: str
    outcome: str
    detail: str
    leerbedrijf_id: str


def _environment() -> Environment:
    return Environment(loader=PackageLoader("adapter.bpv", "templates"), autoescape=select_autoescape(["html"]),
                       trim_blocks=True, lstrip_blocks=True)


def _style(outcomes) -> Style:
    """Each outcome in its own colour in every chart: pygal colours series in the order they are added."""
    return Style(background="white", plot_background="white", font_family="sans-serif",
                 colors=tuple(o.colour for o in outcomes), legend_font_size=13, label_font_size=12)


def _count_ticks(highest: int) -> list[int]:
    """Whole-number axis labels: counts of placements have no 0.2."""
    step = max(1, -(-highest // 8))
    return list(range(0, highest + step, step))


def _months(days: list[date]) -> list[str]:
    first, last = min(days), max(days)
    span = (last.year - first.year) * 12 + last.month - first.month
    if span > MAX_MONTHS:
        return sorted({d.strftime("%Y-%m") for d in days})
    return [f"{first.year + (first.month - 1 + i) // 12}-{(first.month - 1 + i) % 12 + 1:02d}" for i in range(span + 1)]


def _svg(chart) -> Markup:
    return Markup(chart.render(is_unicode=True))  # pygal escapes its own labels


def chart_per_crebo(rows: list[tuple[str, str]]) -> Markup:
    """rows: (crebo, outcome) of every placement with a valid crebo; one stacked bar per crebo."""
    per_crebo = Counter(crebo for crebo, _ in rows)
    crebos = sorted(c for c, _ in per_crebo.most_common(TOP_CREBOS))
    counts = Counter(rows)
    present = [o for o in OUTCOMES if any(counts[(c, o.code)] for c in crebos)]
    chart = pygal.HorizontalStackedBar(js=[], disable_xml_declaration=True, style=_style(present), width=900,
                                       height=max(260, 90 + 26 * len(crebos)), legend_at_bottom=True,
                                       legend_at_bottom_columns=3, truncate_legend=-1, margin_bottom=36,
                                       show_y_guides=False, y_labels=_count_ticks(max(per_crebo[c] for c in crebos)))
    chart.x_labels = crebos
    for o in present:
        chart.add(o.code, [counts[(c, o.code)] or None for c in crebos])
    return _svg(chart)


def chart_at_risk(rows: list[tuple[str, date]]) -> Markup:
    """rows: (outcome, first day at risk) of placements at risk; one stacked bar per month."""
    months = _months([d for _, d in rows])
    counts = Counter((o, d.strftime("%Y-%m")) for o, d in rows)
    per_month = Counter(d.strftime("%Y-%m") for _, d in rows)
    present = [o for o in OUTCOMES if o.at_risk and any(counts[(o.code, m)] for m in months)]
    chart = pygal.StackedBar(js=[], disable_xml_declaration=True, style=_style(present), width=900, height=380,
                             legend_at_bottom=True, legend_at_bottom_columns=3, truncate_legend=-1,
                             margin_bottom=36, x_label_rotation=-45, show_x_guides=False,
                             y_labels=_count_ticks(max(per_month.values())))
    chart.x_labels = months
    for o in present:
        chart.add(o.code, [counts[(o.code, m)] or None for m in months])
    return _svg(chart)


def render(export: Export, decisions: dict, school: str, day: date, source_name: str) -> str:
    """The page for one check. ``decisions``: row key -> Decision (see check.py)."""
    counts = Counter(decisions[row.key].outcome for row in export.rows)
    crebo_rows, risk_rows, problems = [], [], []
    for row in export.rows:
        d = decisions[row.key]
        p = row.placement
        if p is not None:
            crebo_rows.append((p.crebo, d.outcome))
            if BY_CODE[d.outcome].at_risk and d.risk_date:
                risk_rows.append((d.outcome, date.fromisoformat(d.risk_date)))
        if BY_CODE[d.outcome].problem:
            problems.append(_problem(row, d))
    return _environment().get_template("report.html.j2").render(
        school=school, day=day.isoformat(), source=source_name, total=len(export.rows),
        outcomes=OUTCOMES, counts=counts, problems=problems,
        chart_crebo=chart_per_crebo(crebo_rows) if crebo_rows else None,
        chart_risk=chart_at_risk(risk_rows) if risk_rows else None)


def _problem(row, d) -> ProblemRow:
    v = row.values  # as the file has them: an invalid row shows what it says
    return ProblemRow(row.line, v["student"], v["code_leerbedrijf"], v["crebonummer"], v["leerweg"], v["begindatum"],
                      v["einddatum"], d.outcome, d.detail, d.leerbedrijf_id)
