"""The simulated SBB register: companies (leerbedrijven), their recognitions (erkenningen) and placements.

Plain slotted classes (250,000 companies must fit comfortably in memory), plus the status rule of
VerifieerAccreditatie, which is the one piece of business logic every other part relies on.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

ERKEND, INGETROKKEN, NIET_ERKEND = "ERKEND", "INGETROKKEN", "NIET_ERKEND"


@dataclass(slots=True)
class Address:
    straat: str
    huisnummer: int
    toevoeging: str | None
    postcode: str
    plaats: str
    land: str = "NL"


@dataclass(slots=True)
class Contact:
    naam: str
    email: str | None
    telefoon: str | None


@dataclass(slots=True)
class Recognition:
    crebo: str
    leerweg: str
    begindatum: dt.date
    einddatum: dt.date | None = None  # the last recognised day
    reden: str | None = None

    def recognised_on(self, day: dt.date) -> bool:
        return self.begindatum <= day and (self.einddatum is None or day <= self.einddatum)

    def withdrawn_by(self, day: dt.date) -> bool:
        return self.begindatum <= day and self.einddatum is not None and self.einddatum < day


@dataclass(slots=True)
class Kwalificatieonderdeel:
    type: str
    omschrijving: str


@dataclass(slots=True)
class Placement:
    leerplaats_id: int
    crebo: str
    omschrijving: str
    leerweg: str
    aantal: int
    vacaturetekst: str | None
    startdatum: dt.date | None
    einddatum: dt.date | None
    onderdelen: list[Kwalificatieonderdeel]

    def open_on(self, day: dt.date) -> bool:
        return self.einddatum is None or day <= self.einddatum


@dataclass(slots=True)
class Details:
    """What only OpvragenDetailgegevensLeerbedrijf shows."""

    kvk: str | None
    correspondentie: Address | None
    contact: Contact | None
    website: str | None
    email: str | None
    telefoon: str | None
    branche: str


@dataclass(slots=True)
class Company:
    ix: int  # position in the register; stable for the life of the process (indexes hold it)
    leerbedrijf_id: str
    naam: str
    adres: Address
    details: Details | None = None  # drawn lazily (generate.details)
    old_code: str | None = None  # old-style WL 1.0 CodeLeerbedrijf; never part of a WL 2.0 answer
    erkenningen: list[Recognition] = field(default_factory=list)
    leerplaatsen: list[Placement] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of the status rule: the status and the recognition that decided it (None for NIET_ERKEND)."""

    status: str
    deciding: Recognition | None


def verdict(recognitions: list[Recognition], crebo: str, startdatum: dt.date) -> Verdict:
    """CONTRACTS.md status rule, over the recognitions for ``crebo`` in any leerweg.

    ERKEND when one began on or before ``startdatum`` and has no Einddatum or ends on or after it; else
    INGETROKKEN when one began on or before it and ended before it (the latest such end decides); else NIET_ERKEND.
    """
    same = [r for r in recognitions if r.crebo == crebo]
    current = [r for r in same if r.recognised_on(startdatum)]
    if current:
        return Verdict(ERKEND, min(current, key=lambda r: (r.begindatum, r.leerweg)))
    ended = [r for r in same if r.withdrawn_by(startdatum)]
    if ended:
        return Verdict(INGETROKKEN, max(ended, key=lambda r: (r.einddatum, r.leerweg)))
    return Verdict(NIET_ERKEND, None)


def status_on(r: Recognition, day: dt.date) -> str:
    """One recognition's own status on ``day`` (as listed in the company details)."""
    if r.recognised_on(day):
        return ERKEND
    return INGETROKKEN if r.withdrawn_by(day) else NIET_ERKEND
