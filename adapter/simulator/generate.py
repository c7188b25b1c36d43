"""The deterministic data set: the same seed gives the same companies on any machine and run.

One ``random.Random(seed)`` draws the searchable core of every company in order (name, address, recognitions,
placements, old code); the details only OpvragenDetailgegevensLeerbedrijf shows are drawn lazily from a per-company
``random.Random("<seed>:<ix>")`` (string seeds are hashed with SHA-512, not ``hash()``), which keeps start-up fast.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import gc
import random
import re
from collections.abc import Sequence

from adapter.simulator import tables
from adapter.simulator.model import (
    Address,
    Company,
    Contact,
    Details,
    Kwalificatieonderdeel,
    Placement,
    Recognition,
)

FIRST_LEERBEDRIJF_ID = 100001
FIRST_LEERPLAATS_ID = 500001
COLLISION_EVERY = 50  # companies ix = k*50+24 and k*50+25 share postcode and house number (ambiguous old codes)

_BEGIN_FIRST = dt.date(2008, 1, 1).toordinal()
_BEGIN_LAST = dt.date(2025, 12, 31).toordinal()
_WITHDRAWN_LAST = dt.date(2026, 10, 31).toordinal()
_PLACEMENT_START_FIRST = dt.date(2025, 8, 1).toordinal()
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _pick(rnd, seq: Sequence):
    return seq[int(rnd() * len(seq))]


def _chance(rnd, p: float) -> bool:
    return rnd() < p


_DATES: dict[int, dt.date] = {}  # a few thousand distinct days shared by a million dates


def _date(ordinal: int) -> dt.date:
    day = _DATES.get(ordinal)
    if day is None:
        day = _DATES[ordinal] = dt.date.fromordinal(ordinal)
    return day


def _capitalised(words: str) -> str:
    return words[0].upper() + words[1:]


def _company_name(rnd, sector: tables.Sector, town: tables.Town) -> str:
    prefix = _pick(rnd, sector.prefixes)
    pattern = int(rnd() * 4)
    if pattern == 0:
        name = f"{prefix} {_pick(rnd, tables.FANCY_NAMES)}"
    elif pattern == 1:
        name = f"{prefix} {_capitalised(_pick(rnd, tables.SURNAMES))}"
    elif pattern == 2:
        name = f"{_capitalised(_pick(rnd, tables.SURNAMES))} {prefix}"
    else:
        name = f"{prefix} {_pick(rnd, tables.FANCY_NAMES)} {town.name}"
    if sector.branche in ("Zorg", "Kinderopvang"):
        return f"Stichting {name}"
    form = _pick(rnd, tables.LEGAL_FORMS)
    return f"{name} {form}" if form else name


def _postcode(rnd, town: tables.Town) -> str:
    pc4 = town.pc4_from + int(rnd() * (town.pc4_to - town.pc4_from + 1))
    while True:
        letters = _LETTERS[int(rnd() * 26)] + _LETTERS[int(rnd() * 26)]
        if letters not in tables.POSTCODE_LETTERS_UNUSED:
            return f"{pc4}{letters}"


def _address(rnd, town: tables.Town) -> Address:
    number = 1 + int(rnd() * rnd() * 240)  # small numbers are more common
    suffix = _pick(rnd, tables.HOUSE_NUMBER_SUFFIXES) if _chance(rnd, 0.12) else None
    return Address(_pick(rnd, tables.STREETS), number, suffix, _postcode(rnd, town), town.name)


def _recognitions(rnd, sector: tables.Sector, keep_current: bool) -> list[Recognition]:
    quals = sector.qualifications
    count = 1 + int(rnd() * min(4, len(quals)))
    start = int(rnd() * len(quals))
    result: list[Recognition] = []
    for k in range(count):
        crebo = quals[(start + k) % len(quals)].crebo
        roll = rnd()
        leerwegen = ("BOL",) if roll < 0.4 else ("BBL",) if roll < 0.7 else ("BOL", "BBL")
        for leerweg in leerwegen:
            if len(result) == 5:
                return result
            begin = _BEGIN_FIRST + int(rnd() * (_BEGIN_LAST - _BEGIN_FIRST))
            rec = Recognition(crebo, leerweg, _date(begin))
            if _chance(rnd, 0.10) and not (keep_current and not result):
                end = begin + 180 + int(rnd() * max(1, _WITHDRAWN_LAST - begin - 180))
                rec.einddatum = _date(end)
                rec.reden = _pick(rnd, tables.WITHDRAWAL_REASONS)
            result.append(rec)
    return result


def _placements(rnd, company: Company, sector: tables.Sector, next_id: int) -> list[Placement]:
    current = [r for r in company.erkenningen if r.einddatum is None] or company.erkenningen
    result = []
    for k in range(1 + int(rnd() * 3)):
        rec = _pick(rnd, current)
        qual = tables.QUALIFICATIONS[rec.crebo]
        start = _PLACEMENT_START_FIRST + int(rnd() * 540)
        roll = rnd()
        end = None if roll < 0.8 else _date(start + 365) if roll < 0.9 else _date(start - 30 - int(rnd() * 200))
        result.append(Placement(
            leerplaats_id=next_id + k, crebo=rec.crebo, omschrijving=f"Leerplaats {qual.lower()}",
            leerweg=rec.leerweg, aantal=1 + int(rnd() * 4),
            vacaturetekst=(f"{company.naam} zoekt een enthousiaste student {qual.lower()} ({rec.leerweg}) "
                           f"in {company.adres.plaats}."),
            startdatum=_date(start), einddatum=end,
            onderdelen=[Kwalificatieonderdeel("Basisdeel", f"Basisdeel {sector.branche.lower()}"),
                        Kwalificatieonderdeel("Profieldeel", qual),
                        Kwalificatieonderdeel("Keuzedeel", _pick(rnd, tables.KEUZEDELEN))],
        ))
    return result


def sector_of(company: Company) -> tables.Sector:
    crebo = company.erkenningen[0].crebo
    return next(s for s in tables.SECTORS if any(q.crebo == crebo for q in s.qualifications))


def generate(seed: int, count: int) -> list[Company]:
    """``count`` companies, ``ix`` 0..count-1, LeerbedrijfId 100001 upward."""
    with without_gc():
        return _generate(seed, count)


@contextlib.contextmanager
def without_gc():
    """Millions of small objects and no cycles: the collector would only slow building them down."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _generate(seed: int, count: int) -> list[Company]:
    rng = random.Random(seed)
    rnd = rng.random
    companies: list[Company] = []
    codes_at: dict[tuple[str, int], int] = {}
    next_placement = FIRST_LEERPLAATS_ID
    for ix in range(count):
        sector = _pick(rnd, tables.SECTORS)
        town = _pick(rnd, tables.TOWNS)
        collision = ix % COLLISION_EVERY in (COLLISION_EVERY // 2 - 1, COLLISION_EVERY // 2)
        naam = _company_name(rnd, sector, town)
        if collision and ix % COLLISION_EVERY == COLLISION_EVERY // 2:
            prev = companies[-1].adres
            adres = Address(prev.straat, prev.huisnummer, "b" if prev.toevoeging is None else None,
                            prev.postcode, prev.plaats)
        else:
            adres = _address(rnd, town)
        company = Company(ix, str(FIRST_LEERBEDRIJF_ID + ix), naam, adres, details=None)
        company.erkenningen = _recognitions(rnd, sector, keep_current=collision)
        if collision or _chance(rnd, 0.70):
            key = (adres.postcode, adres.huisnummer)
            codes_at[key] = seq = codes_at.get(key, 0) + 1
            company.old_code = f"{sector.kenniscentrum_brin}{adres.postcode}{adres.huisnummer:05d}{seq:02d}"
        if _chance(rnd, 0.30):
            company.leerplaatsen = _placements(rnd, company, sector, next_placement)
            next_placement += len(company.leerplaatsen)
        companies.append(company)
    return companies


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower().replace("&", "en"))


def details(seed: int, company: Company) -> Details:
    """The detail fields of ``company``, drawn from its own generator (same every time)."""
    rnd = random.Random(f"{seed}:{company.ix}").random
    sector = sector_of(company)
    town = next((t for t in tables.TOWNS if t.name == company.adres.plaats), tables.TOWNS[0])
    base = company.naam
    for form in tables.LEGAL_FORMS:
        if form and base.endswith(" " + form):
            base = base[: -len(form) - 1]
    domain = _slug(base.removeprefix("Stichting ")) + ".nl"
    phone = f"{town.area_code}-{int(rnd() * 10 ** (10 - len(town.area_code))):0{10 - len(town.area_code)}d}"
    contact = None
    if _chance(rnd, 0.8):
        first, last = _pick(rnd, tables.FIRST_NAMES), _pick(rnd, tables.SURNAMES)
        contact = Contact(f"{first} {last}", f"{first.lower()}.{_slug(last)}@{domain}",
                          f"06-{int(rnd() * 10 ** 8):08d}" if _chance(rnd, 0.7) else None)
    correspondentie = None
    if _chance(rnd, 0.15):
        correspondentie = Address("Postbus", 1 + int(rnd() * 9000), None, _postcode(rnd, town), town.name)
    return Details(
        kvk=f"{10_000_000 + int(rnd() * 89_999_999):08d}" if _chance(rnd, 0.85) else None,
        correspondentie=correspondentie, contact=contact,
        website=f"https://www.{domain}" if _chance(rnd, 0.6) else None,
        email=f"info@{domain}" if _chance(rnd, 0.8) else None,
        telefoon=phone if _chance(rnd, 0.9) else None,
        branche=sector.branche,
    )
