"""The translation rules of CONTRACTS.md as plain functions: no servers, data in, data out."""
from datetime import date

import pytest

from adapter.errors import InvalidInput
from adapter.translate import to_wl1, to_wl2, values


@pytest.mark.parametrize("given", ["1234 ab", "1234AB", "1234ab", " 1234  Ab "])
def test_postcode_spellings_mean_the_same(given):
    assert values.postcode(given) == "1234AB"


@pytest.mark.parametrize("given", ["0234AB", "12345", "1234A", "ABCD12", "1234ABC", ""])
def test_postcode_that_cannot_be_normalised_is_invalid_input_naming_the_element(given):
    with pytest.raises(InvalidInput) as exc:
        values.postcode(given)
    assert exc.value.element == "Postcode"


@pytest.mark.parametrize("given, expected", [
    ("3511AB", ("3511AB", "3511AB")), ("3511 ab", ("3511AB", "3511AB")),
    ("3511AB3599ZZ", ("3511AB", "3599ZZ")), ("3511 AB 3599 zz", ("3511AB", "3599ZZ")),
])
def test_postcode_range(given, expected):
    assert values.postcode_range(given) == expected


@pytest.mark.parametrize("given", ["3511", "3511AB35", "3599ZZ3511AB", "0511AB3599ZZ"])
def test_bad_or_backwards_postcode_range_is_invalid_input(given):
    with pytest.raises(InvalidInput) as exc:
        values.postcode_range(given)
    assert exc.value.element == "PostcodeRange"


@pytest.mark.parametrize("straat, nummer, toevoeging, expected", [
    ("Oudegracht", 12, "a", "Oudegracht 12a"), ("Kerkweg", 7, "2", "Kerkweg 7-2"),
    ("Dorpsstraat", 1, None, "Dorpsstraat 1"), ("Laan", 3, "", "Laan 3"), ("Plein", 9, "bis", "Plein 9bis"),
])
def test_street_and_number_in_one_string(straat, nummer, toevoeging, expected):
    assert values.straat_wl1(straat, nummer, toevoeging) == expected


def test_countries_and_unknown_passes_unchanged():
    # WL 1.0 -> WL 2.0 needs no country: Vestigingsadres/Land of a search is ignored (CONTRACTS.md)
    assert values.land_wl1("NL") == "Nederland" and values.land_wl1("BE") == "België"
    assert values.land_wl1("DE") == "Duitsland" and values.land_wl1("QQ") == "QQ"


def test_crebo_both_ways():
    assert values.crebo_to_wl2(123) == "00123" and values.crebo_to_wl2(25180) == "25180"
    assert values.crebo_to_wl1("00123") == 123


def test_old_style_code():
    code = values.parse_old_code("25be3511ab0001202")
    assert (code.brin, code.postcode, code.huisnummer, code.volgnummer) == ("25BE", "3511AB", 12, 2)
    assert values.parse_old_code("99ZZ9999JJ0001602").huisnummer == 16
    assert values.parse_old_code("100001") is None and values.parse_old_code("25BE3511AB00012") is None
    assert values.is_leerbedrijf_id("123456789012") and not values.is_leerbedrijf_id("1234567890123")


@pytest.mark.parametrize("wl2, wl1", [(0, 0), (1, 1), (10, 3), (11, 5), (12, 6), (20, 4), (90, 996), (99, 999),
                                      (30, 999), (42, 999)])
def test_signaalcode_mapping(wl2, wl1):
    assert to_wl1.signaalcode(wl2) == wl1


def _answer(code=0, **rest):
    return {"BerichtID": "x", "Signalering": {"Signaalcode": code, "Signaaltekst": "t", "Foutmelding": None}, **rest}


def test_identificeer_request_and_result():
    assert to_wl2.identificeer({"Licentie": "l", "Bedrijfsnaam": "Bakkerij", "Postcode": "1234 ab", "Huisnummer": 0,
                                "BrinKenniscentrum": "25BE"}) == {"Naam": "Bakkerij", "Postcode": "1234AB"}
    adres = {"Straat": "Markt", "Huisnummer": 5, "Postcode": "1234AB", "Plaats": "Delft", "Land": "NL"}
    body = _answer(Leerbedrijven={"Leerbedrijf": [{"LeerbedrijfId": "100001", "Naam": "Bakkerij",
                                                   "Vestigingsadres": adres}]})
    assert to_wl1.identificeer(body) == {"Signaalcode": 0, "Bedrijven": {"Bedrijf": [
        {"Bedrijfsnaam": "Bakkerij", "Postcode": "1234AB", "Huisnummer": 5, "CodeLeerbedrijf": "100001"}]}}
    assert to_wl1.identificeer(_answer(1)) == {"Signaalcode": 1, "Melding": "Geen resultaten gevonden"}


def test_verifieer_outcomes():
    assert to_wl2.verifieer({"CodeLeerbedrijf": "x", "Crebonummer": 25180, "Peildatum": date(2026, 1, 1)},
                            "100001") == {"LeerbedrijfId": "100001", "Crebonummer": "25180",
                                          "Startdatum": date(2026, 1, 1)}
    erkend = {"LeerbedrijfId": "1", "Crebonummer": "25180", "Status": "ERKEND", "Begindatum": date(2020, 1, 1)}
    assert to_wl1.verifieer(_answer(Erkenning=erkend)) == {"Signaalcode": 0, "Startdatum": date(2020, 1, 1)}
    ingetrokken = {**erkend, "Status": "INGETROKKEN", "Einddatum": date(2025, 3, 31), "Reden": "geen studenten"}
    result = to_wl1.verifieer(_answer(Erkenning=ingetrokken))
    assert result["Signaalcode"] == 2 and "2025-03-31" in result["Melding"] and "Startdatum" not in result
    assert to_wl1.verifieer(_answer(Erkenning={"LeerbedrijfId": "1", "Crebonummer": "25180",
                                               "Status": "NIET_ERKEND"}))["Signaalcode"] == 2
    assert to_wl1.verifieer(_answer(10))["Signaalcode"] == 3


def test_zoeken_request():
    req = {"AantalResultatenPerPagina": 25, "Pagina": 2, "LeerplaatsErkenningAanduiding": "E",
           "LeerbedrijfNaam": "bak%", "LeerbedrijfNaamExact": False, "PostcodeRange": "1234AB1299ZZ",
           "Vestigingsadres": {"Straat": "Markt", "Huisnummer": 0, "Plaats": "Delft", "Land": "Nederland"},
           "Crebonummer": 123, "Leerweg": "BBL"}
    assert to_wl2.zoeken(req, "100001") == {
        "Soort": "LEERBEDRIJF", "Naam": "bak*", "NaamExact": False, "LeerbedrijfId": "100001", "Straat": "Markt",
        "Plaats": "Delft", "PostcodeVan": "1234AB", "PostcodeTot": "1299ZZ", "Crebonummer": "00123",
        "Leerweg": "BBL", "Pagina": 2, "AantalPerPagina": 25}


def test_zoeken_results_for_recognitions_and_placements():
    adres = {"Straat": "Kerkweg", "Huisnummer": 7, "Huisnummertoevoeging": "2", "Postcode": "1234AB",
             "Plaats": "Delft", "Land": "NL"}
    e = {"LeerbedrijfId": "1", "Naam": "A", "Vestigingsadres": adres,
         "Erkenning": {"LeerbedrijfId": "1", "Crebonummer": "25180", "Omschrijving": "Kok", "Leerweg": "BOL",
                       "Status": "ERKEND"}}
    plaats = {"LeerplaatsId": 9, "Crebonummer": "25180", "Omschrijving": "Kok", "Leerweg": "BBL", "Aantal": 2,
              "Vacaturetekst": "Kom koken"}
    p = {"LeerbedrijfId": "2", "Naam": "B", "Vestigingsadres": adres, "Leerplaats": plaats}
    result = to_wl1.zoeken(_answer(AantalResultatenTotaal=2, Resultaten={"Resultaat": [e, p]}))
    first, second = result["Resultaten"]["Resultaat"]
    assert result["AantalResultatenTotaal"] == 2
    assert first == {"CodeLeerbedrijf": "1", "LeerbedrijfNaam": "A",
                     "Vestigingsadres": {"Straat": "Kerkweg 7-2", "Postcode": "1234AB", "Plaats": "Delft",
                                         "Land": "Nederland"},
                     "Erkenning": {"Crebonummer": 25180, "Omschrijving": "Kok", "Leerweg": "BOL"}, "Leerweg": "BOL"}
    assert second["LeerplaatsId"] == 9 and second["LeerplaatsAantal"] == 2 and second["Leerweg"] == "BBL"
    assert second["Opleidingen"] == {"Opleiding": [{"Crebonummer": 25180, "Omschrijving": "Kok"}]}
    assert second["VacatureLeerplaatsOmschrijving"] == "Kom koken"
    past_the_end = to_wl1.zoeken(_answer(AantalResultatenTotaal=2))
    assert past_the_end == {"Signaalcode": 0, "AantalResultatenTotaal": 2}
    assert to_wl1.zoeken(_answer(1)) == {"Signaalcode": 1, "Melding": "Geen resultaten gevonden"}


def test_wl2_foutmelding_names_the_wl1_element():
    body = _answer(20)
    body["Signalering"]["Foutmelding"] = "PostcodeVan: ligt na PostcodeTot"
    assert to_wl1.zoeken(body) == {"Signaalcode": 4, "Melding": "PostcodeRange: ligt na PostcodeTot"}


def test_details_by_placement_and_unknown_placement():
    adres = {"Straat": "Markt", "Huisnummer": 1, "Postcode": "1234AB", "Plaats": "Delft", "Land": "NL"}
    plaats = {"LeerplaatsId": 9, "Crebonummer": "25180", "Omschrijving": "Kok", "Leerweg": "BBL", "Aantal": 1,
              "Startdatum": date(2026, 9, 1),
              "Kwalificatieonderdelen": {"Kwalificatieonderdeel": [{"Type": "Keuzedeel", "Omschrijving": "Wijn"}]}}
    body = _answer(Leerbedrijf={"LeerbedrijfId": "1", "Naam": "A", "Vestigingsadres": adres, "Website": "https://a.nl",
                                "Leerplaatsen": {"Leerplaats": [plaats]}})
    result = to_wl1.details(body, 9)
    assert result["WebsiteUrl"] == "https://a.nl" and result["LeerplaatsId"] == 9
    assert result["Startdatum"] == date(2026, 9, 1) and result["Omschrijving"] == "Kok"
    assert result["Kwalificatieonderdelen"] == {"Kwalificatieonderdeel": [{"Type": "Keuzedeel", "Omschrijving": "Wijn"}]}
    assert "LeerplaatsId" not in to_wl1.details(body)
    assert to_wl1.details(body, 10)["Signaalcode"] == 6


@pytest.mark.parametrize("soort, wl1", [("ERKENNING_INGETROKKEN", "INTREKKING"), ("ERKENNING_VERLEEND", "ERKENNING"),
                                        ("ERKENNING_GEWIJZIGD", "WIJZIGING_ERKENNING"),
                                        ("LEERBEDRIJFID_GEWIJZIGD", "WIJZIGING_CODE"),
                                        ("GEGEVENS_GEWIJZIGD", "WIJZIGING_GEGEVENS")])
def test_mutation_kinds(soort, wl1):
    row = {"volgnummer": 3, "soort": soort, "leerbedrijf_id": "2", "oud_leerbedrijf_id": "1", "crebo": "00123",
           "ingangsdatum": date(2026, 11, 29), "toelichting": "t"}
    assert to_wl1.mutatie(row) == {"Volgnummer": 3, "Soort": wl1, "CodeLeerbedrijf": "2", "OudeCodeLeerbedrijf": "1",
                                   "Crebonummer": 123, "Ingangsdatum": date(2026, 11, 29), "Omschrijving": "t"}
