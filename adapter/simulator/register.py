"""The register in memory with the indexes that make search fast, and the changes the admin API applies.

Indexes hold a company's ``ix`` (its stable position): postcode (sorted, for exact and range look-ups), name
tokens (for name matching), crebo, town; ``order`` lists every ``ix`` in answer order (Naam, then LeerbedrijfId).
All access goes through ``lock``: one writer or reader at a time keeps every answer consistent.
"""
from __future__ import annotations

import bisect
import datetime as dt
import re
import threading
import unicodedata
from collections import defaultdict

from adapter.simulator import generate as gen
from adapter.simulator.model import Company, Details, Placement, Recognition

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_DROPPED = str.maketrans("", "", ".'’")
TOKEN = re.compile(r"[0-9a-z]+")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: 'Eetcafé' -> 'eetcafe'."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalise_name(text: str) -> str:
    """Also punctuation-insensitive: 'Bakkerij De Korenbloem B.V.' -> 'bakkerij de korenbloem bv'."""
    return _NON_ALNUM.sub(" ", fold(text).translate(_DROPPED)).strip()


class RegisterError(ValueError):
    """A change the register cannot apply; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Register:
    def __init__(self, seed: int, companies: list[Company]):
        with gen.without_gc():
            self._build(seed, companies)

    def _build(self, seed: int, companies: list[Company]) -> None:
        self.seed = seed
        self.lock = threading.RLock()
        self.companies = companies
        self.by_id: dict[str, Company] = {c.leerbedrijf_id: c for c in companies}
        self.placements: dict[int, tuple[Company, Placement]] = {
            p.leerplaats_id: (c, p) for c in companies for p in c.leerplaatsen}
        folded: dict[str, str] = {}  # names repeat a lot: fold each distinct one once
        self.folded_names = [folded.get(c.naam) or folded.setdefault(c.naam, fold(c.naam)) for c in companies]
        tokens = {name: tuple(dict.fromkeys(TOKEN.findall(name))) for name in folded.values()}
        self.by_postcode: list[tuple[str, int]] = sorted((c.adres.postcode, c.ix) for c in companies)
        self.by_token: dict[str, list[int]] = defaultdict(list)
        for ix, name in enumerate(self.folded_names):
            for token in tokens[name]:
                self.by_token[token].append(ix)
        self.by_crebo: dict[str, set[int]] = defaultdict(set)
        for c in companies:
            for r in c.erkenningen:
                self.by_crebo[r.crebo].add(c.ix)
        self.by_town: dict[str, list[int]] = defaultdict(list)
        for c in companies:
            self.by_town[fold(c.adres.plaats)].append(c.ix)
        self._reorder()

    @classmethod
    def generated(cls, seed: int, count: int) -> "Register":
        return cls(seed, gen.generate(seed, count))

    def _reorder(self) -> None:
        def key(ix: int):
            c = self.companies[ix]
            return self.folded_names[ix], len(c.leerbedrijf_id), c.leerbedrijf_id
        self.order = sorted(range(len(self.companies)), key=key)
        self.rank = [0] * len(self.companies)
        for position, ix in enumerate(self.order):
            self.rank[ix] = position

    # --- look-ups -------------------------------------------------------------------------------------------

    def company(self, leerbedrijf_id: str) -> Company | None:
        return self.by_id.get(leerbedrijf_id)

    def placement(self, leerplaats_id: int) -> tuple[Company, Placement] | None:
        return self.placements.get(leerplaats_id)

    def details(self, company: Company) -> Details:
        if company.details is None:
            company.details = gen.details(self.seed, company)
        return company.details

    def at_postcodes(self, van: str, tot: str) -> list[int]:
        lo = bisect.bisect_left(self.by_postcode, (van, -1))
        hi = bisect.bisect_right(self.by_postcode, (tot, len(self.companies)))
        return [ix for _, ix in self.by_postcode[lo:hi]]

    def name_candidates(self, fragments: list[str]) -> set[int] | None:
        """Companies whose folded name has, for every fragment, a token containing it (None: no fragments)."""
        result: set[int] | None = None
        for fragment in fragments:
            hits: set[int] = set()
            for token, postings in self.by_token.items():
                if fragment in token:
                    hits.update(postings)
            result = hits if result is None else result & hits
            if not result:
                return result
        return result

    def in_order(self, ixs) -> list[int]:
        return sorted(ixs, key=self.rank.__getitem__)

    # --- changes (admin events) -----------------------------------------------------------------------------

    def withdraw(self, company: Company, crebo: str, ingangsdatum: dt.date, reden: str) -> list[Recognition]:
        """Every recognition for ``crebo`` still running on ``ingangsdatum`` ends the day before."""
        last_day = ingangsdatum - dt.timedelta(days=1)
        changed = [r for r in company.erkenningen
                   if r.crebo == crebo and (r.einddatum is None or r.einddatum >= ingangsdatum)]
        if not changed:
            raise RegisterError("crebonummer", f"leerbedrijf {company.leerbedrijf_id} has no recognition for "
                                            f"{crebo} running on {ingangsdatum.isoformat()}")
        for r in changed:
            r.einddatum, r.reden = last_day, reden
        return changed

    def grant(self, company: Company, crebo: str, leerweg: str, ingangsdatum: dt.date) -> Recognition:
        rec = Recognition(crebo, leerweg, ingangsdatum)
        company.erkenningen.append(rec)
        self.by_crebo[crebo].add(company.ix)
        return rec

    def change_id(self, company: Company, new_id: str) -> None:
        if new_id in self.by_id:
            raise RegisterError("nieuwLeerbedrijfId", f"{new_id} is already in use")
        del self.by_id[company.leerbedrijf_id]
        company.leerbedrijf_id = new_id
        self.by_id[new_id] = company
        self._reorder()
