"""The rules that judge one placement against a company's recognitions, and reading export files: pure functions,
no servers (the end-to-end check is test_bpv_check.py)."""
from __future__ import annotations

from datetime import date

import pytest

from adapter.bpv.judge import judge
from adapter.bpv.placements import Placement, UnreadableExport, parse_column_map, read_export


def rec(leerweg, begin, end=None, status="ERKEND", crebo="25180"):
    return {"Crebonummer": crebo, "Leerweg": leerweg, "Status": status, "Begindatum": date.fromisoformat(begin),
            "Einddatum": date.fromisoformat(end) if end else None}


def placement(leerweg="BOL", begin="2026-09-01", end="2027-06-30"):
    return Placement("S", "100001", "25180", leerweg, date.fromisoformat(begin),
                     date.fromisoformat(end) if end else None)


def test_recognitions_that_take_over_without_a_gap_cover_the_placement():
    recs = [rec("BOL", "2020-01-01", "2026-12-31"), rec("BOL", "2027-01-01")]
    assert judge(placement(), recs).outcome == "ok"


def test_a_gap_between_recognitions_is_the_end():
    v = judge(placement(), [rec("BOL", "2020-01-01", "2026-12-30"), rec("BOL", "2027-01-01")])
    assert (v.outcome, v.risk_date) == ("recognition_ends_during_placement", date(2026, 12, 31))
    assert "recognised until 2026-12-30" in v.detail


def test_an_open_placement_needs_an_open_recognition():
    assert judge(placement(end=None), [rec("BOL", "2020-01-01")]).outcome == "ok"
    assert judge(placement(end=None), [rec("BOL", "2020-01-01", "2030-01-01")]).outcome == \
        "recognition_ends_during_placement"


def test_last_recognised_day_is_the_last_day_of_the_placement():
    assert judge(placement(), [rec("BOL", "2020-01-01", "2027-06-30")]).outcome == "ok"


def test_leerweg_decides_at_the_start_and_after():
    assert judge(placement("BBL"), [rec("BOL", "2020-01-01")]).outcome == "leerweg_mismatch"
    # BBL ran out before the end, BOL goes on: the BBL placement is not covered to its end
    v = judge(placement("BBL"), [rec("BOL", "2020-01-01"), rec("BBL", "2020-01-01", "2027-01-31")])
    assert v.outcome == "recognition_ends_during_placement" and v.risk_date == date(2027, 2, 1)


def test_recognition_without_leerweg_counts_for_both():
    assert judge(placement("BBL"), [rec(None, "2020-01-01")]).outcome == "ok"


def test_not_recognised_at_start():
    assert "no recognition for crebo 25180" in judge(placement(), []).detail
    assert judge(placement(), [rec("BOL", "2020-01-01", crebo="25181")]).outcome == "not_recognised_at_start"
    v = judge(placement(), [rec("BOL", "2020-01-01", "2025-12-31")])
    assert v.outcome == "not_recognised_at_start" and "ended on 2025-12-31" in v.detail
    assert judge(placement(), [rec("BOL", "2020-01-01", status="NIET_ERKEND")]).outcome == "not_recognised_at_start"


def test_dates_as_text_are_read_too():
    assert judge(placement(), [{"Crebonummer": "25180", "Leerweg": "BOL", "Status": "ERKEND",
                                "Begindatum": "2020-01-01"}]).outcome == "ok"


def test_export_with_bom_tabs_and_dutch_dates(tmp_path):
    f = tmp_path / "e.csv"
    f.write_bytes("\ufeffStudent\tCode_Leerbedrijf\tcrebonummer\tleerweg\tbegindatum\teinddatum\r\n"
                  "A\t100001\t2518\tbbl\t1-9-2026\t\r\n\r\n".encode())
    export = read_export(f)
    assert (export.encoding, export.delimiter) == ("utf-8", "\t")
    (row,) = export.rows
    assert row.placement == Placement("A", "100001", "02518", "BBL", date(2026, 9, 1), None)


def test_column_map_is_checked():
    assert parse_column_map("student=Leerling, leerweg = Leerweg") == {"student": "Leerling", "leerweg": "Leerweg"}
    with pytest.raises(UnreadableExport, match="'naam' is not one of"):
        parse_column_map("naam=Leerling")
    with pytest.raises(UnreadableExport, match="is not NAME=HEADER"):
        parse_column_map("student")


def test_an_empty_file_is_refused(tmp_path):
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(UnreadableExport, match="empty"):
        read_export(tmp_path / "e.csv")
