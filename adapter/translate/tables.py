"""Code lists of the translation (CONTRACTS.md, "Translation rules")."""

# WL 2.0 Signalering/Signaalcode -> WL 1.0 Signaalcode. Anything else -> 999.
SIGNAALCODE_WL2_TO_WL1 = {0: 0, 1: 1, 10: 3, 11: 5, 12: 6, 20: 4, 90: 996, 99: 999}
SIGNAALCODE_OTHER = 999

# WL 1.0 signaalcodes with the Melding the adapter gives when it has nothing more specific.
MELDING_WL1 = {
    1: "Geen resultaten gevonden",
    2: "Niet erkend voor dit crebonummer op de peildatum",
    3: "CodeLeerbedrijf onbekend",
    4: "Ongeldige invoer",
    5: "Crebonummer onbekend",
    6: "LeerplaatsId onbekend",
    996: "Geen geldige licentie",
    998: "WL 2.0 tijdelijk niet bereikbaar; er is niets gewijzigd",
    999: "Technische fout",
}

# A WL 2.0 Foutmelding names a WL 2.0 element; the WL 1.0 Melding names the element the school sent.
ELEMENT_WL2_TO_WL1 = {
    "IdentificeerLeerbedrijf": {"Naam": "Bedrijfsnaam"},
    "VerifieerAccreditatie": {"LeerbedrijfId": "CodeLeerbedrijf", "Startdatum": "Peildatum"},
    "ZoekenLeerbedrijfOfLeerplaats": {
        "Naam": "LeerbedrijfNaam", "NaamExact": "LeerbedrijfNaamExact", "LeerbedrijfId": "CodeLeerbedrijf",
        "Straat": "Vestigingsadres/Straat", "Huisnummer": "Vestigingsadres/Huisnummer",
        "Plaats": "Vestigingsadres/Plaats", "PostcodeVan": "PostcodeRange", "PostcodeTot": "PostcodeRange",
        "AantalPerPagina": "AantalResultatenPerPagina", "Soort": "LeerplaatsErkenningAanduiding",
    },
    "OpvragenDetailgegevensLeerbedrijf": {"LeerbedrijfId": "CodeLeerbedrijf"},
    "DoeErkenningsvoordracht": {
        "Straat": "Vestigingsadres/Straat", "Huisnummer": "Vestigingsadres/Straat",
        "Huisnummertoevoeging": "Vestigingsadres/Straat", "Postcode": "Vestigingsadres/Postcode",
        "Plaats": "Vestigingsadres/Plaats", "Land": "Vestigingsadres/Land",
    },
}

# Zoeken: LeerplaatsErkenningAanduiding -> ZoekenLeerbedrijfOfLeerplaats/Soort
ZOEK_SOORT = {"E": "LEERBEDRIJF", "L": "LEERPLAATS"}

# WL 2.0 MutatieLeerbedrijf/Soort -> WL 1.0 Mutatie/Soort
MUTATIE_SOORT = {
    "ERKENNING_INGETROKKEN": "INTREKKING",
    "ERKENNING_VERLEEND": "ERKENNING",
    "ERKENNING_GEWIJZIGD": "WIJZIGING_ERKENNING",
    "LEERBEDRIJFID_GEWIJZIGD": "WIJZIGING_CODE",
    "GEGEVENS_GEWIJZIGD": "WIJZIGING_GEGEVENS",
}
MUTATION_KINDS = tuple(MUTATIE_SOORT)  # every WL 2.0 MutatieLeerbedrijf/Soort
ID_CHANGE = "LEERBEDRIJFID_GEWIJZIGD"

# ISO 3166-1 alpha-2 (WL 2.0 Land) <-> Dutch country name (WL 1.0 Land). Unknown values pass unchanged.
LAND_NAAM = {
    "NL": "Nederland",
    "BE": "België",
    "DE": "Duitsland",
    "FR": "Frankrijk",
    "LU": "Luxemburg",
    "GB": "Verenigd Koninkrijk",
    "IE": "Ierland",
    "ES": "Spanje",
    "PT": "Portugal",
    "IT": "Italië",
    "AT": "Oostenrijk",
    "CH": "Zwitserland",
    "DK": "Denemarken",
    "SE": "Zweden",
    "NO": "Noorwegen",
    "FI": "Finland",
    "PL": "Polen",
    "CZ": "Tsjechië",
    "HU": "Hongarije",
    "GR": "Griekenland",
    "TR": "Turkije",
    "MA": "Marokko",
    "SR": "Suriname",
    "CW": "Curaçao",
    "AW": "Aruba",
    "US": "Verenigde Staten",
}

# Dutch country name (WL 1.0 Land, compared case-insensitively) -> ISO code (WL 2.0 Land), for proposals
LAND_ISO = {naam.casefold(): iso for iso, naam in LAND_NAAM.items()}

# WL 1.0 request element types: values are converted from text by these; the rest stays a string.
WL1_INT_FIELDS = frozenset({
    "Crebonummer", "Huisnummer", "AantalResultatenPerPagina", "Pagina", "LeerplaatsId",
    "VanafVolgnummer", "MaximumAantal",
})
WL1_BOOL_FIELDS = frozenset({"ZoekInDeBuurt", "LeerbedrijfNaamExact"})
WL1_DATE_FIELDS = frozenset({"Peildatum"})
