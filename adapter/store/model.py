"""What the store hands in and out: plain frozen records."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from adapter.translate.tables import ID_CHANGE, MUTATION_KINDS

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Mutation:
    """One WL 2.0 MutatieLeerbedrijf push, as the store keeps it. GUIDs are kept lower-case."""

    mutatie_id: str
    soort: str
    leerbedrijf_id: str
    ingangsdatum: date
    abonnement_id: str | None = None
    oud_leerbedrijf_id: str | None = None
    crebo: str | None = None
    toelichting: str | None = None

    def __post_init__(self) -> None:
        for name in ("mutatie_id", "abonnement_id"):
            value = getattr(self, name)
            if value is not None:
                if not _GUID.match(value):
                    raise ValueError(f"Mutation.{name}: expected a GUID, got {value!r}")
                object.__setattr__(self, name, value.lower())
        if self.soort not in MUTATION_KINDS:
            raise ValueError(f"Mutation.soort: expected one of {', '.join(MUTATION_KINDS)}, got {self.soort!r}")
        if self.soort == ID_CHANGE and not self.oud_leerbedrijf_id:
            raise ValueError(f"Mutation.oud_leerbedrijf_id: required for {ID_CHANGE}")

    def as_dict(self) -> dict:
        """The fields by name, as ``dataclasses.asdict`` gives them: every value is a str, a date or None, so
        there is nothing to copy deeply (asdict's deep copies were ~15 % of a 100-mutation GeefMutaties)."""
        return {name: getattr(self, name) for name in MUTATION_FIELDS}


MUTATION_FIELDS = tuple(Mutation.__dataclass_fields__)  # (its fields' names, in order)


@dataclass(frozen=True)
class StoredMutation:
    """The answer to store_mutation: the school's Volgnummer, and whether this call stored it (False: a repeat)."""

    volgnummer: int
    created: bool


@dataclass(frozen=True)
class StoredMutationRow:
    volgnummer: int
    mutation: Mutation
    received_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class Undelivered:
    """A school's mutations that its system has not yet fetched with GeefMutaties."""

    tenant_oin: str
    count: int
    oldest_received_at: datetime


@dataclass(frozen=True)
class Subscription:
    tenant_oin: str
    leerbedrijf_id: str
    crebo: str | None  # None: the whole company
    abonnement_id: str
    since: datetime


@dataclass(frozen=True)
class Intent:
    """A school's wish to be subscribed, durable before the VerifieerAccreditatie answer goes out."""

    id: int
    tenant_oin: str
    leerbedrijf_id: str
    crebo: str | None
    created_at: datetime
    attempts: int  # claims so far, this one included
    last_error: str | None


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int

    def __str__(self) -> str:
        return f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}"


@dataclass(frozen=True)
class LineProblem:
    line: int
    reason: str


