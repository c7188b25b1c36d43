"""bench/compare.py's verdicts: each goal judged on the median of the rounds' ratios, each ratio taken within its
round, and a server's CPU counted also for the workers it replaced. (What the bench measures is measured in bench/,
never in timed tests; this is only the arithmetic that turns its runs into verdicts.)"""
from __future__ import annotations

import os
import sys

import pytest

from tests.support.servers import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import compare  # noqa: E402  (bench/ is not a package)


def runs(round_: int, pt_rps: float, ad_rps: float, pt_p50: float, ad_p50: float) -> list[compare.Run]:
    """A round's four runs of one operation at 1 and 16 clients, with these rates (@16) and medians (@1)."""
    made = []
    for target, rps, p50 in (("passthrough", pt_rps, pt_p50), ("adapter", ad_rps, ad_p50)):
        for clients in (1, 16):
            run = compare.Run(target, "Zoeken-L25", clients, 0.0, requests=int(rps * 4), seconds=4.0, p50_ms=p50,
                              p99_ms=10.0, writes={"total": 0, "connects": 0}, round=round_)
            made.append(run)
    return made


def test_each_ratio_is_taken_within_its_round_and_the_goal_judged_on_their_median():
    # the machine halves its speed in round 2: rates drop for both servers, the ratio does not
    rounds = [runs(0, 2000, 1100, 0.8, 1.6), runs(1, 1000, 560, 1.6, 2.7), runs(2, 1800, 700, 0.8, 2.4)]
    per_round = [compare.op_figures("Zoeken-L25", r, 100.0) for r in rounds]
    f = compare.combine("Zoeken-L25", per_round)
    assert [round(r["A_ratio"], 3) for r in per_round] == [0.55, 0.56, 0.389]
    assert f["A_ratio"] == pytest.approx(0.55) and f["A"] is True  # one bad round does not decide
    assert f["spread"]["A_ratio"] == pytest.approx((0.3889, 0.56), abs=1e-3)
    assert f["B_added_ms"] == pytest.approx(1.1) and f["B_added"] is False  # 0.8, 1.1 and 1.6 ms: median 1.1
    assert f["pt_rps16"] == 1800 and "C_64" not in f  # no run with latency: goal C not judged


def test_goal_c_at_256_clients_compares_with_what_the_clients_can_ask_for_where_that_is_less():
    """At 256 clients that wait 100 ms per answer, at most 2,560 calls a second can be asked for: a machine whose
    CPU-bound rate is higher is judged against that, one whose rate is lower against its own rate."""
    def judged(cpu_bound: float, at_256: float) -> float:
        made = runs(0, 2000, cpu_bound, 0.8, 1.0)
        for target, clients, rps in (("passthrough", 64, 600), ("adapter", 64, 600), ("passthrough", 256, 610),
                                     ("adapter", 256, at_256)):
            made.append(compare.Run(target, "Zoeken-L25", clients, 100.0, requests=int(rps * 4),
                                    seconds=4.0, p50_ms=110, p99_ms=150, writes={"total": 0, "connects": 0}))
        return compare.op_figures("Zoeken-L25", made, 100.0)["C_256_rate"]
    assert compare.offered(256, 100.0) == 2560
    assert judged(3300, 2364) == pytest.approx(2364 / 2560)  # fast machine: the clients are the limit
    assert judged(2000, 1900) == pytest.approx(0.95)  # slow machine: its CPU is
    assert judged(3300, 1900) < 0.8  # starved calls still fail


def test_the_tables_print_the_spread_and_the_summary_counts_the_goals_met():
    rounds = [runs(n, 2000, ad, 0.8, 1.2) for n, ad in enumerate((900, 1100, 1300))]
    f = compare.combine("Zoeken-L25", [compare.op_figures("Zoeken-L25", r, 100.0) for r in rounds])
    fig = {"settings": {"adapter_config": [], "adapter_server": "x", "workers": 2, "threads": 32, "cpus": 2,
                        "seconds": 4, "rounds": 3, "latency_ms": 100, "latency_seconds": 4},
           "date": "2026-12-01", "operations": [f], "notes": [],
           "RSS": {"calls": 1000, "end_mb": [74.0], "start_mb": [71.0], "ok": True, "workers_restarted": False,
                   "path": []}}
    text = compare.tables(fig)
    assert "0.55× PASS [0.45–0.65]" in text
    assert ("Goals met, by operation: A 1 of 1; B added latency 1 of 1; B p99 1 of 1; RSS PASS; no call lost PASS"
            in text)
    fig["runs"] = [{"target": "passthrough", "errors": 0}, {"target": "adapter", "errors": 47}]  # wrk's read errors
    assert "; no call lost FAIL (47 errors: see the notes)" in compare.tables(fig)


def test_a_server_s_cpu_includes_its_children_that_have_ended():
    child = os.fork()
    if child == 0:  # a "worker" that burns CPU and ends
        end = os.times().elapsed + 0.3
        while os.times().elapsed < end:
            pass
        os._exit(0)
    before, own_before = compare.cpu_seconds([os.getpid()], reaped=True), compare.cpu_seconds([os.getpid()])
    os.waitpid(child, 0)  # reaped: its CPU moves into this process's cutime/cstime
    assert compare.cpu_seconds([os.getpid()], reaped=True) - before >= 0.2
    assert compare.cpu_seconds([os.getpid()]) - own_before < 0.2  # (not counted without ``reaped``)
