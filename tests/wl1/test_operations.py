"""The WL 1.0 face end to end: every legacy operation and translation rule, through a zeep client built from the
WSDL the adapter serves, with the real simulator behind it. Expected values come from the simulator's own data
(the ``companies`` fixture / admin API), never from constants.

Tests that force signaalcodes (scenarios) use their own simulator; the old-code tests use a fresh adapter so the
shared adapter's mapping table stays empty.
"""
from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections import Counter

import pytest
import requests

from adapter.simulator.tables import QUALIFICATIONS
from tests.support.servers import (
    LICENCE,
    OTHER_LICENCE,
    OTHER_SCHOOL_OIN,
    SCHOOL_OIN,
    TODAY,
    AdapterServer,
    start_simulator_process,
)
from tests.support.soap import wl1_client

TODAY_D = dt.date.fromisoformat(TODAY)


# -- helpers ------------------------------------------------------------------------------------------------------
def call(wl1, operation: str, licence: str = LICENCE, **fields):
    return getattr(wl1, operation)(request={"Licentie": licence, **fields})


def zoeken(wl1, soort: str = "E", per_pagina: int = 25, pagina: int = 1, **fields):
    return call(wl1, "Zoeken", AantalResultatenPerPagina=per_pagina, Pagina=pagina,
                LeerplaatsErkenningAanduiding=soort, **fields)


def resultaten(result) -> list:
    return list(result.Resultaten.Resultaat) if result.Resultaten is not None else []


def straat_wl1(adres: dict) -> str:
    text = f"{adres['straat']} {adres['huisnummer']}"
    toevoeging = adres.get("huisnummertoevoeging")
    if toevoeging:
        text += ("-" if toevoeging[0].isdigit() else "") + toevoeging
    return text


def current(company: dict) -> list[dict]:
    """The recognitions that are ERKEND today (what an E search returns per company)."""
    return [e for e in company["erkenningen"] if e["status"] == "ERKEND"]


def open_placements(company: dict) -> list[dict]:
    return [p for p in company["leerplaatsen"] if p["open"]]


def messages(sim_url: str) -> list[dict]:
    r = requests.get(f"{sim_url}/admin/messages", params={"limit": 1000}, timeout=10)
    r.raise_for_status()
    return r.json()["messages"]


def _key(entry: dict) -> tuple:
    return entry["time"], entry["request"]


def messages_since(sim_url: str, before: list[dict]) -> list[dict]:
    """The simulator's recorded exchanges newer than the snapshot ``before`` (oldest first)."""
    now = messages(sim_url)
    if not before:
        return list(reversed(now))
    marker = _key(before[0])
    new = []
    for entry in now:
        if _key(entry) == marker:
            break
        new.append(entry)
    return list(reversed(new))


def unique_address(companies: list[dict], company: dict) -> bool:
    a = company["vestigingsadres"]
    return sum(1 for c in companies if c["vestigingsadres"]["postcode"] == a["postcode"]
               and c["vestigingsadres"]["huisnummer"] == a["huisnummer"]) == 1


def matches_pattern(name: str, pattern: str) -> bool:
    regex = ".*".join(re.escape(part) for part in pattern.lower().split("%"))
    return re.fullmatch(regex, name.lower(), re.DOTALL) is not None


def e_hits(companies, predicate=lambda c: True, crebo=None, leerweg=None) -> int:
    return sum(1 for c in companies if predicate(c) for e in current(c)
               if (crebo is None or e["crebonummer"] == crebo) and (leerweg is None or e["leerweg"] == leerweg))


# -- GeefBedrijfsgegevens -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def identifiable(companies):
    return next(c for c in companies if unique_address(companies, c) and current(c))


def test_geef_bedrijfsgegevens_postcode_spellings_are_equivalent(wl1, identifiable):
    pc = identifiable["vestigingsadres"]["postcode"]
    answers = []
    for spelling in (f"{pc[:4]} {pc[4:].lower()}", pc, pc.lower()):
        r = call(wl1, "GeefBedrijfsgegevens", Bedrijfsnaam=identifiable["naam"], Postcode=spelling)
        assert r.Signaalcode == 0, (spelling, r)
        answers.append([(b.Bedrijfsnaam, b.Postcode, b.Huisnummer, b.CodeLeerbedrijf) for b in r.Bedrijven.Bedrijf])
    assert answers[0] == answers[1] == answers[2]
    assert (identifiable["naam"], pc, identifiable["vestigingsadres"]["huisnummer"],
            identifiable["leerbedrijfId"]) in answers[0]


def test_geef_bedrijfsgegevens_huisnummer_zero_means_unknown(wl1, identifiable):
    a = identifiable["vestigingsadres"]
    base = dict(Bedrijfsnaam=identifiable["naam"], Postcode=a["postcode"])
    zero = call(wl1, "GeefBedrijfsgegevens", Huisnummer=0, **base)
    absent = call(wl1, "GeefBedrijfsgegevens", **base)
    exact = call(wl1, "GeefBedrijfsgegevens", Huisnummer=a["huisnummer"], **base)
    wrong = call(wl1, "GeefBedrijfsgegevens", Huisnummer=a["huisnummer"] + 1000, **base)
    assert zero.Signaalcode == absent.Signaalcode == exact.Signaalcode == 0
    codes = lambda r: [b.CodeLeerbedrijf for b in r.Bedrijven.Bedrijf]  # noqa: E731
    assert codes(zero) == codes(absent)
    assert identifiable["leerbedrijfId"] in codes(exact)
    assert wrong.Signaalcode == 1 and wrong.Bedrijven is None


def test_geef_bedrijfsgegevens_brin_kenniscentrum_is_ignored(wl1, identifiable):
    a = identifiable["vestigingsadres"]
    base = dict(Bedrijfsnaam=identifiable["naam"], Postcode=a["postcode"], Huisnummer=a["huisnummer"])
    without = call(wl1, "GeefBedrijfsgegevens", **base)
    with_brin = call(wl1, "GeefBedrijfsgegevens", BrinKenniscentrum="ZZ99", **base)
    assert with_brin.Signaalcode == without.Signaalcode == 0
    assert [b.CodeLeerbedrijf for b in with_brin.Bedrijven.Bedrijf] == \
           [b.CodeLeerbedrijf for b in without.Bedrijven.Bedrijf]


def test_geef_bedrijfsgegevens_no_match_is_1_without_bedrijven(wl1, identifiable):
    r = call(wl1, "GeefBedrijfsgegevens", Bedrijfsnaam="Qxzwv Nergens Gevonden",
             Postcode=identifiable["vestigingsadres"]["postcode"])
    assert r.Signaalcode == 1
    assert r.Bedrijven is None


@pytest.mark.parametrize("postcode", ["12345", "0123AB", "AB1234", "1234-AB"])
def test_geef_bedrijfsgegevens_bad_postcode_is_4_naming_postcode(wl1, postcode):
    r = call(wl1, "GeefBedrijfsgegevens", Bedrijfsnaam="Bakkerij", Postcode=postcode)
    assert r.Signaalcode == 4
    assert "Postcode" in (r.Melding or "")
    assert r.Bedrijven is None


# -- VerifieerAccreditatie ----------------------------------------------------------------------------------------
def _crebo_recs(company: dict, crebo: str) -> list[dict]:
    return [e for e in company["erkenningen"] if e["crebonummer"] == crebo]


@pytest.fixture(scope="module")
def withdrawn(companies):
    """(company, recognition) where every recognition of that crebo ended before today."""
    for c in companies:
        for e in c["erkenningen"]:
            recs = _crebo_recs(c, e["crebonummer"])
            if e["einddatum"] and len(recs) == 1:
                return c, e
    pytest.fail("the simulator's data has no withdrawn recognition")


def verifieer(wl1, code: str, crebo, peildatum, licence: str = LICENCE):
    return call(wl1, "VerifieerAccreditatie", licence=licence, CodeLeerbedrijf=code, Crebonummer=int(crebo),
                Peildatum=peildatum)


def test_verifieer_recognised_gives_start_and_end(wl1, companies, withdrawn):
    company = next(c for c in companies if any(e["status"] == "ERKEND" and not e["einddatum"]
                                               and len(_crebo_recs(c, e["crebonummer"])) == 1
                                               for e in c["erkenningen"]))
    e = next(e for e in company["erkenningen"] if e["status"] == "ERKEND" and not e["einddatum"]
             and len(_crebo_recs(company, e["crebonummer"])) == 1)
    r = verifieer(wl1, company["leerbedrijfId"], e["crebonummer"], TODAY)
    assert r.Signaalcode == 0
    assert r.Startdatum.isoformat() == e["begindatum"]
    assert r.Einddatum is None
    # a recognition that ended later, asked for on its last day: recognised, with both dates
    c, w = withdrawn
    r = verifieer(wl1, c["leerbedrijfId"], w["crebonummer"], w["einddatum"])
    assert r.Signaalcode == 0
    assert (r.Startdatum.isoformat(), r.Einddatum.isoformat()) == (w["begindatum"], w["einddatum"])


def test_verifieer_not_recognised_is_2(wl1, companies):
    company = companies[0]
    e = company["erkenningen"][0]
    first = min(x["begindatum"] for x in _crebo_recs(company, e["crebonummer"]))
    before = dt.date.fromisoformat(first) - dt.timedelta(days=1)
    r = verifieer(wl1, company["leerbedrijfId"], e["crebonummer"], before)
    assert r.Signaalcode == 2 and r.Startdatum is None and r.Einddatum is None
    own = {x["crebonummer"] for x in company["erkenningen"]}
    other = next(q for q in sorted(QUALIFICATIONS) if q not in own)
    r = verifieer(wl1, company["leerbedrijfId"], other, TODAY)
    assert r.Signaalcode == 2


def test_verifieer_withdrawn_is_2_with_last_day_in_melding(wl1, withdrawn):
    c, w = withdrawn
    r = verifieer(wl1, c["leerbedrijfId"], w["crebonummer"], TODAY)
    assert r.Signaalcode == 2
    assert w["einddatum"] in (r.Melding or ""), r.Melding
    assert re.search(r"\d{4}-\d{2}-\d{2}", r.Melding)
    assert r.Startdatum is None and r.Einddatum is None


def test_verifieer_unknown_leerbedrijf_is_3(wl1, companies):
    known = {c["leerbedrijfId"] for c in companies}
    unknown = next(str(n) for n in range(999999999, 0, -1) if str(n) not in known)
    r = verifieer(wl1, unknown, companies[0]["erkenningen"][0]["crebonummer"], TODAY)
    assert r.Signaalcode == 3


def test_verifieer_unknown_crebo_is_5(wl1, companies):
    crebo = next(n for n in range(1, 99999) if f"{n:05d}" not in QUALIFICATIONS)
    r = verifieer(wl1, companies[0]["leerbedrijfId"], crebo, TODAY)
    assert r.Signaalcode == 5


# -- Zoeken -------------------------------------------------------------------------------------------------------
def test_zoeken_e_one_result_per_recognition(wl1, companies):
    company = max(companies, key=lambda c: len(current(c)))
    r = zoeken(wl1, "E", CodeLeerbedrijf=company["leerbedrijfId"])
    assert r.Signaalcode == 0
    hits = resultaten(r)
    assert r.AantalResultatenTotaal == len(hits) == len(current(company))
    expected = Counter((int(e["crebonummer"]), e["leerweg"], e["omschrijving"]) for e in current(company))
    got = Counter((h.Erkenning.Crebonummer, h.Erkenning.Leerweg, h.Erkenning.Omschrijving) for h in hits)
    assert got == expected
    for h in hits:
        assert h.CodeLeerbedrijf == company["leerbedrijfId"]
        assert h.LeerbedrijfNaam == company["naam"]
        assert h.Leerweg == h.Erkenning.Leerweg
        assert h.LeerplaatsId is None and h.Opleidingen is None and h.LeerplaatsAantal is None


def test_zoeken_l_placements(wl1, companies):
    company = max(companies, key=lambda c: len(open_placements(c)))
    assert open_placements(company)
    r = zoeken(wl1, "L", CodeLeerbedrijf=company["leerbedrijfId"])
    assert r.Signaalcode == 0
    hits = {h.LeerplaatsId: h for h in resultaten(r)}
    assert r.AantalResultatenTotaal == len(hits)
    assert set(hits) == {p["leerplaatsId"] for p in open_placements(company)}
    for p in open_placements(company):
        h = hits[p["leerplaatsId"]]
        assert h.CodeLeerbedrijf == company["leerbedrijfId"]
        assert [(o.Crebonummer, o.Omschrijving) for o in h.Opleidingen.Opleiding] == \
               [(int(p["crebonummer"]), p["omschrijving"])]
        assert h.Leerweg == p["leerweg"]
        assert h.LeerplaatsAantal == p["aantal"]
        assert h.VacatureLeerplaatsOmschrijving == p["vacaturetekst"]
        assert h.Erkenning is None


def test_zoeken_addresses_straat_with_number_and_toevoeging(wl1, companies):
    checked = set()
    for kind, pick in (("digit", lambda t: t and t[0].isdigit()), ("letter", lambda t: t and t[0].isalpha()),
                       ("none", lambda t: not t)):
        company = next((c for c in companies if current(c) and pick(c["vestigingsadres"]["huisnummertoevoeging"])),
                       None)
        if company is None:
            continue
        h = resultaten(zoeken(wl1, "E", CodeLeerbedrijf=company["leerbedrijfId"]))[0]
        a = company["vestigingsadres"]
        assert h.Vestigingsadres.Straat == straat_wl1(a), kind
        assert (h.Vestigingsadres.Postcode, h.Vestigingsadres.Plaats, h.Vestigingsadres.Land) == \
               (a["postcode"], a["plaats"], "Nederland")
        checked.add(kind)
    assert {"digit", "none"} <= checked
    assert any("-" in straat_wl1(c["vestigingsadres"]) for c in companies)


def test_zoeken_wildcard(wl1, companies):
    company = next(c for c in companies if current(c) and len(c["naam"]) > 12)
    pattern = f"{company['naam'][:4]}%{company['naam'][-4:]}"
    expected = e_hits(companies, lambda c: matches_pattern(c["naam"], pattern))
    r = zoeken(wl1, "E", LeerbedrijfNaam=pattern)
    assert r.Signaalcode == 0
    assert r.AantalResultatenTotaal == expected
    assert all(matches_pattern(h.LeerbedrijfNaam, pattern) for h in resultaten(r))
    # without the wildcard the same text is a literal: nothing contains "%"
    literal = zoeken(wl1, "E", LeerbedrijfNaam=pattern.replace("%", " %"))
    assert literal.Signaalcode == 1


def test_zoeken_naam_exact(wl1, companies):
    company = next(c for c in companies if current(c) and " " in c["naam"])
    part = company["naam"].split(" ")[1]
    loose = zoeken(wl1, "E", LeerbedrijfNaam=part)
    assert loose.Signaalcode == 0
    assert loose.AantalResultatenTotaal == e_hits(companies, lambda c: part.lower() in c["naam"].lower())
    exact_part = zoeken(wl1, "E", LeerbedrijfNaam=part, LeerbedrijfNaamExact=True)
    if not any(c["naam"].lower() == part.lower() for c in companies):
        assert exact_part.Signaalcode == 1 and exact_part.AantalResultatenTotaal is None
    exact = zoeken(wl1, "E", LeerbedrijfNaam=company["naam"].upper(), LeerbedrijfNaamExact=True)
    assert exact.Signaalcode == 0
    assert {h.LeerbedrijfNaam for h in resultaten(exact)} == {company["naam"]}
    assert exact.AantalResultatenTotaal == e_hits(companies, lambda c: c["naam"].lower() == company["naam"].lower())


def test_zoeken_postcode_range_single_and_from_to(wl1, companies):
    company = next(c for c in companies if current(c))
    pc = company["vestigingsadres"]["postcode"]
    single = zoeken(wl1, "E", PostcodeRange=f"{pc[:4]} {pc[4:].lower()}")
    assert single.Signaalcode == 0
    assert single.AantalResultatenTotaal == e_hits(companies, lambda c: c["vestigingsadres"]["postcode"] == pc)
    assert {h.Vestigingsadres.Postcode for h in resultaten(single)} == {pc}
    pcs = sorted(c["vestigingsadres"]["postcode"] for c in companies)
    van, tot = pcs[len(pcs) // 4], pcs[len(pcs) // 4 + 20]
    ranged = zoeken(wl1, "E", PostcodeRange=f"{van}{tot}")
    expected = e_hits(companies, lambda c: van <= c["vestigingsadres"]["postcode"] <= tot)
    assert ranged.Signaalcode == 0 and ranged.AantalResultatenTotaal == expected
    assert all(van <= h.Vestigingsadres.Postcode <= tot for h in resultaten(ranged))


@pytest.mark.parametrize("value", ["1234A", "1234AB1299Z", "1234AB1299ZZ1", "ABCDEF"])
def test_zoeken_postcode_range_bad_length_or_form_is_4(wl1, value):
    r = zoeken(wl1, "E", PostcodeRange=value)
    assert r.Signaalcode == 4
    assert "PostcodeRange" in (r.Melding or "")
    assert r.Resultaten is None and r.AantalResultatenTotaal is None


def test_zoeken_postcode_range_reversed_is_4(wl1):
    r = zoeken(wl1, "E", PostcodeRange="9000AA1000AA")
    assert r.Signaalcode == 4
    assert "PostcodeRange" in (r.Melding or ""), r.Melding  # the WL 1.0 element, not WL 2.0's PostcodeVan
    assert r.Resultaten is None and r.AantalResultatenTotaal is None


def test_zoeken_crebo_and_leerweg_filters(wl1, companies):
    crebo, leerweg = Counter((e["crebonummer"], e["leerweg"]) for c in companies for e in current(c)).most_common(1)[0][0]
    by_crebo = zoeken(wl1, "E", Crebonummer=int(crebo))
    assert by_crebo.Signaalcode == 0
    assert by_crebo.AantalResultatenTotaal == e_hits(companies, crebo=crebo)
    assert {h.Erkenning.Crebonummer for h in resultaten(by_crebo)} == {int(crebo)}
    both = zoeken(wl1, "E", Crebonummer=int(crebo), Leerweg=leerweg)
    assert both.AantalResultatenTotaal == e_hits(companies, crebo=crebo, leerweg=leerweg)
    assert {(h.Erkenning.Crebonummer, h.Leerweg) for h in resultaten(both)} == {(int(crebo), leerweg)}
    l_hits = sum(1 for c in companies for p in open_placements(c) if p["leerweg"] == "BBL")
    bbl = zoeken(wl1, "L", Leerweg="BBL")
    assert bbl.AantalResultatenTotaal == l_hits
    assert {h.Leerweg for h in resultaten(bbl)} == {"BBL"}


def test_zoeken_paging_is_stable_and_past_the_end_is_0_without_results(wl1, companies):
    total = e_hits(companies)
    key = lambda h: (h.CodeLeerbedrijf, h.Erkenning.Crebonummer, h.Leerweg)  # noqa: E731
    whole = resultaten(zoeken(wl1, "E", per_pagina=20, pagina=1))
    pieces = []
    for pagina in range(1, 5):
        r = zoeken(wl1, "E", per_pagina=5, pagina=pagina)
        assert r.AantalResultatenTotaal == total
        pieces += resultaten(r)
    assert [key(h) for h in pieces] == [key(h) for h in whole]
    again = resultaten(zoeken(wl1, "E", per_pagina=20, pagina=1))
    assert [key(h) for h in again] == [key(h) for h in whole]
    past = zoeken(wl1, "E", per_pagina=25, pagina=total // 25 + 2)
    assert past.Signaalcode == 0
    assert past.AantalResultatenTotaal == total
    assert past.Resultaten is None


def test_zoeken_empty_is_1_without_total(wl1):
    r = zoeken(wl1, "E", LeerbedrijfNaam="Qxzwv Bestaat Niet")
    assert r.Signaalcode == 1
    assert r.AantalResultatenTotaal is None and r.Resultaten is None


# -- GeefDetails --------------------------------------------------------------------------------------------------
def _adres(result_adres, adres: dict) -> None:
    assert result_adres.Straat == straat_wl1(adres)
    assert (result_adres.Postcode, result_adres.Plaats, result_adres.Land) == \
           (adres["postcode"], adres["plaats"], "Nederland")


def _company_fields(r, company: dict) -> None:
    assert r.CodeLeerbedrijf == company["leerbedrijfId"]
    assert r.Naam == company["naam"]
    _adres(r.Vestigingsadres, company["vestigingsadres"])
    if company["correspondentieadres"]:
        _adres(r.Correspondentieadres, company["correspondentieadres"])
    else:
        assert r.Correspondentieadres is None
    cp = company["contactpersoon"]
    if cp:
        assert (r.Contactpersoon.Naam, r.Contactpersoon.Email, r.Contactpersoon.Telefoonnummer) == \
               (cp["naam"], cp["email"], cp["telefoonnummer"])
    else:
        assert r.Contactpersoon is None
    assert (r.WebsiteUrl, r.Email, r.Telefoonnummer, r.Branche) == \
           (company["website"], company["email"], company["telefoonnummer"], company["branche"])


def test_geef_details_by_code_leerbedrijf(wl1, companies):
    full = next(c for c in companies if c["correspondentieadres"] and c["contactpersoon"] and c["website"])
    sparse = next(c for c in companies if not c["website"] or not c["contactpersoon"])
    for company in (full, sparse):
        r = call(wl1, "GeefDetails", CodeLeerbedrijf=company["leerbedrijfId"])
        assert r.Signaalcode == 0
        _company_fields(r, company)
        assert r.LeerplaatsId is None and r.Opleidingen is None and r.Kwalificatieonderdelen is None


def test_geef_details_by_leerplaats_id(wl1, companies):
    company = next(c for c in companies if any(p["einddatum"] for p in open_placements(c)))
    p = next(p for p in open_placements(company) if p["einddatum"])
    r = call(wl1, "GeefDetails", LeerplaatsId=p["leerplaatsId"])
    assert r.Signaalcode == 0
    _company_fields(r, company)
    assert r.LeerplaatsId == p["leerplaatsId"]
    assert [(o.Crebonummer, o.Omschrijving) for o in r.Opleidingen.Opleiding] == \
           [(int(p["crebonummer"]), p["omschrijving"])]
    assert r.Omschrijving == p["omschrijving"]
    assert r.Startdatum.isoformat() == p["startdatum"]
    assert r.Einddatum.isoformat() == p["einddatum"]
    onderdelen = r.Kwalificatieonderdelen.Kwalificatieonderdeel
    assert onderdelen and all(o.Type and o.Omschrijving for o in onderdelen)
    assert QUALIFICATIONS[p["crebonummer"]] in [o.Omschrijving for o in onderdelen]


def test_geef_details_unknown_keys(wl1, companies):
    known = {c["leerbedrijfId"] for c in companies}
    unknown_id = next(str(n) for n in range(999999999, 0, -1) if str(n) not in known)
    r = call(wl1, "GeefDetails", CodeLeerbedrijf=unknown_id)
    assert r.Signaalcode == 3 and r.Naam is None
    placements = {p["leerplaatsId"] for c in companies for p in c["leerplaatsen"]}
    unknown_lp = max(placements) + 1_000_000
    r = call(wl1, "GeefDetails", LeerplaatsId=unknown_lp)
    assert r.Signaalcode == 6 and r.Naam is None


# -- GeefMutaties -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("vanaf", [10 ** 12, 987654])
def test_geef_mutaties_nothing_new(wl1, vanaf):
    r = call(wl1, "GeefMutaties", VanafVolgnummer=vanaf, MaximumAantal=5)
    assert r.Signaalcode == 0
    assert r.LaatsteVolgnummer == vanaf
    assert r.Mutaties is None


# -- licences -----------------------------------------------------------------------------------------------------
def test_unknown_licence_is_996_without_upstream_call(wl1, simulator, companies):
    c = companies[0]
    requests_ = {
        "GeefBedrijfsgegevens": dict(Bedrijfsnaam=c["naam"], Postcode=c["vestigingsadres"]["postcode"]),
        "VerifieerAccreditatie": dict(CodeLeerbedrijf=c["leerbedrijfId"],
                                      Crebonummer=int(c["erkenningen"][0]["crebonummer"]), Peildatum=TODAY),
        "Zoeken": dict(AantalResultatenPerPagina=5, Pagina=1, LeerplaatsErkenningAanduiding="E"),
        "GeefDetails": dict(CodeLeerbedrijf=c["leerbedrijfId"]),
        "GeefMutaties": dict(VanafVolgnummer=0),
    }
    before = messages(simulator.url)
    for operation, fields in requests_.items():
        r = call(wl1, operation, licence="geen-geldige-licentie", **fields)
        assert r.Signaalcode == 996, operation
    assert messages_since(simulator.url, before) == []
    # the same calls with a valid licence do reach WL 2.0 (so the check above can see calls)
    for operation in ("GeefBedrijfsgegevens", "GeefDetails"):
        assert call(wl1, operation, **requests_[operation]).Signaalcode in (0, 1)
    assert len(messages_since(simulator.url, before)) >= 2


def test_other_schools_licence_works_as_that_school(wl1, simulator, companies):
    company = next(c for c in companies if current(c))
    e = current(company)[0]
    before = messages(simulator.url)
    r = verifieer(wl1, company["leerbedrijfId"], e["crebonummer"], TODAY, licence=OTHER_LICENCE)
    assert r.Signaalcode == 0
    new = [m for m in messages_since(simulator.url, before) if m["operation"] == "VerifieerAccreditatie"]
    assert [m["oin"] for m in new] == [OTHER_SCHOOL_OIN]
    before = messages(simulator.url)
    verifieer(wl1, company["leerbedrijfId"], e["crebonummer"], TODAY)
    new = [m for m in messages_since(simulator.url, before) if m["operation"] == "VerifieerAccreditatie"]
    assert [m["oin"] for m in new] == [SCHOOL_OIN]


# -- every WL 2.0 signaalcode, forced by scenario on an own simulator ---------------------------------------------
@pytest.fixture(scope="module")
def own(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ops-own")
    sim = start_simulator_process(workdir / "simulator.log", count=60)
    adapter = AdapterServer(workdir / "adapter", f"{sim.url}/wl2")
    try:
        yield sim, adapter, wl1_client(adapter).service
    finally:
        adapter.stop()
        sim.stop()


# 0 -> 0 is the natural answer (checked after the scenario is cleared): a forced 0 comes without any content
SIGNAALCODES = [(1, 1), (10, 3), (11, 5), (12, 6), (20, 4), (90, 996), (99, 999), (42, 999), (31, 999)]


def test_every_wl2_signaalcode_maps(own):
    sim, _adapter, wl1 = own
    cs = requests.get(f"{sim.url}/admin/leerbedrijven", params={"limit": 60}, timeout=10).json()["leerbedrijven"]
    company = next(c for c in cs if current(c) and open_placements(c))
    e = current(company)[0]
    calls = {
        "IdentificeerLeerbedrijf": lambda: call(wl1, "GeefBedrijfsgegevens", Bedrijfsnaam=company["naam"],
                                                Postcode=company["vestigingsadres"]["postcode"]),
        "VerifieerAccreditatie": lambda: verifieer(wl1, company["leerbedrijfId"], e["crebonummer"], TODAY),
        "ZoekenLeerbedrijfOfLeerplaats": lambda: zoeken(wl1, "E", CodeLeerbedrijf=company["leerbedrijfId"]),
        "OpvragenDetailgegevensLeerbedrijf": lambda: call(wl1, "GeefDetails", CodeLeerbedrijf=company["leerbedrijfId"]),
    }
    wrong = []
    try:
        for operation, run in calls.items():
            for wl2_code, wl1_code in SIGNAALCODES:
                requests.post(f"{sim.url}/admin/scenario", json={"operation": operation, "signaalcode": wl2_code},
                              timeout=10).raise_for_status()
                r = run()
                if r.Signaalcode != wl1_code:
                    wrong.append((operation, wl2_code, r.Signaalcode, wl1_code))
            requests.delete(f"{sim.url}/admin/scenario", timeout=10).raise_for_status()
            assert run().Signaalcode == 0, operation
    finally:
        requests.delete(f"{sim.url}/admin/scenario", timeout=10)
    assert wrong == [], "(operation, WL 2.0 code, WL 1.0 answer, expected)"


# -- CodeLeerbedrijf: the mapping table and old-style codes -------------------------------------------------------
@pytest.fixture(scope="module")
def fresh(adapter, simulator, tmp_path_factory):
    """An adapter of its own (empty mapping) in front of the shared simulator (only read)."""
    server = AdapterServer(tmp_path_factory.mktemp("ops-fresh"), f"{simulator.url}/wl2")
    server.mapping_csv = adapter.mapping_csv
    try:
        yield server, wl1_client(server).service
    finally:
        server.stop()


def mapping_rows(server: AdapterServer) -> dict[str, str]:
    path = server.store_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT code, leerbedrijf_id FROM code_mapping"))


def read_csv(path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].replace(" ", "").lower() == "code_leerbedrijf,leerbedrijf_id"
    return dict(line.split(",") for line in lines[1:] if line.strip())


def test_mapping_import_then_old_code_answers_like_its_id(fresh, simulator, companies):
    server, wl1 = fresh
    csv_rows = read_csv(server.mapping_csv)
    by_id = {c["leerbedrijfId"]: c for c in companies}
    code, leerbedrijf_id = next((k, v) for k, v in csv_rows.items() if v in by_id and current(by_id[v]))
    company = by_id[leerbedrijf_id]
    e = current(company)[0]
    assert code not in mapping_rows(server)
    done = server.cli("mapping", "import", str(server.mapping_csv))
    assert done.returncode == 0, done.stderr
    assert mapping_rows(server).get(code) == leerbedrijf_id
    before = messages(simulator.url)
    by_code = verifieer(wl1, code, e["crebonummer"], TODAY)
    searched = [m for m in messages_since(simulator.url, before) if m["operation"] == "ZoekenLeerbedrijfOfLeerplaats"]
    by_id_answer = verifieer(wl1, leerbedrijf_id, e["crebonummer"], TODAY)
    assert by_code.Signaalcode == by_id_answer.Signaalcode == 0
    assert (by_code.Startdatum, by_code.Einddatum) == (by_id_answer.Startdatum, by_id_answer.Einddatum)
    assert searched == [], "a mapped code needs no search upstream"
    details = call(wl1, "GeefDetails", CodeLeerbedrijf=code)
    assert details.Signaalcode == 0 and details.CodeLeerbedrijf == leerbedrijf_id


def test_unmapped_valid_old_code_is_resolved_by_search_and_then_mapped(fresh, simulator, companies):
    server, wl1 = fresh
    mapped = set(read_csv(server.mapping_csv).values())
    company = next(c for c in companies if c["codeLeerbedrijf"] is None and current(c)
                   and c["leerbedrijfId"] not in mapped and unique_address(companies, c))
    a = company["vestigingsadres"]
    code = f"QQ9Z{a['postcode']}{a['huisnummer']:05d}01"
    e = current(company)[0]
    assert code not in mapping_rows(server)
    before = messages(simulator.url)
    first = verifieer(wl1, code, e["crebonummer"], TODAY)
    ops = [m["operation"] for m in messages_since(simulator.url, before)]
    assert first.Signaalcode == 0
    assert first.Startdatum.isoformat() == e["begindatum"]
    assert ops.count("ZoekenLeerbedrijfOfLeerplaats") == 1
    assert mapping_rows(server).get(code) == company["leerbedrijfId"]
    before = messages(simulator.url)
    second = verifieer(wl1, code, e["crebonummer"], TODAY)
    ops = [m["operation"] for m in messages_since(simulator.url, before)]
    assert second.Signaalcode == 0
    assert "ZoekenLeerbedrijfOfLeerplaats" not in ops
    assert "VerifieerAccreditatie" in ops


def test_ambiguous_and_unknown_old_codes_are_3(fresh, companies):
    server, wl1 = fresh
    at = Counter((c["vestigingsadres"]["postcode"], c["vestigingsadres"]["huisnummer"]) for c in companies
                 if current(c))
    (pc, hn), n = at.most_common(1)[0]
    assert n >= 2, "the simulator generates companies sharing postcode and house number"
    crebo = next(e["crebonummer"] for c in companies for e in current(c))
    ambiguous = f"QQ9Z{pc}{hn:05d}07"
    assert verifieer(wl1, ambiguous, crebo, TODAY).Signaalcode == 3
    assert ambiguous not in mapping_rows(server)
    used = {c["vestigingsadres"]["postcode"] for c in companies}
    free_pc = next(f"{n}ZZ" for n in range(9999, 1000, -1) if f"{n}ZZ" not in used)
    for code in (f"QQ9Z{free_pc}0000101", "GEEN-CODE-HIER"):
        assert verifieer(wl1, code, crebo, TODAY).Signaalcode == 3, code
        assert call(wl1, "GeefDetails", CodeLeerbedrijf=code).Signaalcode == 3, code
        assert zoeken(wl1, "E", CodeLeerbedrijf=code).Signaalcode == 3, code


# -- more of the Zoeken request translation -----------------------------------------------------------------------
def test_zoeken_vestigingsadres_filters_and_land_ignored(wl1, companies):
    company = next(c for c in companies if current(c))
    a = company["vestigingsadres"]
    same_town = lambda c: c["vestigingsadres"]["plaats"].lower() == a["plaats"].lower()  # noqa: E731
    by_town = zoeken(wl1, "E", Vestigingsadres={"Plaats": a["plaats"]})
    assert by_town.AantalResultatenTotaal == e_hits(companies, same_town)
    assert {h.Vestigingsadres.Plaats for h in resultaten(by_town)} == {a["plaats"]}
    # Land is ignored (WL 2.0 searches Dutch addresses): whatever it says, the same answer
    with_land = zoeken(wl1, "E", Vestigingsadres={"Plaats": a["plaats"], "Land": "België"})
    assert with_land.AantalResultatenTotaal == by_town.AantalResultatenTotaal
    street = zoeken(wl1, "E", Vestigingsadres={"Straat": a["straat"], "Huisnummer": a["huisnummer"],
                                               "Plaats": a["plaats"]})
    expected = e_hits(companies, lambda c: same_town(c) and c["vestigingsadres"]["huisnummer"] == a["huisnummer"]
                      and a["straat"].lower() in c["vestigingsadres"]["straat"].lower())
    assert street.Signaalcode == 0 and street.AantalResultatenTotaal == expected
    assert company["leerbedrijfId"] in {h.CodeLeerbedrijf for h in resultaten(street)}
    # Huisnummer 0 means unknown: no house number filter at all
    zero = zoeken(wl1, "E", Vestigingsadres={"Straat": a["straat"], "Huisnummer": 0, "Plaats": a["plaats"]})
    assert zero.AantalResultatenTotaal == e_hits(
        companies, lambda c: same_town(c) and a["straat"].lower() in c["vestigingsadres"]["straat"].lower())


def test_zoeken_in_de_buurt_widens_the_postcode_range(wl1, companies):
    from adapter.simulator.search import NEARBY_PC4
    company = next(c for c in companies if current(c))
    pc = company["vestigingsadres"]["postcode"]
    van, tot = f"{max(1000, int(pc[:4]) - NEARBY_PC4)}AA", f"{min(9999, int(pc[:4]) + NEARBY_PC4)}ZZ"
    near = zoeken(wl1, "E", PostcodeRange=pc, ZoekInDeBuurt=True)
    assert near.AantalResultatenTotaal == e_hits(companies, lambda c: van <= c["vestigingsadres"]["postcode"] <= tot)
    exact = zoeken(wl1, "E", PostcodeRange=pc, ZoekInDeBuurt=False)
    assert exact.AantalResultatenTotaal == e_hits(companies, lambda c: c["vestigingsadres"]["postcode"] == pc)


def test_geef_details_of_a_closed_placement(wl1, companies):
    company = next((c for c in companies if any(not p["open"] for p in c["leerplaatsen"])), None)
    if company is None:
        pytest.skip("no closed placement in the data set")
    p = next(p for p in company["leerplaatsen"] if not p["open"])
    r = call(wl1, "GeefDetails", LeerplaatsId=p["leerplaatsId"])
    assert r.Signaalcode == 0
    assert r.LeerplaatsId == p["leerplaatsId"] and r.CodeLeerbedrijf == company["leerbedrijfId"]
    assert r.Einddatum.isoformat() == p["einddatum"]
