"""Checks for the values the store accepts from files and callers: each returns a reason in plain words, or None."""
from __future__ import annotations

import re

from adapter.soap.oin import is_school_oin
from adapter.translate.values import LEERBEDRIJF_ID

CODE_MAX_LENGTH = 40
_CREBO = re.compile(r"^[0-9]{1,5}$")


def code_problem(code: str) -> str | None:
    if not code:
        return "code_leerbedrijf is empty"
    if len(code) > CODE_MAX_LENGTH:
        return f"code_leerbedrijf {code[:20]!r}... is {len(code)} characters long, at most {CODE_MAX_LENGTH} allowed"
    return None


def leerbedrijf_id_problem(value: str) -> str | None:
    if not LEERBEDRIJF_ID.match(value):
        return f"leerbedrijf_id {value!r} is not 1 to 12 digits"
    return None


def oin_problem(value: str) -> str | None:
    if not is_school_oin(value):
        return f"tenant_oin {value!r} is not an MBO school OIN (00000007000 + BRIN of 4 + 00000)"
    return None


def crebo_problem(value: str) -> str | None:
    if not _CREBO.match(value) or int(value) == 0:
        return f"crebonummer {value!r} is not a number from 1 to 99999"
    return None


def crebo_key(value: str | int | None) -> str:
    """The stored form: five digits with leading zeros, or '' for 'no crebo' (the whole company)."""
    if value is None or value == "":
        return ""
    text = str(value)
    if crebo_problem(text):
        raise ValueError(crebo_problem(text))
    return text.zfill(5)


def crebo_from_key(key: str) -> str | None:
    return key or None
