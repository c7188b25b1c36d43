"""``wl-adapter check-placements`` end to end: placement files built from a real simulator's data (with a withdrawal
posted through its admin API), the check run as a subprocess, every outcome asserted row by row; Windows-1252 with
``;`` and other headers; an interrupted run resumed; WL 2.0 unavailable, then resumed.

This module starts its own simulator (it changes the simulator's data) and uses its own store.
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from adapter.bpv.outcomes import BY_CODE, CODES
from tests.support.bpvdata import (
    END,
    HEADER,
    START,
    Expected,
    companies,
    placement_rows,
    read_results,
    run_check,
    start_check,
    write_csv,
)
from tests.support.browser import dump_dom, needs_chromium, screenshot
from tests.support.servers import ROOT, free_port, start_simulator_process, write_config

COMPANIES = 60
MAPPED_CODE = "LEGACY-0007"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    server = start_simulator_process(tmp_path_factory.mktemp("bpv-sim") / "simulator.log", count=COMPANIES)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def data(sim):
    return companies(sim.url, COMPANIES)


@pytest.fixture(scope="module")
def config(sim, tmp_path_factory):
    work = tmp_path_factory.mktemp("bpv-config")
    return write_config(work / "adapter.toml", f"{sim.url}/wl2", f"sqlite:///{work / 'adapter.sqlite'}", free_port())


@pytest.fixture(scope="module")
def expected(sim, data, config, tmp_path_factory) -> list[Expected]:
    rows = placement_rows(sim.url, data, MAPPED_CODE)
    mapping = tmp_path_factory.mktemp("bpv-mapping") / "mapping.csv"
    mapping.write_text(f"code_leerbedrijf,leerbedrijf_id\n{MAPPED_CODE},{rows[0].leerbedrijf_id}\n")
    subprocess.run([sys.executable, "-m", "adapter", "mapping", "import", str(mapping), "--config", str(config)],
                   cwd=ROOT, check=True, capture_output=True, timeout=60)
    return rows


@pytest.fixture(scope="module")
def checked(expected, config, tmp_path_factory):
    """The first check of the full placement file: (the process, its output directory)."""
    work = tmp_path_factory.mktemp("bpv-check")
    source = write_csv(work / "plaatsingen.csv", expected)
    result = run_check(source, config, work / "out")
    return result, work / "out"


def assert_rows(results: list[dict], expected: list[Expected], header=HEADER) -> None:
    assert len(results) == len(expected)
    for i, (got, want) in enumerate(zip(results, expected, strict=True)):
        where = f"row {i + 2} ({want.fields})"
        assert [got[h] for h in header][:len(want.fields)] == want.fields, where
        assert got["outcome"] == want.outcome, f"{where}: {got['outcome']} ({got['detail']})"
        assert want.detail in got["detail"], f"{where}: {got['detail']!r} lacks {want.detail!r}"
        assert got["leerbedrijf_id"] == want.leerbedrijf_id, where
        assert got["risk_date"] == want.risk_date, where
        if want.outcome == "ok":
            assert got["detail"] == "", where


def test_every_placement_gets_its_outcome(checked, expected):
    result, out = checked
    assert result.returncode == 0, result.stderr
    header, rows = read_results(out / "placements.csv")
    assert header == [*HEADER, "outcome", "detail", "leerbedrijf_id", "risk_date"]
    assert_rows(rows, expected)
    assert (out / "report.html").stat().st_size > 0
    assert "old_code 1" in result.stdout and "invalid_row 6" in result.stdout


def test_check_changes_nothing_in_the_store(checked, expected, config):
    """The old code was found by the fallback but not learned: the next check still calls it old_code."""
    old = next(e for e in expected if e.outcome == "old_code")
    r = subprocess.run([sys.executable, "-c", (
        "import sys; from adapter.config import load_config; from adapter.store import Store;"
        f"print(Store(load_config(sys.argv[1]).store.url).resolve_code({old.fields[1]!r}))"), str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "None", r.stderr


def test_windows_1252_with_semicolons_and_other_headers(expected, config, tmp_path):
    dutch = ("Leerling", "Bedrijfscode", "Crebo", "Leerweg", "Startdatum", "Einddatum")
    rows = [Expected(list(e.fields), e.outcome, e.detail, e.leerbedrijf_id, e.risk_date) for e in expected[:9]]
    rows[0].fields[0], rows[2].fields[0] = "Zoë Çelik", "René d'Ancona; jr."  # cp1252 letters, a ';' in a field
    rows[1].fields[4] = "01-09-2026"  # a Dutch date
    source = write_csv(tmp_path / "export.csv", rows, header=dutch, delimiter=";", encoding="cp1252")
    assert b"Zo\xeb" in source.read_bytes()  # really Windows-1252, not UTF-8
    columns = ",".join(f"{ours}={theirs}" for ours, theirs in zip(HEADER, dutch))
    result = run_check(source, config, tmp_path / "out", "--columns", columns)
    assert result.returncode == 0, result.stderr
    header, got = read_results(tmp_path / "out" / "placements.csv")
    assert header[:6] == list(dutch)
    assert (tmp_path / "out" / "placements.csv").read_text(encoding="utf-8-sig").splitlines()[0].count(";") == 9
    assert got[0]["Leerling"] == "Zoë Çelik" and got[2]["Leerling"] == "René d'Ancona; jr."
    assert got[1]["Startdatum"] == "01-09-2026"  # every row as the school wrote it, with its outcome
    assert_rows(got, rows, header=dutch)


def test_missing_column_is_named(config, tmp_path):
    source = tmp_path / "export.csv"
    source.write_text("student,code,crebonummer,leerweg,begindatum,einddatum\nA,1,25180,BOL,2026-09-01,\n")
    result = run_check(source, config, tmp_path / "out")
    assert result.returncode == 2
    assert "no column 'code_leerbedrijf'" in result.stderr and "--columns" in result.stderr
    assert not (tmp_path / "out" / "placements.csv").exists()


def test_unknown_school_is_refused(config, tmp_path):
    source = write_csv(tmp_path / "export.csv", [])
    result = run_check(source, config, tmp_path / "out", school="ROC Nergens")
    assert result.returncode == 2 and "no configured school is named 'ROC Nergens'" in result.stderr


def _distinct_rows(data: list[dict], count: int) -> list[Expected]:
    """One placement per company, all recognised: each needs its own WL 2.0 call."""
    rows = []
    for c in data:
        recs = [e for e in c["erkenningen"] if e["status"] == "ERKEND" and e["einddatum"] is None
                and e["begindatum"] < START]
        if recs and len(rows) < count:
            rows.append(Expected([f"Student {len(rows)}", c["leerbedrijfId"], recs[0]["crebonummer"],
                                  recs[0]["leerweg"], START, END], "ok", leerbedrijf_id=c["leerbedrijfId"]))
    return rows


def _decided_lines(out) -> int:
    state = out / "state.jsonl"
    return max(0, len(state.read_text().splitlines()) - 1) if state.exists() else 0


def _details_calls(sim) -> int:
    import requests

    messages = requests.get(f"{sim.url}/admin/messages", params={"limit": 500}, timeout=10).json()["messages"]
    return sum(1 for m in messages if m["operation"] == "OpvragenDetailgegevensLeerbedrijf")


def test_interrupted_run_resumes_where_it_stopped(sim, data, config, tmp_path):
    rows = _distinct_rows(data, 16)
    source = write_csv(tmp_path / "export.csv", rows)
    out = tmp_path / "out"
    proc = start_check(source, config, out, "--rate", "4", "--workers", "2")
    deadline = time.monotonic() + 30
    while _decided_lines(out) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # a crash, not a polite stop
    proc.communicate(timeout=10)
    decided = _decided_lines(out)
    assert 3 <= decided < len(rows), "the kill should land mid-way"
    assert not (out / "placements.csv").exists()

    calls_before = _details_calls(sim)
    result = run_check(source, config, out, "--rate", "0")
    assert result.returncode == 0, result.stderr
    assert f"resuming: {decided} of {len(rows)}" in result.stderr
    assert _details_calls(sim) - calls_before == len(rows) - decided  # only the rows not yet decided
    _, got = read_results(out / "placements.csv")
    assert_rows(got, rows)


def test_sigterm_stops_politely_and_a_rerun_finishes(data, config, tmp_path):
    rows = _distinct_rows(data, 12)
    source = write_csv(tmp_path / "export.csv", rows)
    out = tmp_path / "out"
    proc = start_check(source, config, out, "--rate", "4")
    deadline = time.monotonic() + 30
    while _decided_lines(out) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "run the same command again to continue" in stderr
    result = run_check(source, config, out, "--rate", "0")
    assert result.returncode == 0 and "resuming:" in result.stderr
    assert_rows(read_results(out / "placements.csv")[1], rows)


def test_unavailable_rows_are_checked_again_on_the_next_run(expected, config, tmp_path):
    dead = write_config(tmp_path / "dead.toml", f"http://127.0.0.1:{free_port()}/wl2",
                        _store_url(config), free_port(), timeout_s=1.0)
    rows = expected[:4] + expected[-2:]
    source = write_csv(tmp_path / "export.csv", rows)
    out = tmp_path / "out"
    result = run_check(source, dead, out, "--retry-backoff", "0.05", "--retries", "2")
    assert result.returncode == 1, result.stderr
    assert "could not be checked" in result.stderr
    _, got = read_results(out / "placements.csv")
    outcomes = [g["outcome"] for g in got]
    # the mapped code resolves from the store alone; its company still needs WL 2.0
    assert outcomes == ["unavailable"] * 4 + ["invalid_row"] * 2
    assert "WL 2.0 unavailable after" in got[0]["detail"]

    result = run_check(source, config, out)
    assert result.returncode == 0, result.stderr
    assert "resuming: 2 of 6" in result.stderr  # the invalid rows were decided; the unavailable ones were not
    assert_rows(read_results(out / "placements.csv")[1], rows)


def _store_url(config) -> str:
    from adapter.config import load_config

    return load_config(config).store.url


# -- the report, as a browser shows it -------------------------------------------------------------------------
def _bars(dom, chart_id: str) -> list[int]:
    """The values of the bar segments pygal drew (a <rect> with a size, and its value in a <desc>)."""
    bars = dom.xpath(f'//*[@id="{chart_id}"]//*[local-name()="svg"]//*[local-name()="g" and @class="bar"]')
    drawn = [b for b in bars if b.xpath('*[local-name()="rect" and @width > 0 and @height > 0]')]
    return [int(b.xpath('string(*[local-name()="desc" and @class="value"])')) for b in drawn]


@needs_chromium
def test_report_renders_with_charts_and_counts_that_match_the_csv(checked, tmp_path):
    from lxml import html

    _, out = checked
    _, rows = read_results(out / "placements.csv")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', page), "the page must not fetch anything"
    assert "<link" not in page and "<script src" not in page

    dom = html.fromstring(dump_dom((out / "report.html").as_uri()))
    assert dom.get("lang") in ("nl", "en")
    assert dom.xpath('string(//*[@id="total"])') == str(len(rows))
    counts = Counter(r["outcome"] for r in rows)
    shown = {tr.get("data-outcome"): int(tr.xpath('string(td[@class="count"])'))
             for tr in dom.xpath('//table[@id="counts"]/tbody/tr')}
    assert shown == {code: counts.get(code, 0) for code in CODES}
    for tr in dom.xpath('//table[@id="counts"]/tbody/tr'):  # each outcome by its code, next to its labels
        o = BY_CODE[tr.get("data-outcome")]
        assert tr.xpath("string(td/code)") == o.code
        assert tr.xpath('string(.//span[@class="nl"])') == o.nl and tr.xpath('string(.//span[@class="en"])') == o.en

    valid = [r for r in rows if r["outcome"] != "invalid_row"]
    per_crebo = _bars(dom, "chart-crebo")
    assert len(per_crebo) == len({(r["crebonummer"], r["outcome"]) for r in valid}) and sum(per_crebo) == len(valid)
    at_risk = [r for r in rows if BY_CODE[r["outcome"]].at_risk]
    per_month = _bars(dom, "chart-risk")
    assert len(per_month) == len({(r["outcome"], r["risk_date"][:7]) for r in at_risk})
    assert at_risk and sum(per_month) == len(at_risk)

    problems = dom.xpath('//table[@id="problems"]/tbody/tr')
    assert len(problems) == sum(1 for r in rows if BY_CODE[r["outcome"]].problem)
    assert dom.xpath('string(//*[@id="problem-count"])') == str(len(problems))
    assert sorted(tr.get("data-outcome") for tr in problems) == sorted(
        r["outcome"] for r in rows if BY_CODE[r["outcome"]].problem)


@needs_chromium
def test_problem_table_sorts_in_the_browser(checked):
    from lxml import html

    _, out = checked
    url = (out / "report.html").as_uri()
    lines = lambda dom: [int(tr.xpath("string(td[1])")) for tr in dom.xpath('//table[@id="problems"]/tbody/tr')]
    down = html.fromstring(dump_dom(url + "#sort=-line"))
    assert lines(down) == sorted(lines(down), reverse=True) and len(lines(down)) > 3
    by_outcome = html.fromstring(dump_dom(url + "#sort=outcome"))
    outcomes = [tr.xpath("string(td[8])") for tr in by_outcome.xpath('//table[@id="problems"]/tbody/tr')]
    assert outcomes == sorted(outcomes) and outcomes != [tr.get("data-outcome") for tr in down.xpath(
        '//table[@id="problems"]/tbody/tr')]
    assert by_outcome.xpath('//th[@data-key="outcome"]/@aria-sort') == ["ascending"]


@needs_chromium
def test_report_screenshot(checked, tmp_path):
    _, out = checked
    png = screenshot((out / "report.html").as_uri(), tmp_path / "report.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000  # more than a blank page
