"""CodeLeerbedrijf -> LeerbedrijfId (CONTRACTS.md, "Translation rules"): mapping table, bare IDs, old-style codes."""
from __future__ import annotations

from collections.abc import Callable

from adapter.translate import requests as to_wl2
from adapter.translate import results as to_wl1
from adapter.translate import values


class UnknownCode(LookupError):
    """The code cannot be resolved to exactly one LeerbedrijfId (WL 1.0 signaalcode 3)."""


def resolve_code(code: str, store, search: Callable[[dict], dict]) -> str:
    """``search(body)`` runs ZoekenLeerbedrijfOfLeerplaats upstream for the calling school."""
    code = code.strip()
    mapped = store.resolve_code(code)
    if mapped:
        return mapped
    if values.is_leerbedrijf_id(code):
        return code
    old = values.parse_old_code(code)
    if old is None:
        raise UnknownCode(code)
    ids = to_wl1.oude_code_ids(search(to_wl2.zoek_oude_code(old)))
    if len(ids) != 1:
        raise UnknownCode(code)
    (leerbedrijf_id,) = ids
    store.add_mapping(code, leerbedrijf_id)
    return leerbedrijf_id
