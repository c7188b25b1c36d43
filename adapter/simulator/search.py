"""IdentificeerLeerbedrijf and ZoekenLeerbedrijfOfLeerplaats over the indexed register.

Inputs the XSD allows but that make no sense raise ``BadInput`` (signaalcode 20, naming the element).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from adapter.simulator import tables
from adapter.simulator.errors import BadInput, UnknownCrebo
from adapter.simulator.model import Company, Placement, Recognition
from adapter.simulator.register import TOKEN, Register, fold, normalise_name

NEARBY_PC4 = 20  # ZoekInDeBuurt widens a postcode range by this many 4-digit areas on each side


def check_crebo(crebo: str | None) -> None:
    if crebo is None:
        return
    if crebo == "00000":
        raise BadInput("Crebonummer", "00000 is geen geldig crebonummer")
    if crebo not in tables.QUALIFICATIONS:
        raise UnknownCrebo(crebo)


def identify(register: Register, naam: str, postcode: str, huisnummer: int | None) -> list[Company]:
    """Companies at ``postcode`` (and ``huisnummer``) whose name matches, ignoring case and punctuation."""
    wanted = normalise_name(naam)
    if not wanted:
        raise BadInput("Naam", "de naam bevat geen letters of cijfers")
    found = []
    for ix in register.at_postcodes(postcode, postcode):
        c = register.companies[ix]
        if huisnummer is not None and c.adres.huisnummer != huisnummer:
            continue
        name = normalise_name(c.naam)
        if wanted in name or _without_legal_form(name) in wanted:
            found.append(ix)
    return [register.companies[ix] for ix in register.in_order(found)]


def _without_legal_form(normalised: str) -> str:
    for form in tables.LEGAL_FORMS:
        suffix = " " + normalise_name(form) if form else ""
        if suffix and normalised.endswith(suffix):
            return normalised[: -len(suffix)]
    return normalised


@dataclass
class Query:
    soort: str  # LEERBEDRIJF | LEERPLAATS
    pagina: int
    per_pagina: int
    naam: str | None = None
    naam_exact: bool = False
    leerbedrijf_id: str | None = None
    straat: str | None = None
    huisnummer: int | None = None
    plaats: str | None = None
    postcode_van: str | None = None
    postcode_tot: str | None = None
    in_de_buurt: bool = False
    crebo: str | None = None
    leerweg: str | None = None


@dataclass
class Hit:
    company: Company
    erkenning: Recognition | None = None
    leerplaats: Placement | None = None


def _name_matcher(query: Query):
    pattern = fold(query.naam)
    if "*" in pattern:
        regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)
        return lambda name: regex.fullmatch(name) is not None
    if query.naam_exact:
        return lambda name: name == pattern
    return lambda name: pattern in name


def _postcode_range(query: Query) -> tuple[str, str] | None:
    if query.postcode_van is None and query.postcode_tot is None:
        return None
    van, tot = query.postcode_van or "1000AA", query.postcode_tot or "9999ZZ"
    if van > tot:
        raise BadInput("PostcodeVan", f"PostcodeVan {van} ligt na PostcodeTot {tot}")
    if query.in_de_buurt:
        van = f"{max(1000, int(van[:4]) - NEARBY_PC4)}AA"
        tot = f"{min(9999, int(tot[:4]) + NEARBY_PC4)}ZZ"
    return van, tot


def search(register: Register, query: Query, today: dt.date) -> tuple[int, list[Hit]]:
    """(total number of results, the hits on the requested page)."""
    check_crebo(query.crebo)
    pc_range = _postcode_range(query)
    candidates: list = []
    if query.leerbedrijf_id is not None:
        c = register.company(query.leerbedrijf_id)
        candidates.append([] if c is None else [c.ix])
    if pc_range:
        candidates.append(register.at_postcodes(*pc_range))
    if query.naam is not None:
        named = register.name_candidates(TOKEN.findall(fold(query.naam)))
        if named is not None:
            candidates.append(named)
    if query.crebo is not None:
        candidates.append(register.by_crebo.get(query.crebo, ()))
    if query.plaats is not None:
        candidates.append(register.by_town.get(fold(query.plaats.strip()), ()))
    if candidates:  # intersect the index hits (smallest first), in C; then into answer order
        candidates.sort(key=len)
        found = set(candidates[0])
        for more in candidates[1:]:
            if not found:
                break
            found.intersection_update(more)
        ordered = register.in_order(found)
    else:
        ordered = register.order

    name_matches = _name_matcher(query) if query.naam is not None else None
    straat = fold(query.straat.strip()) if query.straat else None
    plaats = fold(query.plaats.strip()) if query.plaats is not None else None
    first = (query.pagina - 1) * query.per_pagina
    last = first + query.per_pagina
    total, page = 0, list[Hit]()
    for ix in ordered:
        c = register.companies[ix]
        a = c.adres
        if (query.leerbedrijf_id is not None and c.leerbedrijf_id != query.leerbedrijf_id
                or pc_range and not pc_range[0] <= a.postcode <= pc_range[1]
                or name_matches and not name_matches(register.folded_names[ix])
                or straat and straat not in fold(a.straat)
                or query.huisnummer is not None and a.huisnummer != query.huisnummer
                or plaats is not None and fold(a.plaats) != plaats):
            continue
        items = _items(c, query, today)
        if first < total + len(items) and total < last:
            page.extend(_hit(c, item) for item in items[max(0, first - total): last - total])
        total += len(items)
    return total, page


def _hit(c: Company, item: Recognition | Placement) -> Hit:
    return Hit(c, erkenning=item) if isinstance(item, Recognition) else Hit(c, leerplaats=item)


def _items(c: Company, query: Query, today: dt.date) -> list:
    """The results one company contributes, in answer order."""
    found: list
    if query.soort == "LEERBEDRIJF":
        found = sorted((r for r in c.erkenningen if r.recognised_on(today)), key=lambda r: (r.crebo, r.leerweg))
    else:
        found = sorted((p for p in c.leerplaatsen if p.open_on(today)), key=lambda p: p.leerplaats_id)
    if query.crebo is not None:
        found = [item for item in found if item.crebo == query.crebo]
    if query.leerweg is not None:
        found = [item for item in found if item.leerweg == query.leerweg]
    return found
