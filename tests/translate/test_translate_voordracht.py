"""DoeErkenningsvoordracht translated both ways, and the address split that is the inverse of the join rule."""
from __future__ import annotations

import pytest

from adapter.simulator.register import Register
from adapter.translate import to_wl1, to_wl2, values
from adapter.translate.values import InvalidInput


@pytest.mark.parametrize("straat, expected", [
    ("Oudegracht 12a", ("Oudegracht", 12, "a")),
    ("Kerkweg 7-2", ("Kerkweg", 7, "2")),
    ("Biltstraat 140", ("Biltstraat", 140, None)),
    ("Plein 1944 12", ("Plein 1944", 12, None)),
    ("Laan 1940-1945 3", ("Laan 1940-1945", 3, None)),
    ("2e Helmersstraat 10-III", ("2e Helmersstraat", 10, "III")),
    ("Oudegracht 12 bis", ("Oudegracht", 12, "bis")),
    ("  Dorpsstraat   5  ", ("Dorpsstraat", 5, None)),
])
def test_straat_is_split_into_street_number_and_toevoeging(straat, expected):
    s = values.split_straat(straat)
    assert (s.straat, s.huisnummer, s.toevoeging) == expected


@pytest.mark.parametrize("straat", ["Dorpsstraat", "Dorpsstraat 0", "12", "", "Postbus", "Kerkweg -7"])
def test_straat_that_cannot_be_split_is_invalid_input_naming_it(straat):
    with pytest.raises(InvalidInput) as exc:
        values.split_straat(straat)
    assert exc.value.element == "Vestigingsadres/Straat"


def test_split_is_the_inverse_of_the_join_rule_for_every_simulated_address():
    register = Register.generated(seed=1, count=2000)
    addresses = [c.adres for c in register.companies] + [register.details(c).correspondentie
                                                        for c in register.companies]
    seen_toevoeging = 0
    for a in filter(None, addresses):
        joined = values.straat_wl1(a.straat, a.huisnummer, a.toevoeging)
        s = values.split_straat(joined)
        assert (s.straat, s.huisnummer, s.toevoeging) == (a.straat, a.huisnummer, a.toevoeging), joined
        seen_toevoeging += a.toevoeging is not None
    assert seen_toevoeging > 10


REQUEST = {
    "Licentie": "x", "Bedrijfsnaam": "Kapsalon Knipwerk", "KvkNummer": "61234987",
    "Vestigingsadres": {"Straat": "Biltstraat 140-2", "Postcode": "3572 bk", "Plaats": "Utrecht", "Land": "Nederland"},
    "Contactpersoon": {"Naam": "Fatima El Amrani", "Telefoonnummer": "06-12345678"},
    "Crebonummer": 5394, "Leerweg": "BBL", "Toelichting": "Praktijkopleider aanwezig.",
}


def test_voordracht_to_wl2():
    assert to_wl2.voordracht(REQUEST) == {
        "Bedrijfsnaam": "Kapsalon Knipwerk", "KvkNummer": "61234987",
        "Vestigingsadres": {"Straat": "Biltstraat", "Huisnummer": 140, "Huisnummertoevoeging": "2",
                            "Postcode": "3572BK", "Plaats": "Utrecht", "Land": "NL"},
        "Contactpersoon": {"Naam": "Fatima El Amrani", "Telefoonnummer": "06-12345678"},
        "Crebonummer": "05394", "Leerweg": "BBL", "Toelichting": "Praktijkopleider aanwezig.",
    }


def test_voordracht_optional_parts_absent_and_a_foreign_address_kept_as_written():
    req = {**REQUEST, "Vestigingsadres": {"Straat": "Meir 50", "Postcode": "B-2000", "Plaats": "Antwerpen",
                                          "Land": "België"}}
    for optional in ("KvkNummer", "Contactpersoon", "Toelichting"):
        req.pop(optional)
    body = to_wl2.voordracht(req)
    assert set(body) == {"Bedrijfsnaam", "Vestigingsadres", "Crebonummer", "Leerweg"}
    assert body["Vestigingsadres"] == {"Straat": "Meir", "Huisnummer": 50, "Postcode": "B-2000",
                                       "Plaats": "Antwerpen", "Land": "BE"}


def test_voordracht_dutch_postcode_that_cannot_be_normalised_is_4_naming_it():
    req = {**REQUEST, "Vestigingsadres": {**REQUEST["Vestigingsadres"], "Postcode": "12345"}}
    with pytest.raises(InvalidInput) as exc:
        to_wl2.voordracht(req)
    assert exc.value.element == "Vestigingsadres/Postcode"


@pytest.mark.parametrize("naam, iso", [("Nederland", "NL"), (" nederland ", "NL"), ("BELGIË", "BE"), ("NL", "NL"),
                                       ("Atlantis", "Atlantis")])
def test_land_to_wl2(naam, iso):
    assert values.land_wl2(naam) == iso


def test_voordracht_result_to_wl1():
    ok = {"Signalering": {"Signaalcode": 0}, "VoordrachtId": "7D1F0B52-3C8E-4A9F-B6D2-5E4A1C9F0B37"}
    assert to_wl1.voordracht(ok) == {"Signaalcode": 0, "VoordrachtId": "7D1F0B52-3C8E-4A9F-B6D2-5E4A1C9F0B37"}
    refused = {"Signalering": {"Signaalcode": 11, "Foutmelding": "Crebonummer: 99999 komt niet voor"}}
    assert to_wl1.voordracht(refused) == {"Signaalcode": 5, "Melding": "Crebonummer: 99999 komt niet voor"}
    bad = {"Signalering": {"Signaalcode": 20, "Foutmelding": "Land: 'Atlantis' is geen landcode"}}
    assert to_wl1.voordracht(bad)["Melding"].startswith("Vestigingsadres/Land:")
    assert to_wl1.voordracht({"Signalering": {"Signaalcode": 0}})["Signaalcode"] == 999
