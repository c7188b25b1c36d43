"""The outcomes of a placement check, as data: one code per outcome, with a Dutch and an English label.

Kept in one table so the CSV, the report and the docs use the same codes and words.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    code: str
    nl: str
    en: str
    problem: bool  # listed in the report's table of problems
    at_risk: bool  # counted in the chart of placements at risk by month (the problem has a day)
    colour: str


OUTCOMES: tuple[Outcome, ...] = (
    Outcome("ok", "In orde", "OK", False, False, "#2e7d32"),
    Outcome("old_code", "Oude code: sla de nieuwe LeerbedrijfId op", "Old code: store the new LeerbedrijfId",
            True, False, "#7cb342"),
    Outcome("recognition_ends_during_placement", "Erkenning eindigt tijdens de BPV",
            "Recognition ends during the placement", True, True, "#f9a825"),
    Outcome("leerweg_mismatch", "Niet erkend voor deze leerweg", "Not recognised for this leerweg",
            True, True, "#ef6c00"),
    Outcome("not_recognised_at_start", "Niet erkend op de begindatum", "Not recognised on the start date",
            True, True, "#c62828"),
    Outcome("unknown_company", "Leerbedrijf onbekend", "Company unknown", True, False, "#6a1b9a"),
    Outcome("invalid_row", "Ongeldige regel", "Invalid row", True, False, "#546e7a"),
    Outcome("unavailable", "WL 2.0 niet bereikbaar: opnieuw proberen", "WL 2.0 unavailable: try again",
            True, False, "#9e9e9e"),
)
BY_CODE = {o.code: o for o in OUTCOMES}
CODES = tuple(o.code for o in OUTCOMES)
# An outcome that is final: a resumed run does not check the row again ("unavailable" is retried).
DECIDED = frozenset(CODES) - {"unavailable"}
