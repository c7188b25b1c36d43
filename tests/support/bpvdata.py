"""Placement files built from a running simulator's data, each row with the outcome the check must give it.

The rows are picked from ``GET /admin/leerbedrijven`` (never hard-coded ids), so they stay right if the generated
data set changes; a withdrawal is posted through ``POST /admin/events`` like SBB would make one.
"""
from __future__ import annotations

import csv
import io
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import requests

from tests.support.servers import ROOT

HEADER = ("student", "code_leerbedrijf", "crebonummer", "leerweg", "begindatum", "einddatum")
START, END = "2026-09-01", "2027-06-30"
WITHDRAWN_FROM = "2027-02-01"  # ingangsdatum of the posted withdrawal: 2027-01-31 is the last recognised day


@dataclass
class Expected:
    fields: list[str]
    outcome: str
    detail: str = ""  # a fragment the detail must contain
    leerbedrijf_id: str = ""
    risk_date: str = ""
    extra: dict = field(default_factory=dict)


def companies(sim_url: str, count: int) -> list[dict]:
    r = requests.get(f"{sim_url}/admin/leerbedrijven", params={"offset": 0, "limit": count}, timeout=10)
    r.raise_for_status()
    return r.json()["leerbedrijven"]


def _recs(c: dict, crebo: str) -> list[dict]:
    return [e for e in c["erkenningen"] if e["crebonummer"] == crebo]


def _open_ended(e: dict) -> bool:
    return e["status"] == "ERKEND" and e["einddatum"] is None


def _pick(cs: list[dict], taken: set[str], want) -> tuple[dict, str]:
    """The first company (not yet taken) with a crebo for which ``want(recognitions)`` holds."""
    for c in cs:
        if c["leerbedrijfId"] in taken:
            continue
        for crebo in sorted({e["crebonummer"] for e in c["erkenningen"]}):
            if want(_recs(c, crebo)):
                taken.add(c["leerbedrijfId"])
                return c, crebo
    raise LookupError("the simulator's data has no such company")


def bol_only(recs):
    return [e["leerweg"] for e in recs] == ["BOL"] and _open_ended(recs[0]) and recs[0]["begindatum"] < START


def bol_open(recs):
    return any(e["leerweg"] == "BOL" and _open_ended(e) and e["begindatum"] < START for e in recs)


def begins_late(recs):
    """One BOL recognition, the crebo's only one, that begins after 2010: a placement before it is not covered."""
    return len(recs) == 1 and recs[0]["leerweg"] == "BOL" and _open_ended(recs[0]) and recs[0]["begindatum"] > "2010"


def withdraw(sim_url: str, leerbedrijf_id: str, crebo: str, ingangsdatum: str = WITHDRAWN_FROM) -> None:
    r = requests.post(f"{sim_url}/admin/events", json={
        "soort": "ERKENNING_INGETROKKEN", "leerbedrijfId": leerbedrijf_id, "crebonummer": crebo,
        "ingangsdatum": ingangsdatum, "toelichting": "Bedrijf beëindigd"}, timeout=10)
    r.raise_for_status()


def placement_rows(sim_url: str, cs: list[dict], mapped_code: str) -> list[Expected]:
    """Every outcome the check knows (apart from ``unavailable``), with the values the check must find.

    Posts one withdrawal to the simulator. ``mapped_code`` is a made-up legacy code the caller maps in the store
    to the company of the first row."""
    taken: set[str] = set()
    rows: list[Expected] = []
    ok, ok_crebo = _pick(cs, taken, bol_open)
    rows.append(Expected(["Anna de Vries", ok["leerbedrijfId"], ok_crebo, "BOL", START, END], "ok",
                         leerbedrijf_id=ok["leerbedrijfId"]))
    rows.append(Expected(["Bram", mapped_code, ok_crebo, "bol", START, ""], "ok", leerbedrijf_id=ok["leerbedrijfId"]))

    bol, bol_crebo = _pick(cs, taken, bol_only)
    rows.append(Expected(["Cees", bol["leerbedrijfId"], bol_crebo, "BBL", START, END], "leerweg_mismatch",
                         "only for BOL, not for BBL", bol["leerbedrijfId"], START))

    late, late_crebo = _pick(cs, taken, begins_late)
    begin = date.fromisoformat(_recs(late, late_crebo)[0]["begindatum"])
    before = (begin - timedelta(days=30)).isoformat()
    rows.append(Expected(["Dirk", late["leerbedrijfId"], late_crebo, "BOL", before, ""], "not_recognised_at_start",
                         f"begins only on {begin.isoformat()}", late["leerbedrijfId"], before))
    missing_crebo = "25655" if not _recs(late, "25655") else "25180"
    rows.append(Expected(["Eva", late["leerbedrijfId"], missing_crebo, "BOL", START, END], "not_recognised_at_start",
                         f"no recognition for crebo {missing_crebo}", late["leerbedrijfId"], START))

    gone, gone_crebo = _pick(cs, taken, lambda recs: bol_open(recs) and all(_open_ended(e) for e in recs))
    withdraw(sim_url, gone["leerbedrijfId"], gone_crebo)
    last_day = (date.fromisoformat(WITHDRAWN_FROM) - timedelta(days=1)).isoformat()
    rows.append(Expected(["Fenna", gone["leerbedrijfId"], gone_crebo, "BOL", START, END],
                         "recognition_ends_during_placement", f"recognised until {last_day}", gone["leerbedrijfId"],
                         WITHDRAWN_FROM))
    rows.append(Expected(["Gijs", gone["leerbedrijfId"], gone_crebo, "BOL", START, ""],
                         "recognition_ends_during_placement", f"recognised until {last_day}", gone["leerbedrijfId"],
                         WITHDRAWN_FROM))
    rows.append(Expected(["Hanna", gone["leerbedrijfId"], gone_crebo, "BOL", START, last_day], "ok",
                         leerbedrijf_id=gone["leerbedrijfId"]))

    old, old_crebo = _pick([c for c in cs if c["codeLeerbedrijf"] and not _shares_address(c, cs)], taken, bol_open)
    rows.append(Expected(["Ivo", old["codeLeerbedrijf"], old_crebo, "BOL", START, END], "old_code",
                         f"store LeerbedrijfId {old['leerbedrijfId']}", old["leerbedrijfId"]))
    twin = next(c for c in cs if c["codeLeerbedrijf"] and _shares_address(c, cs))
    rows.append(Expected(["Jet", twin["codeLeerbedrijf"], twin["erkenningen"][0]["crebonummer"], "BOL", START, END],
                         "unknown_company", "cannot be resolved"))
    rows.append(Expected(["Kees", "ONBEKEND-BEDRIJF", ok_crebo, "BOL", START, END], "unknown_company",
                         "cannot be resolved"))
    rows.append(Expected(["Lies", "999999999", ok_crebo, "BOL", START, END], "unknown_company",
                         "does not know LeerbedrijfId 999999999", "999999999"))

    rows += [
        Expected(["Mo", ok["leerbedrijfId"], "12a45", "BOL", START, END], "invalid_row", "crebonummer '12a45'"),
        Expected(["Noor", ok["leerbedrijfId"], ok_crebo, "BXL", START, END], "invalid_row", "leerweg 'BXL'"),
        Expected(["Olaf", ok["leerbedrijfId"], ok_crebo, "BOL", "2026-02-31", END], "invalid_row",
                 "begindatum '2026-02-31' is not a date"),
        Expected(["Pim", ok["leerbedrijfId"], ok_crebo, "BOL", END, START], "invalid_row",
                 f"einddatum {START} is before begindatum {END}"),
        Expected(["", ok["leerbedrijfId"], ok_crebo, "BOL", START, END], "invalid_row", "student is empty"),
        Expected(["Quinten", ok["leerbedrijfId"], ok_crebo], "invalid_row", "3 fields where the header has 6"),
    ]
    return rows


def _shares_address(c: dict, cs: list[dict]) -> bool:
    a = c["vestigingsadres"]
    return any(o is not c and o["vestigingsadres"]["postcode"] == a["postcode"]
               and o["vestigingsadres"]["huisnummer"] == a["huisnummer"] for o in cs)


def write_csv(path: Path, rows: list[Expected], header=HEADER, delimiter: str = ",", encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow(r.fields)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def read_results(path: Path) -> tuple[list[str], list[dict]]:
    text = path.read_text(encoding="utf-8-sig")
    delimiter = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    return list(reader.fieldnames), list(reader)


def run_check(csv_path: Path, config: Path, out: Path, *extra: str, timeout: float = 120,
              school: str = "ROC Test") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "adapter", "check-placements", str(csv_path), "--config",
                           str(config), "--school", school, "--out", str(out), "--date", "2026-11-29", *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def start_check(csv_path: Path, config: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "adapter", "check-placements", str(csv_path), "--config",
                             str(config), "--school", "ROC Test", "--out", str(out), "--date", "2026-11-29", *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
