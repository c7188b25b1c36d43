"""Every WL 2.0 operation of the simulator over HTTP with a real zeep client, and every signaalcode.

The simulator runs as a real process (seed 1, 300 companies, today 2026-11-29); expected answers are worked out
from its admin listing of the register and the rules in CONTRACTS.md. Every answer is checked against the XSD and
its reply headers by ``SimClient.call``.
"""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

from adapter.simulator.generate import generate
from adapter.simulator.tables import QUALIFICATIONS
from tests.support.servers import OTHER_SCHOOL_OIN, TODAY
from tests.support.simulator import SimClient, code, start_simulator

TODAY_DATE = dt.date.fromisoformat(TODAY)


@pytest.fixture(scope="module")
def sim():
    server = start_simulator()
    try:
        yield SimClient(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def companies(sim):
    return sim.companies()


def _erkend(c: dict) -> list[dict]:
    return [e for e in c["erkenningen"] if e["status"] == "ERKEND"]


def _at_same_address(companies):
    seen = {}
    for c in companies:
        key = (c["vestigingsadres"]["postcode"], c["vestigingsadres"]["huisnummer"])
        if key in seen:
            return seen[key], c
        seen[key] = c
    raise AssertionError("the data set has no two companies at one postcode and house number")


# --- the data set served is the one the seed defines --------------------------------------------------------

def test_served_register_is_the_seeds_data_set(companies):
    expected = generate(1, 300)
    assert [(c["leerbedrijfId"], c["naam"], c["codeLeerbedrijf"]) for c in companies] == \
        [(c.leerbedrijf_id, c.naam, c.old_code) for c in expected]


# --- IdentificeerLeerbedrijf --------------------------------------------------------------------------------

def test_identify_ignores_case_and_punctuation(sim, companies):
    c = next(c for c in companies if c["naam"].endswith(" B.V."))
    postcode = c["vestigingsadres"]["postcode"]
    for name in (c["naam"].lower().removesuffix(" b.v."), c["naam"].upper().replace(".", ""), c["naam"]):
        body = sim.call("IdentificeerLeerbedrijf", Naam=name, Postcode=postcode)
        assert code(body) == 0, name
        assert c["leerbedrijfId"] in [lb.LeerbedrijfId for lb in body.Leerbedrijven.Leerbedrijf]


def test_identify_returns_the_short_shape_with_correspondence_address(sim, companies):
    c = next(c for c in companies if c["correspondentieadres"])
    body = sim.call("IdentificeerLeerbedrijf", Naam=c["naam"], Postcode=c["vestigingsadres"]["postcode"],
                    Huisnummer=c["vestigingsadres"]["huisnummer"])
    [found] = body.Leerbedrijven.Leerbedrijf
    assert found.LeerbedrijfId == c["leerbedrijfId"]
    assert found.Vestigingsadres.Straat == c["vestigingsadres"]["straat"]
    assert found.Vestigingsadres.Land == "NL"
    assert found.Correspondentieadres.Straat == "Postbus"


def test_identify_house_number_narrows(sim, companies):
    first, second = _at_same_address(companies)
    postcode = first["vestigingsadres"]["postcode"]
    number = first["vestigingsadres"]["huisnummer"]
    body = sim.call("IdentificeerLeerbedrijf", Naam=first["naam"], Postcode=postcode, Huisnummer=number)
    assert first["leerbedrijfId"] in [lb.LeerbedrijfId for lb in body.Leerbedrijven.Leerbedrijf]
    body = sim.call("IdentificeerLeerbedrijf", Naam=first["naam"], Postcode=postcode, Huisnummer=number + 1000)
    assert code(body) == 1


def test_identify_nothing_found_is_1_without_wrapper(sim):
    body = sim.call("IdentificeerLeerbedrijf", Naam="Bestaat Niet Nergens", Postcode="1234AB")
    assert code(body) == 1 and body.Signalering.Signaaltekst and body.Leerbedrijven is None


# --- VerifieerAccreditatie ----------------------------------------------------------------------------------

def _verify(sim, leerbedrijf_id, crebo, startdatum):
    return sim.call("VerifieerAccreditatie", LeerbedrijfId=leerbedrijf_id, Crebonummer=crebo, Startdatum=startdatum)


def test_verify_erkend_describes_the_recognition(sim, companies):
    c = next(c for c in companies if _erkend(c))
    e = _erkend(c)[0]
    body = _verify(sim, c["leerbedrijfId"], e["crebonummer"], TODAY)
    assert code(body) == 0
    r = body.Erkenning
    assert (r.Status, r.LeerbedrijfId, r.Crebonummer) == ("ERKEND", c["leerbedrijfId"], e["crebonummer"])
    assert r.Omschrijving == QUALIFICATIONS[e["crebonummer"]]
    assert r.Begindatum <= TODAY_DATE


def test_verify_withdrawn_is_ingetrokken_with_last_day_and_reason(sim, companies):
    for c in companies:
        for e in c["erkenningen"]:
            if not e["einddatum"]:
                continue
            day = dt.date.fromisoformat(e["einddatum"]) + dt.timedelta(days=1)
            others = [o for o in c["erkenningen"] if o["crebonummer"] == e["crebonummer"] and o is not e]
            if any(dt.date.fromisoformat(o["begindatum"]) <= day and not o["einddatum"] for o in others):
                continue
            body = _verify(sim, c["leerbedrijfId"], e["crebonummer"], day)
            assert code(body) == 0  # a negative outcome is still 0
            assert body.Erkenning.Status == "INGETROKKEN"
            assert body.Erkenning.Einddatum.isoformat() == e["einddatum"]
            assert body.Erkenning.Reden == e["reden"]
            # on the last recognised day itself it is still recognised
            assert _verify(sim, c["leerbedrijfId"], e["crebonummer"], day - dt.timedelta(days=1)
                           ).Erkenning.Status == "ERKEND"
            return
    pytest.fail("no withdrawn recognition in the data set")


def test_verify_niet_erkend_has_only_key_and_status(sim, companies):
    c = companies[0]
    crebo = next(q for q in sorted(QUALIFICATIONS) if q not in {e["crebonummer"] for e in c["erkenningen"]})
    body = _verify(sim, c["leerbedrijfId"], crebo, TODAY)
    assert code(body) == 0
    r = body.Erkenning
    assert (r.LeerbedrijfId, r.Crebonummer, r.Status) == (c["leerbedrijfId"], crebo, "NIET_ERKEND")
    assert (r.Omschrijving, r.Leerweg, r.Begindatum, r.Einddatum, r.Reden) == (None,) * 5


def test_verify_before_the_first_begindatum_is_niet_erkend(sim, companies):
    c = companies[0]
    crebo = c["erkenningen"][0]["crebonummer"]
    first = min(dt.date.fromisoformat(e["begindatum"]) for e in c["erkenningen"] if e["crebonummer"] == crebo)
    assert _verify(sim, c["leerbedrijfId"], crebo, first - dt.timedelta(days=1)).Erkenning.Status == "NIET_ERKEND"


@pytest.mark.parametrize("leerbedrijf_id, crebo, expected, foutmelding", [
    ("999999999", "25180", 10, None),
    ("100001", "99999", 11, "Crebonummer"),
    ("100001", "00000", 20, "Crebonummer"),
])
def test_verify_signaalcodes(sim, leerbedrijf_id, crebo, expected, foutmelding):
    body = _verify(sim, leerbedrijf_id, crebo, TODAY)
    assert code(body) == expected and body.Erkenning is None
    if foutmelding:
        assert foutmelding in body.Signalering.Foutmelding


# --- ZoekenLeerbedrijfOfLeerplaats --------------------------------------------------------------------------

def _search(sim, soort="LEERBEDRIJF", pagina=1, per=100, **criteria):
    return sim.call("ZoekenLeerbedrijfOfLeerplaats", Soort=soort, Pagina=pagina, AantalPerPagina=per, **criteria)


def _all_pages(sim, per=7, **criteria):
    results, pagina, total = [], 1, None
    while True:
        body = _search(sim, pagina=pagina, per=per, **criteria)
        assert code(body) == 0
        total = body.AantalResultatenTotaal
        if body.Resultaten is None:
            return total, results
        results.extend(body.Resultaten.Resultaat)
        pagina += 1


def test_search_leerbedrijf_in_a_town_is_complete_ordered_and_paged(sim, companies):
    town = companies[0]["vestigingsadres"]["plaats"]
    expected = sorted(((c["naam"].casefold(), int(c["leerbedrijfId"]), e["crebonummer"], e["leerweg"])
                       for c in companies if c["vestigingsadres"]["plaats"] == town for e in _erkend(c)))
    total, results = _all_pages(sim, Plaats=town.upper())
    assert total == len(expected) == len(results) > 7
    assert [(r.Naam.casefold(), int(r.LeerbedrijfId), r.Erkenning.Crebonummer, r.Erkenning.Leerweg)
            for r in results] == expected
    assert all(r.Erkenning.Status == "ERKEND" and r.Vestigingsadres.Plaats == town for r in results)


def test_search_by_old_code_parts_finds_that_company(sim, companies):
    first, second = _at_same_address(companies)
    c = next(c for c in companies if c["codeLeerbedrijf"] and _erkend(c) and c not in (first, second))
    old = c["codeLeerbedrijf"]
    body = _search(sim, PostcodeVan=old[4:10], PostcodeTot=old[4:10], Huisnummer=int(old[10:15]))
    assert {r.LeerbedrijfId for r in body.Resultaten.Resultaat} == {c["leerbedrijfId"]}


def test_search_at_a_shared_address_finds_both_companies(sim, companies):
    first, second = _at_same_address(companies)
    assert first["codeLeerbedrijf"] and second["codeLeerbedrijf"] and _erkend(first) and _erkend(second)
    postcode = first["codeLeerbedrijf"][4:10]
    body = _search(sim, PostcodeVan=postcode, PostcodeTot=postcode, Huisnummer=int(second["codeLeerbedrijf"][10:15]))
    assert {r.LeerbedrijfId for r in body.Resultaten.Resultaat} == {first["leerbedrijfId"], second["leerbedrijfId"]}


def test_search_postcode_range_and_crebo_and_leerweg(sim, companies):
    crebo, leerweg = "25180", "BBL"
    expected = {c["leerbedrijfId"] for c in companies if "3000AA" <= c["vestigingsadres"]["postcode"] <= "5999ZZ"
                and any(e["crebonummer"] == crebo and e["leerweg"] == leerweg for e in _erkend(c))}
    total, results = _all_pages(sim, PostcodeVan="3000AA", PostcodeTot="5999ZZ", Crebonummer=crebo, Leerweg=leerweg)
    assert {r.LeerbedrijfId for r in results} == expected and total == len(expected) > 0
    assert all((r.Erkenning.Crebonummer, r.Erkenning.Leerweg) == (crebo, leerweg) for r in results)


def test_search_name_anywhere_wildcard_and_exact(sim, companies):
    total, results = _all_pages(sim, per=100, Naam="BAKKERIJ")
    assert total and all("bakkerij" in r.Naam.casefold() for r in results)
    total, results = _all_pages(sim, per=100, Naam="bakkerij*b.v.")
    assert total and all(r.Naam.casefold().startswith("bakkerij") and r.Naam.endswith("B.V.") for r in results)
    c = next(c for c in companies if _erkend(c))
    total, results = _all_pages(sim, per=100, Naam=c["naam"].lower(), NaamExact=True)
    assert {r.Naam for r in results} == {c["naam"]}
    assert code(_search(sim, Naam=c["naam"][1:-1], NaamExact=True)) == 1


def test_search_leerbedrijf_id_straat(sim, companies):
    c = next(c for c in companies if len(_erkend(c)) > 1)
    total, results = _all_pages(sim, LeerbedrijfId=c["leerbedrijfId"], Straat=c["vestigingsadres"]["straat"][2:])
    assert total == len(_erkend(c)) == len(results)


def test_search_in_de_buurt_widens_the_postcode_range(sim, companies):
    postcode = companies[0]["vestigingsadres"]["postcode"]
    low, high = f"{int(postcode[:4]) - 20}AA", f"{int(postcode[:4]) + 20}ZZ"
    expected = {c["leerbedrijfId"] for c in companies if low <= c["vestigingsadres"]["postcode"] <= high
                and _erkend(c)}
    _, results = _all_pages(sim, per=100, PostcodeVan=postcode, PostcodeTot=postcode, ZoekInDeBuurt=True)
    assert {r.LeerbedrijfId for r in results} == expected and len(expected) > 1


def test_search_leerplaats_returns_open_placements(sim, companies):
    c = next(c for c in companies if any(p["open"] for p in c["leerplaatsen"]))
    open_ids = sorted(p["leerplaatsId"] for p in c["leerplaatsen"] if p["open"])
    total, results = _all_pages(sim, soort="LEERPLAATS", LeerbedrijfId=c["leerbedrijfId"])
    assert [r.Leerplaats.LeerplaatsId for r in results] == open_ids and total == len(open_ids)
    assert all(r.Erkenning is None and r.Leerplaats.Kwalificatieonderdelen for r in results)


def test_search_nothing_found_is_1_without_total(sim):
    body = _search(sim, Naam="zzz-bestaat-niet")
    assert code(body) == 1 and body.AantalResultatenTotaal is None and body.Resultaten is None


def test_search_page_past_the_end_is_0_with_total(sim, companies):
    town = companies[0]["vestigingsadres"]["plaats"]
    total = _search(sim, Plaats=town).AantalResultatenTotaal
    body = _search(sim, Plaats=town, pagina=total // 100 + 2)
    assert code(body) == 0 and body.AantalResultatenTotaal == total and body.Resultaten is None


@pytest.mark.parametrize("criteria, element", [
    ({"PostcodeVan": "5000AA", "PostcodeTot": "4000AA"}, "PostcodeVan"),
    ({"Crebonummer": "00000"}, "Crebonummer"),
])
def test_search_nonsense_is_20_naming_the_element(sim, criteria, element):
    body = _search(sim, **criteria)
    assert code(body) == 20 and element in body.Signalering.Foutmelding and body.AantalResultatenTotaal is None


def test_search_unknown_crebo_is_11(sim):
    assert code(_search(sim, Crebonummer="99999")) == 11


# --- OpvragenDetailgegevensLeerbedrijf ----------------------------------------------------------------------

def test_details_by_id_is_the_whole_company(sim, companies):
    c = next(c for c in companies if c["leerplaatsen"] and c["contactpersoon"] and c["kvkNummer"])
    body = sim.call("OpvragenDetailgegevensLeerbedrijf", LeerbedrijfId=c["leerbedrijfId"])
    lb = body.Leerbedrijf
    assert code(body) == 0
    assert (lb.LeerbedrijfId, lb.Naam, lb.KvkNummer, lb.Branche) == (
        c["leerbedrijfId"], c["naam"], c["kvkNummer"], c["branche"])
    assert lb.Contactpersoon.Naam == c["contactpersoon"]["naam"]
    assert sorted((e.Crebonummer, e.Leerweg, e.Status) for e in lb.Erkenningen.Erkenning) == \
        sorted((e["crebonummer"], e["leerweg"], e["status"]) for e in c["erkenningen"])
    assert len(lb.Leerplaatsen.Leerplaats) == len(c["leerplaatsen"])


def test_details_by_leerplaats_is_the_whole_company(sim, companies):
    c = next(c for c in companies if len(c["leerplaatsen"]) > 1)
    body = sim.call("OpvragenDetailgegevensLeerbedrijf", LeerplaatsId=c["leerplaatsen"][-1]["leerplaatsId"])
    assert body.Leerbedrijf.LeerbedrijfId == c["leerbedrijfId"]
    assert len(body.Leerbedrijf.Leerplaatsen.Leerplaats) == len(c["leerplaatsen"])


@pytest.mark.parametrize("key, expected", [({"LeerbedrijfId": "999999999"}, 10), ({"LeerplaatsId": 99999999}, 12)])
def test_details_unknown(sim, key, expected):
    body = sim.call("OpvragenDetailgegevensLeerbedrijf", **key)
    assert code(body) == expected and body.Leerbedrijf is None


# --- subscriptions ------------------------------------------------------------------------------------------

def test_subscriptions_per_school(sim, companies):
    c = companies[5]
    crebo = c["erkenningen"][0]["crebonummer"]
    first = sim.call("VerzoekAbonnementMutaties", LeerbedrijfId=c["leerbedrijfId"], Crebonummer=crebo,
                     Afleveradres="http://127.0.0.1:9/mutaties")
    assert code(first) == 0 and first.AbonnementId
    again = sim.call("VerzoekAbonnementMutaties", LeerbedrijfId=c["leerbedrijfId"], Crebonummer=crebo)
    assert code(again) == 30 and again.AbonnementId == first.AbonnementId
    other = sim.call("VerzoekAbonnementMutaties", oin=OTHER_SCHOOL_OIN, LeerbedrijfId=c["leerbedrijfId"])
    assert code(other) == 0 and other.AbonnementId != first.AbonnementId

    mine = sim.call("OverzichtLopendeAbonnementen").Abonnementen.Abonnement
    assert [(a.AbonnementId, a.LeerbedrijfId, a.Crebonummer, a.Afleveradres) for a in mine] == [
        (first.AbonnementId, c["leerbedrijfId"], crebo, "http://127.0.0.1:9/mutaties")]
    assert mine[0].Sinds.tzinfo is not None

    assert code(sim.call("BeeindigAbonnement", AbonnementId=other.AbonnementId)) == 31  # another school's
    assert code(sim.call("BeeindigAbonnement", AbonnementId=first.AbonnementId.upper())) == 0
    assert code(sim.call("BeeindigAbonnement", AbonnementId=first.AbonnementId)) == 31
    assert code(sim.call("BeeindigAbonnement", AbonnementId=str(uuid.uuid4()))) == 31
    listing = sim.call("OverzichtLopendeAbonnementen")
    assert code(listing) == 0 and listing.Abonnementen is None
    assert code(sim.call("BeeindigAbonnement", oin=OTHER_SCHOOL_OIN, AbonnementId=other.AbonnementId)) == 0


@pytest.mark.parametrize("leerbedrijf_id, crebo, expected", [("999999999", None, 10), ("100001", "00000", 20),
                                                             ("100001", "99999", 11)])
def test_subscription_refusals(sim, leerbedrijf_id, crebo, expected):
    body = sim.call("VerzoekAbonnementMutaties", LeerbedrijfId=leerbedrijf_id, Crebonummer=crebo)
    assert code(body) == expected and body.AbonnementId is None


# --- DoeErkenningsvoordracht --------------------------------------------------------------------------------

def test_voordracht_is_recorded(sim):
    adres = {"Straat": "Kerkstraat", "Huisnummer": 3, "Postcode": "3511AB", "Plaats": "Utrecht", "Land": "NL"}
    body = sim.call("DoeErkenningsvoordracht", Bedrijfsnaam="Nieuw Bedrijf B.V.", KvkNummer="12345678",
                    Vestigingsadres=adres, Crebonummer="25180", Leerweg="BBL", Toelichting="graag")
    assert code(body) == 0
    recorded = sim.admin("voordrachten").json()["voordrachten"]
    assert {"voordrachtId": body.VoordrachtId, "bedrijfsnaam": "Nieuw Bedrijf B.V.", "crebonummer": "25180",
            "leerweg": "BBL", "kvkNummer": "12345678"}.items() <= recorded[-1].items()
    refused = sim.call("DoeErkenningsvoordracht", Bedrijfsnaam="X", Vestigingsadres=adres, Crebonummer="00000",
                       Leerweg="BOL")
    assert code(refused) == 20 and refused.VoordrachtId is None
