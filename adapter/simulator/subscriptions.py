"""Subscriptions to mutations (per school OIN) and the recognition proposals (voordrachten) received."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field


@dataclass
class Subscription:
    abonnement_id: str
    school_oin: str
    leerbedrijf_id: str
    crebo: str | None
    afleveradres: str | None
    sinds: dt.datetime

    def matches(self, leerbedrijf_id: str, crebo: str | None) -> bool:
        """A mutation about (``leerbedrijf_id``, ``crebo``) concerns this subscription."""
        return self.leerbedrijf_id == leerbedrijf_id and (self.crebo is None or crebo is None or self.crebo == crebo)


@dataclass
class Subscriptions:
    by_id: dict[str, Subscription] = field(default_factory=dict)

    def find(self, school_oin: str, leerbedrijf_id: str, crebo: str | None) -> Subscription | None:
        return next((s for s in self.by_id.values() if s.school_oin == school_oin
                     and s.leerbedrijf_id == leerbedrijf_id and s.crebo == crebo), None)

    def add(self, school_oin: str, leerbedrijf_id: str, crebo: str | None, afleveradres: str | None) -> Subscription:
        sub = Subscription(str(uuid.uuid4()), school_oin, leerbedrijf_id, crebo, afleveradres,
                           dt.datetime.now(dt.timezone.utc).replace(microsecond=0))
        self.by_id[sub.abonnement_id] = sub
        return sub

    def of_school(self, school_oin: str) -> list[Subscription]:
        return sorted((s for s in self.by_id.values() if s.school_oin == school_oin),
                      key=lambda s: (s.sinds, s.abonnement_id))

    def end(self, school_oin: str, abonnement_id: str) -> bool:
        """False when the subscription is unknown or another school's."""
        sub = self.by_id.get(abonnement_id.lower())
        if sub is None or sub.school_oin != school_oin:
            return False
        del self.by_id[sub.abonnement_id]
        return True

    def matching(self, leerbedrijf_id: str, crebo: str | None) -> list[Subscription]:
        return [s for s in self.by_id.values() if s.matches(leerbedrijf_id, crebo)]

    def move(self, old_id: str, new_id: str) -> None:
        for s in self.by_id.values():
            if s.leerbedrijf_id == old_id:
                s.leerbedrijf_id = new_id


@dataclass
class Voordracht:
    voordracht_id: str
    school_oin: str
    ontvangen: dt.datetime
    bedrijfsnaam: str
    kvk: str | None
    crebo: str
    leerweg: str
    toelichting: str | None
    vestigingsadres: dict | None = None  # as received: straat, huisnummer, huisnummertoevoeging, postcode, ...
    contactpersoon: dict | None = None
