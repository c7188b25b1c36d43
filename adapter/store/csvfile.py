"""Reading the small CSV files operators import: UTF-8 with or without BOM, comma or semicolon, header optional.

Rows come out as ``(line_no, field, ...)`` with their true line numbers, so that every bad row can be reported as
``FILE:LINE: reason``; checking the fields is the importer's job (a wrong column count included).
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

from adapter.errors import UnreadableFile


def _header_key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if first.count(";") > first.count(",") else ","


def read_rows(path: str | Path, columns: Sequence[str]) -> list[tuple]:
    """The file's non-blank rows; a first row naming ``columns`` (any case, with or without _) is a header."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not UTF-8 text (byte {exc.start} cannot be decoded)") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    rows: list[tuple] = []
    header = [_header_key(c) for c in columns]
    first, line_no = True, 1
    try:
        for fields in reader:
            if any(f.strip() for f in fields):
                if not (first and [_header_key(f) for f in fields] == header):
                    rows.append((line_no, *fields))
                first = False
            line_no = reader.line_num + 1
    except csv.Error as exc:
        raise UnreadableFile(f"line {reader.line_num}: not valid CSV: {exc}") from None
    return rows
