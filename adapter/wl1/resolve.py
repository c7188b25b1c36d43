"""CodeLeerbedrijf -> LeerbedrijfId (CONTRACTS.md, "Translation rules"): mapping table, bare IDs, old-style codes."""
from __future__ import annotations

from collections.abc import Callable

from adapter.errors import InvalidInput, UnknownCode, Wl2Refused
from adapter.translate import to_wl1, to_wl2, values


def resolve_code(code: str, store, search: Callable[[dict], dict]) -> str:
    """``search(body)`` runs ZoekenLeerbedrijfOfLeerplaats upstream for the calling school.

    A code of only white space is valid to the XSD (xs:string, minLength 1) but names no company: invalid input
    (signaalcode 4, Melding naming CodeLeerbedrijf), not an unknown code, since no code was given at all."""
    code = code.strip()
    if not code:
        raise InvalidInput("CodeLeerbedrijf", "bevat alleen witruimte")
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
        refused = to_wl1.not_ok(answer["Signalering"], "")
        raise Wl2Refused(refused["Signaalcode"], refused.get("Melding"))
    ids = to_wl1.oude_code_ids(answer)
    if len(ids) != 1:
        raise UnknownCode(code)
    (leerbedrijf_id,) = ids
    store.add_mapping(code, leerbedrijf_id)
    return leerbedrijf_id
