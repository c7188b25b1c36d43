"""Reading a school's placement export: a CSV file as SIS exports write them, turned into checked placements.

Schools export from Excel-era systems: UTF-8 (with or without a BOM) or Windows-1252, `,` or `;` between fields,
Dutch or English headers. The standard library does the hard parts (``csv.Sniffer`` finds the delimiter, ``csv``
handles quoting); this module only decides the encoding, maps the columns and checks each row's values, so a bad
row becomes an ``invalid_row`` outcome with a reason instead of stopping the check.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

COLUMNS = ("student", "code_leerbedrijf", "crebonummer", "leerweg", "begindatum", "einddatum")
LEERWEGEN = ("BOL", "BBL")
_DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y")
_CREBO = re.compile(r"^[0-9]{1,5}$")
CODE_MAX = 40  # WL 1.0 CodeLeerbedrijf is 1..40 characters


class UnreadableExport(ValueError):
    """The file as a whole cannot be used (cannot be read, no header, required columns missing)."""


@dataclass(frozen=True)
class Placement:
    student: str
    code: str
    crebo: str  # five digits, as WL 2.0 writes it
    leerweg: str
    begin: date
    end: date | None


@dataclass
class Row:
    """One data line of the export: its fields as read, and either a placement or why it is invalid."""

    line: int
    fields: list[str]
    values: dict[str, str] = field(default_factory=dict)  # our column name -> the text in the file
    placement: Placement | None = None
    invalid: str = ""
    key: str = field(default="", init=False)

    def __post_init__(self) -> None:
        # identifies this row across runs: a row edited between runs is checked again
        self.key = f"{self.line}:" + hashlib.sha256("\x1f".join(self.fields).encode()).hexdigest()[:16]


@dataclass
class Export:
    header: list[str]
    rows: list[Row]
    encoding: str
    delimiter: str
    digest: str  # of the whole file: a resumed run must be about the same file


def decode(data: bytes) -> tuple[str, str]:
    """UTF-8 (a BOM is dropped) when the bytes are valid UTF-8, else Windows-1252, which Dutch Excel writes."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        # one column, or nothing to compare: the header decides
        first = sample.splitlines()[0] if sample else ""
        return ";" if first.count(";") > first.count(",") else ","


def parse_column_map(spec: str | None) -> dict[str, str]:
    """``student=Leerling,code_leerbedrijf=Bedrijfscode`` -> {our name: the file's header}."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (spec or "").split(","))):
        name, sep, header = part.partition("=")
        name, header = name.strip().lower(), header.strip()
        if not sep or not header:
            raise UnreadableExport(f"--columns: '{part}' is not NAME=HEADER")
        if name not in COLUMNS:
            raise UnreadableExport(f"--columns: '{name}' is not one of {', '.join(COLUMNS)}")
        mapping[name] = header
    return mapping


def _positions(header: list[str], mapping: dict[str, str]) -> dict[str, int]:
    normalised = [h.strip().lower() for h in header]
    positions, missing = {}, []
    for name in COLUMNS:
        wanted = mapping.get(name, name).strip().lower()
        if wanted in normalised:
            positions[name] = normalised.index(wanted)
        else:
            missing.append(mapping.get(name, name))
    if missing:
        raise UnreadableExport(f"the header has no column {', '.join(repr(m) for m in missing)} "
                               f"(found: {', '.join(header)}); use --columns NAME=HEADER for other names")
    return positions


def parse_date(text: str) -> date | None:
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _problems(values: dict[str, str]) -> tuple[Placement | None, list[str]]:
    problems = []
    if not values["student"]:
        problems.append("student is empty")
    code = values["code_leerbedrijf"]
    if not code:
        problems.append("code_leerbedrijf is empty")
    elif len(code) > CODE_MAX:
        problems.append(f"code_leerbedrijf is longer than {CODE_MAX} characters")
    crebo = values["crebonummer"]
    if not _CREBO.match(crebo) or int(crebo) == 0:
        problems.append(f"crebonummer '{crebo}' is not a number from 1 to 99999")
    leerweg = values["leerweg"].upper()
    if leerweg not in LEERWEGEN:
        problems.append(f"leerweg '{values['leerweg']}' is not BOL or BBL")
    begin = parse_date(values["begindatum"])
    if begin is None:
        problems.append(f"begindatum '{values['begindatum']}' is not a date (expected YYYY-MM-DD or DD-MM-YYYY)")
    end = parse_date(values["einddatum"]) if values["einddatum"] else None
    if values["einddatum"] and end is None:
        problems.append(f"einddatum '{values['einddatum']}' is not a date (expected YYYY-MM-DD or DD-MM-YYYY)")
    if begin and end and end < begin:
        problems.append(f"einddatum {end.isoformat()} is before begindatum {begin.isoformat()}")
    if problems:
        return None, problems
    return Placement(values["student"], code, f"{int(crebo):05d}", leerweg, begin, end), []


def read_row(line: int, fields: list[str], header: list[str], positions: dict[str, int]) -> Row:
    padded = (fields + [""] * len(header))[:len(header)]
    values = {name: padded[i].strip() for name, i in positions.items()}
    if len(fields) != len(header):
        return Row(line, padded, values, invalid=f"{len(fields)} fields where the header has {len(header)}")
    placement, problems = _problems(values)
    return Row(line, fields, values, placement, "; ".join(problems))


def read_export(path: str | Path, column_map: dict[str, str] | None = None) -> Export:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UnreadableExport(f"cannot read: {exc.strerror}") from None
    text, encoding = decode(data)
    if not text.strip():
        raise UnreadableExport("the file is empty (a header row is needed)")
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        positions = _positions(header, column_map or {})
        rows = [read_row(reader.line_num, fields, header, positions)
                for fields in reader if any(f.strip() for f in fields)]
    except csv.Error as exc:
        raise UnreadableExport(f"line {reader.line_num}: {exc}") from None
    return Export(header, rows, encoding, delimiter, hashlib.sha256(data).hexdigest())
