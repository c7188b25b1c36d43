"""OINs (Organisatie-identificatienummers) as Edukoppeling uses them."""
from __future__ import annotations

import re

OIN = re.compile(r"[0-9A-Za-z]{20}")
SCHOOL_OIN = re.compile(r"00000007000[0-9A-Za-z]{4}00000")
"""An MBO school's OIN: ``00000007000`` + the 4-character BRIN + ``00000``."""


def is_oin(value: str | None) -> bool:
    return bool(value) and OIN.fullmatch(value) is not None


def is_school_oin(value: str | None) -> bool:
    return bool(value) and SCHOOL_OIN.fullmatch(value) is not None
