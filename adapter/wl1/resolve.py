"""CodeLeerbedrijf -> LeerbedrijfId (CONTRACTS.md, "Translation rules"): mapping table, bare IDs, old-style codes."""
from __future__ import annotations

from collections.abc import Callable

from adapter.translate import to_wl2
from adapter.translate import to_wl1
from adapter.translate import values


class UnknownCode(LookupError):
    """The code cannot be resolved to exactly one LeerbedrijfId (WL 1.0 signaalcode 3)."""


class ResolutionRefused(Exception):
    """WL 2.0 answered the resolving search with an error: ``result`` is the WL 1.0 outcome to give (999, 996, ...)."""

    def __init__(self, result: dict):
        super().__init__(result)
        self.result = result


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
    answer = search(to_wl2.zoek_oude_code(old))
    if answer["Signalering"]["Signaalcode"] not in (0, 1):  # not "found" or "nothing found": WL 2.0 said no
        raise ResolutionRefused(to_wl1.not_ok(answer["Signalering"], ""))
    ids = to_wl1.oude_code_ids(answer)
    if len(ids) != 1:
        raise UnknownCode(code)
    (leerbedrijf_id,) = ids
    store.add_mapping(code, leerbedrijf_id)
    return leerbedrijf_id
