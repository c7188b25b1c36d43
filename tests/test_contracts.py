"""The frozen contracts (wsdl/, xsd/) against CONTRACTS.md, and the example messages against the contracts.

The expected operations, message elements and facets are written here from CONTRACTS.md, never read from the
XSD/WSDL under test. Schemas are checked with two independent validators (libxml2 through lxml, and xmlschema),
WSDLs with two independent SOAP clients (zeep and suds).
"""
from __future__ import annotations

import csv
import re
import threading
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from adapter import contracts
from adapter.contracts import SOAP11_ENV_NS, SOAP12_ENV_NS, WL1_NS, WL2_NS, WSA_NS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
XSD = ROOT / "xsd"
WSDL = ROOT / "wsdl"

# ---------------------------------------------------------------- the contract, as CONTRACTS.md states it
WL1_OPERATIONS = ["GeefBedrijfsgegevens", "VerifieerAccreditatie", "Zoeken", "GeefDetails", "GeefMutaties",
                  "DoeErkenningsvoordracht"]
WL2_SBB_OPERATIONS = [
    "IdentificeerLeerbedrijf", "VerifieerAccreditatie", "ZoekenLeerbedrijfOfLeerplaats",
    "OpvragenDetailgegevensLeerbedrijf", "VerzoekAbonnementMutaties", "OverzichtLopendeAbonnementen",
    "BeeindigAbonnement", "DoeErkenningsvoordracht",
]
WL2_SCHOOL_OPERATIONS = ["MutatieLeerbedrijf"]
WL2_OPERATIONS = WL2_SBB_OPERATIONS + WL2_SCHOOL_OPERATIONS

# WL 1.0: input element X (holding `request`), output XResponse (holding XResult).
WL1_MESSAGES = {m for op in WL1_OPERATIONS for m in (op, f"{op}Response")}
# WL 2.0: input XRequest, output XResponse.
WL2_MESSAGES = {m for op in WL2_OPERATIONS for m in (f"{op}Request", f"{op}Response")}
WSA_HEADERS = {"Action", "MessageID", "To", "From", "RelatesTo"}
WSA_REQUEST_HEADERS = ["Action", "MessageID", "To", "From"]
WSA_RESPONSE_HEADERS = ["Action", "MessageID", "RelatesTo"]

SCHOOL_OIN = re.compile(r"^00000007000[0-9A-Z]{4}00000$")
GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"


# ---------------------------------------------------------------- helpers
def _parse(path: Path) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.parse(str(path), parser).getroot()


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _ns(tag: str) -> str:
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


@pytest.fixture(scope="module")
def xs_schemas() -> dict[str, xmlschema.XMLSchema]:
    return {name: xmlschema.XMLSchema(str(XSD / f"{name}.xsd")) for name in ("wl1", "wl2", "ws-addr")}


def lxml_errors(contract: str, xml: str) -> list[contracts.Problem]:
    return contracts.CONTRACTS[contract].validate(etree.fromstring(xml.encode()))


def both_valid(contract: str, xml: str, xs_schemas) -> tuple[bool, bool]:
    """(valid by lxml through adapter.contracts, valid by xmlschema) for a bare message."""
    return not lxml_errors(contract, xml), xs_schemas[contract].is_valid(xml)


# ---------------------------------------------------------------- the schemas compile
@pytest.mark.parametrize("name", ["wl1.xsd", "wl2.xsd", "ws-addr.xsd"])
def test_schema_compiles_under_lxml_and_xmlschema(name):
    path = XSD / name
    doc = etree.parse(str(path), etree.XMLParser(no_network=True, load_dtd=False, resolve_entities=False))
    etree.XMLSchema(doc)  # raises XMLSchemaParseError when broken
    schema = xmlschema.XMLSchema(str(path))
    assert schema.validity == "valid"
    root = doc.getroot()
    assert root.get("elementFormDefault") == "qualified", "CONTRACTS.md: all elements namespace-qualified"


def test_shipped_contract_paths_are_the_top_level_files():
    # The package reads adapter/wsdl and adapter/xsd; in the source tree those must be the same files.
    for name in contracts.XSD_FILES:
        assert contracts.xsd_path(name).read_bytes() == (XSD / name).read_bytes()
    for name in ("wl1", "wl2"):
        assert contracts.wsdl_path(name).read_bytes() == (WSDL / f"{name}.wsdl").read_bytes()


@pytest.mark.parametrize("contract,namespace,expected", [
    ("wl1", WL1_NS, WL1_MESSAGES),
    ("wl2", WL2_NS, WL2_MESSAGES),
    ("ws-addr", WSA_NS, WSA_HEADERS),
])
def test_every_message_element_is_global(contract, namespace, expected, xs_schemas):
    schema = xs_schemas[contract]
    assert schema.target_namespace == namespace
    declared = {_local(name) for name in schema.elements}
    missing = expected - declared
    assert not missing, f"{contract}: message elements missing as global elements: {sorted(missing)}"


def test_message_element_lists_match_the_validator():
    # adapter.contracts decides what counts as a message element; it must know every one the contract needs.
    assert WL1_MESSAGES <= contracts.WL1.message_elements
    assert WL2_MESSAGES <= contracts.WL2.message_elements


# ---------------------------------------------------------------- facets CONTRACTS.md fixes, at and beyond bounds
def wl1_request(op: str, inner: str) -> str:
    return f'<{op} xmlns="{WL1_NS}"><request>{inner}</request></{op}>'


LIC = "<Licentie>L</Licentie>"


def wl1_zoeken(per_page="10", page="1", extra="", aanduiding="E"):
    return wl1_request("Zoeken", f"{LIC}<AantalResultatenPerPagina>{per_page}</AantalResultatenPerPagina>"
                                 f"<Pagina>{page}</Pagina><LeerplaatsErkenningAanduiding>{aanduiding}"
                                 f"</LeerplaatsErkenningAanduiding>{extra}")


def wl1_verifieer(licentie="L", code="100234567", crebo="25180", datum="2026-09-01"):
    return wl1_request("VerifieerAccreditatie", f"<Licentie>{licentie}</Licentie><CodeLeerbedrijf>{code}"
                                                f"</CodeLeerbedrijf><Crebonummer>{crebo}</Crebonummer>"
                                                f"<Peildatum>{datum}</Peildatum>")


def wl1_mutaties(vanaf="0", maximum=None):
    m = f"<MaximumAantal>{maximum}</MaximumAantal>" if maximum is not None else ""
    return wl1_request("GeefMutaties", f"{LIC}<VanafVolgnummer>{vanaf}</VanafVolgnummer>{m}")


def wl1_bedrijfsgegevens(naam="Bakkerij", postcode="3511AR", huisnummer=None, brin=None):
    h = f"<Huisnummer>{huisnummer}</Huisnummer>" if huisnummer is not None else ""
    b = f"<BrinKenniscentrum>{brin}</BrinKenniscentrum>" if brin is not None else ""
    return wl1_request("GeefBedrijfsgegevens", f"{LIC}<Bedrijfsnaam>{naam}</Bedrijfsnaam>"
                                               f"<Postcode>{postcode}</Postcode>{h}{b}")


BERICHT = "<BerichtID>3f2504e0-4f89-41d3-9a0c-0305e82c3301</BerichtID>"


def wl2_msg(name: str, inner: str, bericht: str = BERICHT) -> str:
    return f'<{name} xmlns="{WL2_NS}">{bericht}{inner}</{name}>'


def wl2_verifieer(lb="100234567", crebo="25180"):
    return wl2_msg("VerifieerAccreditatieRequest", f"<LeerbedrijfId>{lb}</LeerbedrijfId>"
                                                   f"<Crebonummer>{crebo}</Crebonummer><Startdatum>2026-09-01"
                                                   "</Startdatum>")


def wl2_identificeer(postcode="3511AR", huisnummer=None):
    h = f"<Huisnummer>{huisnummer}</Huisnummer>" if huisnummer is not None else ""
    return wl2_msg("IdentificeerLeerbedrijfRequest", f"<Naam>Bakkerij</Naam><Postcode>{postcode}</Postcode>{h}")


def wl2_adres(huisnummer="12", land="NL", postcode="3511AR"):
    return (f"<Straat>Oudegracht</Straat><Huisnummer>{huisnummer}</Huisnummer><Postcode>{postcode}</Postcode>"
            f"<Plaats>Utrecht</Plaats><Land>{land}</Land>")


def wl2_voordracht(adres=None, leerweg="BBL", kvk=None):
    k = f"<KvkNummer>{kvk}</KvkNummer>" if kvk is not None else ""
    return wl2_msg("DoeErkenningsvoordrachtRequest",
                   f"<Bedrijfsnaam>Kapsalon Knipwerk</Bedrijfsnaam>{k}<Vestigingsadres>{adres or wl2_adres()}"
                   f"</Vestigingsadres><Crebonummer>25394</Crebonummer><Leerweg>{leerweg}</Leerweg>")


def wl2_zoeken(soort="LEERBEDRIJF", per_page="10", page="1", extra=""):
    return wl2_msg("ZoekenLeerbedrijfOfLeerplaatsRequest",
                   f"<Soort>{soort}</Soort>{extra}<Pagina>{page}</Pagina><AantalPerPagina>{per_page}"
                   "</AantalPerPagina>")


def wl2_erkenning_status(status):
    return wl2_msg("VerifieerAccreditatieResponse",
                   "<Signalering><Signaalcode>0</Signaalcode><Signaaltekst>Verwerkt</Signaaltekst></Signalering>"
                   f"<Erkenning><LeerbedrijfId>1</LeerbedrijfId><Crebonummer>25180</Crebonummer>"
                   f"<Status>{status}</Status></Erkenning>")


def wl2_mutatie(soort):
    return wl2_msg("MutatieLeerbedrijfRequest",
                   f"<MutatieId>3f2504e0-4f89-41d3-9a0c-0305e82c3302</MutatieId><Soort>{soort}</Soort>"
                   "<LeerbedrijfId>100234567</LeerbedrijfId><Ingangsdatum>2026-07-01</Ingangsdatum>")


def wl1_mutatie_soort(soort):
    return (f'<GeefMutatiesResponse xmlns="{WL1_NS}"><GeefMutatiesResult><Signaalcode>0</Signaalcode>'
            f"<LaatsteVolgnummer>1</LaatsteVolgnummer><Mutaties><Mutatie><Volgnummer>1</Volgnummer>"
            f"<Soort>{soort}</Soort><CodeLeerbedrijf>1</CodeLeerbedrijf><Ingangsdatum>2026-07-01</Ingangsdatum>"
            "</Mutatie></Mutaties></GeefMutatiesResult></GeefMutatiesResponse>")


FACETS = [
    # (id, contract, message, valid?)
    ("wl1 AantalResultatenPerPagina 1", "wl1", wl1_zoeken(per_page="1"), True),
    ("wl1 AantalResultatenPerPagina 25", "wl1", wl1_zoeken(per_page="25"), True),
    ("wl1 AantalResultatenPerPagina 0", "wl1", wl1_zoeken(per_page="0"), False),
    ("wl1 AantalResultatenPerPagina 26", "wl1", wl1_zoeken(per_page="26"), False),
    ("wl1 Pagina 1", "wl1", wl1_zoeken(page="1"), True),
    ("wl1 Pagina 0", "wl1", wl1_zoeken(page="0"), False),
    ("wl1 aanduiding L", "wl1", wl1_zoeken(aanduiding="L"), True),
    ("wl1 aanduiding X", "wl1", wl1_zoeken(aanduiding="X"), False),
    ("wl1 Leerweg BOL", "wl1", wl1_zoeken(extra="<Leerweg>BOL</Leerweg>"), True),
    ("wl1 Leerweg BBL", "wl1", wl1_zoeken(extra="<Leerweg>BBL</Leerweg>"), True),
    ("wl1 Leerweg bol", "wl1", wl1_zoeken(extra="<Leerweg>bol</Leerweg>"), False),
    ("wl1 Zoeken Vestigingsadres Huisnummer 0", "wl1",
     wl1_zoeken(extra="<Vestigingsadres><Huisnummer>0</Huisnummer></Vestigingsadres>"), True),
    ("wl1 Zoeken Vestigingsadres Huisnummer -1", "wl1",
     wl1_zoeken(extra="<Vestigingsadres><Huisnummer>-1</Huisnummer></Vestigingsadres>"), False),
    ("wl1 PostcodeRange free text", "wl1", wl1_zoeken(extra="<PostcodeRange>3599ZZ3500AA</PostcodeRange>"), True),
    ("wl1 Licentie 1 char", "wl1", wl1_verifieer(licentie="x"), True),
    ("wl1 Licentie 64 chars", "wl1", wl1_verifieer(licentie="x" * 64), True),
    ("wl1 Licentie empty", "wl1", wl1_verifieer(licentie=""), False),
    ("wl1 Licentie 65 chars", "wl1", wl1_verifieer(licentie="x" * 65), False),
    ("wl1 CodeLeerbedrijf 40 chars", "wl1", wl1_verifieer(code="A" * 40), True),
    ("wl1 CodeLeerbedrijf empty", "wl1", wl1_verifieer(code=""), False),
    ("wl1 CodeLeerbedrijf 41 chars", "wl1", wl1_verifieer(code="A" * 41), False),
    ("wl1 Crebonummer 1", "wl1", wl1_verifieer(crebo="1"), True),
    ("wl1 Crebonummer 99999", "wl1", wl1_verifieer(crebo="99999"), True),
    ("wl1 Crebonummer 01234 (an int)", "wl1", wl1_verifieer(crebo="01234"), True),
    ("wl1 Crebonummer 0", "wl1", wl1_verifieer(crebo="0"), False),
    ("wl1 Crebonummer 100000", "wl1", wl1_verifieer(crebo="100000"), False),
    ("wl1 Crebonummer not a number", "wl1", wl1_verifieer(crebo="25180A"), False),
    ("wl1 Peildatum dd-mm-yyyy", "wl1", wl1_verifieer(datum="01-09-2026"), False),
    ("wl1 MaximumAantal absent", "wl1", wl1_mutaties(), True),
    ("wl1 MaximumAantal 1", "wl1", wl1_mutaties(maximum="1"), True),
    ("wl1 MaximumAantal 500", "wl1", wl1_mutaties(maximum="500"), True),
    ("wl1 MaximumAantal 0", "wl1", wl1_mutaties(maximum="0"), False),
    ("wl1 MaximumAantal 501", "wl1", wl1_mutaties(maximum="501"), False),
    ("wl1 VanafVolgnummer 0", "wl1", wl1_mutaties(vanaf="0"), True),
    ("wl1 VanafVolgnummer beyond int", "wl1", wl1_mutaties(vanaf="9000000000"), True),
    ("wl1 VanafVolgnummer -1", "wl1", wl1_mutaties(vanaf="-1"), False),
    ("wl1 Bedrijfsnaam 200 chars", "wl1", wl1_bedrijfsgegevens(naam="b" * 200), True),
    ("wl1 Bedrijfsnaam 201 chars", "wl1", wl1_bedrijfsgegevens(naam="b" * 201), False),
    ("wl1 Bedrijfsnaam empty", "wl1", wl1_bedrijfsgegevens(naam=""), False),
    ("wl1 Postcode with space", "wl1", wl1_bedrijfsgegevens(postcode="3511 ar"), True),
    ("wl1 Postcode 10 chars", "wl1", wl1_bedrijfsgegevens(postcode="3511 AR   "), True),
    ("wl1 Postcode 11 chars", "wl1", wl1_bedrijfsgegevens(postcode="3511 AR    "), False),
    ("wl1 Postcode empty", "wl1", wl1_bedrijfsgegevens(postcode=""), False),
    ("wl1 Huisnummer 0 (unknown)", "wl1", wl1_bedrijfsgegevens(huisnummer="0"), True),
    ("wl1 Huisnummer -1", "wl1", wl1_bedrijfsgegevens(huisnummer="-1"), False),
    ("wl1 BrinKenniscentrum 4 chars", "wl1", wl1_bedrijfsgegevens(brin="25LJ"), True),
    ("wl1 BrinKenniscentrum 3 chars", "wl1", wl1_bedrijfsgegevens(brin="25L"), False),
    ("wl1 BrinKenniscentrum 5 chars", "wl1", wl1_bedrijfsgegevens(brin="25LJX"), False),
    ("wl1 GeefDetails CodeLeerbedrijf", "wl1",
     wl1_request("GeefDetails", f"{LIC}<CodeLeerbedrijf>1</CodeLeerbedrijf>"), True),
    ("wl1 GeefDetails LeerplaatsId", "wl1", wl1_request("GeefDetails", f"{LIC}<LeerplaatsId>7</LeerplaatsId>"), True),
    ("wl1 GeefDetails neither key", "wl1", wl1_request("GeefDetails", LIC), False),
    ("wl1 GeefDetails both keys", "wl1",
     wl1_request("GeefDetails", f"{LIC}<CodeLeerbedrijf>1</CodeLeerbedrijf><LeerplaatsId>7</LeerplaatsId>"), False),
    *[(f"wl1 Mutatie Soort {s}", "wl1", wl1_mutatie_soort(s), True)
      for s in ("INTREKKING", "ERKENNING", "WIJZIGING_ERKENNING", "WIJZIGING_CODE", "WIJZIGING_GEGEVENS")],
    ("wl1 Mutatie Soort ERKENNING_INGETROKKEN (a WL 2.0 value)", "wl1",
     wl1_mutatie_soort("ERKENNING_INGETROKKEN"), False),
    ("wl1 Signaalcode any int", "wl1",
     f'<ZoekenResponse xmlns="{WL1_NS}"><ZoekenResult><Signaalcode>12345</Signaalcode></ZoekenResult>'
     "</ZoekenResponse>", True),
    ("wl1 empty list wrapper allowed by the XSD", "wl1",
     f'<ZoekenResponse xmlns="{WL1_NS}"><ZoekenResult><Signaalcode>0</Signaalcode><AantalResultatenTotaal>0'
     "</AantalResultatenTotaal><Resultaten/></ZoekenResult></ZoekenResponse>", True),
    ("wl1 unqualified message", "wl1",
     '<Zoeken xmlns=""><request><Licentie>L</Licentie></request></Zoeken>', False),

    ("wl2 Crebonummer 25180", "wl2", wl2_verifieer(crebo="25180"), True),
    ("wl2 Crebonummer 00000 (XSD allows; answered 20)", "wl2", wl2_verifieer(crebo="00000"), True),
    ("wl2 Crebonummer 4 digits", "wl2", wl2_verifieer(crebo="2518"), False),
    ("wl2 Crebonummer 6 digits", "wl2", wl2_verifieer(crebo="251800"), False),
    ("wl2 Crebonummer with sign", "wl2", wl2_verifieer(crebo="+2518"), False),
    ("wl2 LeerbedrijfId 1 digit", "wl2", wl2_verifieer(lb="1"), True),
    ("wl2 LeerbedrijfId 12 digits", "wl2", wl2_verifieer(lb="1" * 12), True),
    ("wl2 LeerbedrijfId 13 digits", "wl2", wl2_verifieer(lb="1" * 13), False),
    ("wl2 LeerbedrijfId empty", "wl2", wl2_verifieer(lb=""), False),
    ("wl2 LeerbedrijfId letters", "wl2", wl2_verifieer(lb="25LJ3511AR"), False),
    ("wl2 GUID lower case", "wl2", wl2_verifieer(), True),
    ("wl2 GUID upper case", "wl2", wl2_msg("BeeindigAbonnementRequest",
                                           "<AbonnementId>3F2504E0-4F89-41D3-9A0C-0305E82C3301</AbonnementId>"), True),
    ("wl2 GUID with braces", "wl2", wl2_msg("BeeindigAbonnementRequest",
                                            "<AbonnementId>{3F2504E0-4F89-41D3-9A0C-0305E82C3301}</AbonnementId>"),
     False),
    ("wl2 GUID without dashes", "wl2", wl2_msg("BeeindigAbonnementRequest",
                                               "<AbonnementId>3F2504E04F8941D39A0C0305E82C3301</AbonnementId>"),
     False),
    ("wl2 GUID non-hex", "wl2", wl2_msg("BeeindigAbonnementRequest",
                                        "<AbonnementId>3F2504E0-4F89-41D3-9A0C-0305E82C330G</AbonnementId>"), False),
    ("wl2 BerichtID urn:uuid prefix", "wl2",
     wl2_msg("OverzichtLopendeAbonnementenRequest", "",
             "<BerichtID>urn:uuid:3f2504e0-4f89-41d3-9a0c-0305e82c3301</BerichtID>"), False),
    ("wl2 BerichtID missing", "wl2", wl2_msg("OverzichtLopendeAbonnementenRequest", "", ""), False),
    ("wl2 Postcode 1000AA", "wl2", wl2_identificeer(postcode="1000AA"), True),
    ("wl2 Postcode 9999ZZ", "wl2", wl2_identificeer(postcode="9999ZZ"), True),
    ("wl2 Postcode leading 0", "wl2", wl2_identificeer(postcode="0999ZZ"), False),
    ("wl2 Postcode with space", "wl2", wl2_identificeer(postcode="3511 AR"), False),
    ("wl2 Postcode lower case", "wl2", wl2_identificeer(postcode="3511ar"), False),
    ("wl2 Postcode 7 chars", "wl2", wl2_identificeer(postcode="3511ARX"), False),
    ("wl2 Identificeer Huisnummer 1", "wl2", wl2_identificeer(huisnummer="1"), True),
    ("wl2 Identificeer Huisnummer 0", "wl2", wl2_identificeer(huisnummer="0"), False),
    ("wl2 Adres Huisnummer 1", "wl2", wl2_voordracht(adres=wl2_adres(huisnummer="1")), True),
    ("wl2 Adres Huisnummer 0", "wl2", wl2_voordracht(adres=wl2_adres(huisnummer="0")), False),
    ("wl2 Adres Huisnummer -3", "wl2", wl2_voordracht(adres=wl2_adres(huisnummer="-3")), False),
    ("wl2 Adres foreign Postcode is free text", "wl2",
     wl2_voordracht(adres=wl2_adres(postcode="B-2000", land="BE")), True),
    ("wl2 Adres Land NL", "wl2", wl2_voordracht(adres=wl2_adres(land="NL")), True),
    ("wl2 Adres Land nl", "wl2", wl2_voordracht(adres=wl2_adres(land="nl")), False),
    ("wl2 Adres Land NLD", "wl2", wl2_voordracht(adres=wl2_adres(land="NLD")), False),
    ("wl2 Adres Land Nederland", "wl2", wl2_voordracht(adres=wl2_adres(land="Nederland")), False),
    ("wl2 Adres without Land", "wl2", wl2_voordracht(adres=wl2_adres().replace("<Land>NL</Land>", "")), False),
    ("wl2 Adres with toevoeging", "wl2", wl2_voordracht(adres=wl2_adres().replace(
        "</Huisnummer>", "</Huisnummer><Huisnummertoevoeging>bis</Huisnummertoevoeging>")), True),
    ("wl2 KvkNummer 8 digits", "wl2", wl2_voordracht(kvk="30123456"), True),
    ("wl2 KvkNummer 7 digits", "wl2", wl2_voordracht(kvk="3012345"), False),
    ("wl2 KvkNummer 9 digits", "wl2", wl2_voordracht(kvk="301234567"), False),
    ("wl2 Leerweg BOL", "wl2", wl2_voordracht(leerweg="BOL"), True),
    ("wl2 Leerweg BOL/BBL", "wl2", wl2_voordracht(leerweg="BOL/BBL"), False),
    ("wl2 Soort LEERPLAATS", "wl2", wl2_zoeken(soort="LEERPLAATS"), True),
    ("wl2 Soort BEIDE", "wl2", wl2_zoeken(soort="BEIDE"), False),
    ("wl2 AantalPerPagina 1", "wl2", wl2_zoeken(per_page="1"), True),
    ("wl2 AantalPerPagina 100", "wl2", wl2_zoeken(per_page="100"), True),
    ("wl2 AantalPerPagina 0", "wl2", wl2_zoeken(per_page="0"), False),
    ("wl2 AantalPerPagina 101", "wl2", wl2_zoeken(per_page="101"), False),
    ("wl2 Pagina 0", "wl2", wl2_zoeken(page="0"), False),
    ("wl2 PostcodeVan with space", "wl2", wl2_zoeken(extra="<PostcodeVan>3511 AR</PostcodeVan>"), False),
    ("wl2 PostcodeVan+Tot", "wl2",
     wl2_zoeken(extra="<PostcodeVan>3500AA</PostcodeVan><PostcodeTot>3599ZZ</PostcodeTot>"), True),
    *[(f"wl2 Status {s}", "wl2", wl2_erkenning_status(s), True) for s in ("ERKEND", "NIET_ERKEND", "INGETROKKEN")],
    ("wl2 Status erkend", "wl2", wl2_erkenning_status("erkend"), False),
    ("wl2 Status VERLOPEN", "wl2", wl2_erkenning_status("VERLOPEN"), False),
    *[(f"wl2 Mutatie Soort {s}", "wl2", wl2_mutatie(s), True)
      for s in ("ERKENNING_INGETROKKEN", "ERKENNING_VERLEEND", "ERKENNING_GEWIJZIGD", "LEERBEDRIJFID_GEWIJZIGD",
                "GEGEVENS_GEWIJZIGD")],
    ("wl2 Mutatie Soort INTREKKING (a WL 1.0 value)", "wl2", wl2_mutatie("INTREKKING"), False),
    ("wl2 Opvragen by LeerplaatsId", "wl2",
     wl2_msg("OpvragenDetailgegevensLeerbedrijfRequest", "<LeerplaatsId>700012345</LeerplaatsId>"), True),
    ("wl2 Opvragen neither key", "wl2", wl2_msg("OpvragenDetailgegevensLeerbedrijfRequest", ""), False),
    ("wl2 Opvragen both keys", "wl2", wl2_msg("OpvragenDetailgegevensLeerbedrijfRequest",
                                              "<LeerbedrijfId>1</LeerbedrijfId><LeerplaatsId>7</LeerplaatsId>"),
     False),
    ("wl2 Sinds is a dateTime", "wl2", wl2_msg(
        "OverzichtLopendeAbonnementenResponse",
        "<Signalering><Signaalcode>0</Signaalcode><Signaaltekst>Verwerkt</Signaaltekst></Signalering>"
        "<Abonnementen><Abonnement><AbonnementId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</AbonnementId>"
        "<LeerbedrijfId>1</LeerbedrijfId><Sinds>2026-03-02</Sinds></Abonnement></Abonnementen>"), False),
    ("wl2 Signalering without Signaaltekst", "wl2", wl2_msg(
        "BeeindigAbonnementResponse", "<Signalering><Signaalcode>0</Signaalcode></Signalering>"), False),
]


@pytest.mark.parametrize("contract,xml,valid", [f[1:] for f in FACETS], ids=[f[0] for f in FACETS])
def test_facet(contract, xml, valid, xs_schemas):
    by_lxml, by_xmlschema = both_valid(contract, xml, xs_schemas)
    if valid:
        assert by_lxml, lxml_errors(contract, xml)
    else:
        assert not by_lxml, "libxml2 accepted a message the contract forbids"
    assert by_xmlschema == by_lxml, "lxml and xmlschema disagree"


@pytest.mark.parametrize("contract,xml,valid", [f[1:] for f in FACETS], ids=[f[0] for f in FACETS])
def test_reading_without_a_tree_finds_what_validating_the_tree_finds(contract, xml, valid):
    """``Contract.check`` (libxml2 validating while it reads, no tree) against ``Contract.validate`` (a tree)."""
    c = contracts.CONTRACTS[contract]
    by_tree = [(p.element, p.reason) for p in c.validate(etree.fromstring(xml.encode()))]
    assert [(p.element, p.reason) for p in c.check(xml.encode())] == by_tree
    assert bool(by_tree) != valid


def test_reading_without_a_tree_refuses_what_is_not_xml_and_what_is_no_message():
    with pytest.raises(etree.XMLSyntaxError):
        contracts.WL1.check(wl1_verifieer().replace("</request>", "").encode())
    problems = contracts.WL1.check(wl2_verifieer().encode())  # a WL 2.0 message is none of WL 1.0's
    assert problems == [contracts.Problem("VerifieerAccreditatieRequest", "is not a WL1 message element (expected "
                                                                           f"namespace {WL1_NS})")]


def test_reading_without_a_tree_from_many_threads_at_once():
    """Each thread reads with a parser of its own; their results do not mix."""
    good, bad = wl1_verifieer().encode(), wl1_verifieer(crebo="abc").encode()
    results: list[bool] = []

    def work(data: bytes) -> None:
        results.extend(bool(contracts.WL1.check(data)) == (data is bad) for _ in range(200))
    threads = [threading.Thread(target=work, args=(good if i % 2 else bad,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1600 and all(results)


def test_bare_wl1_message_validates_against_wl1_xsd_alone():
    xml = (f'<Zoeken xmlns="{WL1_NS}"><request><Licentie>ROC-MN-1</Licentie>'
           "<AantalResultatenPerPagina>25</AantalResultatenPerPagina><Pagina>1</Pagina>"
           "<LeerplaatsErkenningAanduiding>E</LeerplaatsErkenningAanduiding></request></Zoeken>")
    lx = etree.XMLSchema(etree.parse(str(XSD / "wl1.xsd")))
    assert lx.validate(etree.fromstring(xml.encode())), lx.error_log
    xmlschema.XMLSchema(str(XSD / "wl1.xsd")).validate(xml)
    # ... and through the project's validator, as a bare (envelope-less) document
    assert contracts.validate_document(etree.fromstring(xml.encode())) == []


def test_bare_wl2_message_validates_against_wl2_xsd_alone():
    xml = wl2_verifieer()
    lx = etree.XMLSchema(etree.parse(str(XSD / "wl2.xsd")))
    assert lx.validate(etree.fromstring(xml.encode())), lx.error_log
    xmlschema.XMLSchema(str(XSD / "wl2.xsd")).validate(xml)


# ---------------------------------------------------------------- the examples
def _valid_examples() -> list[Path]:
    return sorted(p for c in ("wl1", "wl2") for p in (EXAMPLES / c).glob("*/*.xml"))


VALID_EXAMPLES = _valid_examples()
EXPECTED_TSV = EXAMPLES / "invalid" / "EXPECTED.tsv"


def _expected_rows() -> list[dict]:
    with EXPECTED_TSV.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _example_id(p: Path) -> str:
    return str(p.relative_to(EXAMPLES))


@pytest.mark.parametrize("contract,operations", [("wl1", WL1_OPERATIONS), ("wl2", WL2_OPERATIONS)])
def test_every_operation_has_a_request_and_a_response_example(contract, operations):
    for op in operations:
        assert (EXAMPLES / contract / op / "request.xml").is_file(), f"{contract}/{op}/request.xml"
        assert (EXAMPLES / contract / op / "response.xml").is_file(), f"{contract}/{op}/response.xml"
    dirs = {p.name for p in (EXAMPLES / contract).iterdir() if p.is_dir()}
    assert dirs == set(operations), "example directories are exactly the contract's operations"


def test_outcome_examples_exist():
    # the outcomes testers ask about most; see examples/README.md
    wanted = {
        "wl1 signaalcode 1 without list wrapper": ("wl1", "Signaalcode", "1"),
        "wl1 signaalcode 2 with a Melding": ("wl1", "Signaalcode", "2"),
        "wl2 INGETROKKEN Erkenning": ("wl2", "Status", "INGETROKKEN"),
        "wl2 signaalcode 30 with AbonnementId": ("wl2", "Signaalcode", "30"),
    }
    found = {k: False for k in wanted}
    faults = 0
    for path in VALID_EXAMPLES:
        root = _parse(path)
        if root.find(f".//{{{SOAP11_ENV_NS}}}Fault") is not None:
            assert root.findtext(f".//{{{SOAP11_ENV_NS}}}Fault/faultcode") in ("soap:Client", "soap:Server")
            faults += 1
            continue
        for key, (contract, tag, value) in wanted.items():
            ns = WL1_NS if contract == "wl1" else WL2_NS
            if path.parts[-3] == contract and any(e.text == value for e in root.iter(f"{{{ns}}}{tag}")):
                if key.startswith("wl1 signaalcode 1"):
                    found[key] |= not any(_local(e.tag) in ("Bedrijven", "Resultaten", "Mutaties")
                                          for e in root.iter())
                elif key.startswith("wl1 signaalcode 2"):
                    found[key] |= root.find(f".//{{{ns}}}Melding") is not None
                else:
                    found[key] = True
    assert all(found.values()), found
    assert faults >= 2


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=_example_id)
def test_valid_example_validates(path, xs_schemas):
    root = _parse(path)
    contract = path.parts[-3]
    op = path.parts[-2]
    # complete SOAP 1.1 envelopes; WL 1.0 also shows SOAP 1.2 (the files say so in their name)
    env_ns = SOAP12_ENV_NS if "soap12" in path.name else SOAP11_ENV_NS
    assert env_ns == SOAP11_ENV_NS or contract == "wl1"
    assert root.tag == f"{{{env_ns}}}Envelope"
    assert contracts.validate_document(root) == []
    body = contracts.body_children(root)
    assert len(body) == 1
    message = body[0]
    if message.tag == f"{{{env_ns}}}Fault":
        return
    # the same message through xmlschema, an independent validator
    xs_schemas[contract].validate(etree.tostring(message).decode())
    # the body element is the one the contract names for this operation and direction
    is_request = path.name.startswith("request")
    if contract == "wl1":
        assert message.tag == f"{{{WL1_NS}}}{op if is_request else op + 'Response'}"
        first = message[0][0]
        assert _local(first.tag) == ("Licentie" if is_request else "Signaalcode")
        assert root.find(f"{{{env_ns}}}Header") is None or len(root.find(f"{{{env_ns}}}Header")) == 0
    else:
        assert message.tag == f"{{{WL2_NS}}}{op}{'Request' if is_request else 'Response'}"
        assert _local(message[0].tag) == "BerichtID"
        if not is_request:
            assert _local(message[1].tag) == "Signalering"


def _headers(root) -> dict[str, etree._Element]:
    header = root.find(f"{{{SOAP11_ENV_NS}}}Header")
    assert header is not None, "WL 2.0 messages carry WS-Addressing headers"
    found = {}
    for h in header:
        assert _ns(h.tag) == WSA_NS, f"unexpected header {h.tag}"
        assert _local(h.tag) not in found, f"duplicate header {h.tag}"
        found[_local(h.tag)] = h
    return found


WL2_NON_FAULT = [p for p in VALID_EXAMPLES
                 if p.parts[-3] == "wl2" and _parse(p).find(f".//{{{SOAP11_ENV_NS}}}Fault") is None]


@pytest.mark.parametrize("path", WL2_NON_FAULT, ids=_example_id)
def test_wl2_example_addressing_headers(path, xs_schemas):
    root = _parse(path)
    op = path.parts[-2]
    headers = _headers(root)
    for h in headers.values():
        xs_schemas["ws-addr"].validate(etree.tostring(h).decode())
    if path.name.startswith("request"):
        assert list(headers) == WSA_REQUEST_HEADERS
        assert headers["Action"].text == f"urn:sbb:whitelabel:2.0/{op}"
        assert re.fullmatch(f"urn:uuid:{GUID}", headers["MessageID"].text)
        to = headers["To"].text
        assert re.fullmatch(r"https?://[^?]+\?oin=[0-9A-Z]{20}", to), to
        address = headers["From"].find(f"{{{WSA_NS}}}Address").text
        m = re.fullmatch(re.escape(ANONYMOUS) + r"\?oin=([0-9A-Z]{20})", address)
        assert m, address
        sender, receiver = m.group(1), to.rpartition("=")[2]
        if op in WL2_SCHOOL_OPERATIONS:  # SBB pushes to the school
            assert SCHOOL_OIN.match(receiver) and not SCHOOL_OIN.match(sender)
        else:
            assert SCHOOL_OIN.match(sender) and not SCHOOL_OIN.match(receiver)
    else:
        assert list(headers) == WSA_RESPONSE_HEADERS
        assert headers["Action"].text == f"urn:sbb:whitelabel:2.0/{op}Response"
        assert re.fullmatch(f"urn:uuid:{GUID}", headers["MessageID"].text)
        # RelatesTo is the MessageID of a request example of the same operation
        request_ids = {_headers(_parse(r))["MessageID"].text for r in path.parent.glob("request*.xml")}
        assert headers["RelatesTo"].text in request_ids


def test_wl2_examples_use_fresh_ids():
    seen: dict[str, Path] = {}
    for path in WL2_NON_FAULT:
        root = _parse(path)
        for value in (_headers(root)["MessageID"].text, contracts.body_children(root)[0][0].text):
            assert value not in seen, f"{path} reuses {value} from {seen.get(value)}"
            seen[value] = path


def test_expected_tsv_lists_every_invalid_example():
    rows = _expected_rows()
    listed = [r["file"] for r in rows]
    on_disk = sorted(p.name for p in (EXAMPLES / "invalid").glob("*.xml"))
    assert sorted(listed) == on_disk
    assert len(listed) == len(set(listed))
    assert len(rows) >= 12
    assert {n.split("-")[0] for n in listed} == {"wl1", "wl2"}


@pytest.mark.parametrize("row", _expected_rows(), ids=lambda r: r["file"])
def test_invalid_example_fails_naming_the_element(row, xs_schemas):
    path = EXAMPLES / "invalid" / row["file"]
    root = _parse(path)
    problems = contracts.validate_document(root)
    assert problems, f"{row['file']} validated, but it is an example of a mistake"
    hits = [p for p in problems if p.element == row["element"]
            and row["reason fragment"].lower() in p.reason.lower()]
    assert hits, f"expected a problem naming {row['element']!r} with {row['reason fragment']!r}; got " + \
        "; ".join(f"{p.element}: {p.reason}" for p in problems)
    assert all(p.line for p in hits), "a problem says on which line it is"
    # xmlschema agrees that the message is invalid (where the message is in a contract namespace at all)
    messages = contracts.body_children(root)
    if root.tag == f"{{{SOAP11_ENV_NS}}}Envelope" and messages:
        ns = _ns(messages[0].tag)
        contract = {WL1_NS: "wl1", WL2_NS: "wl2"}[ns]
        if _local(messages[0].tag) in (WL1_MESSAGES if contract == "wl1" else WL2_MESSAGES):
            assert not xs_schemas[contract].is_valid(etree.tostring(messages[0]).decode())


def test_problem_reason_keeps_the_pattern_and_the_value():
    problems = lxml_errors("wl2", wl2_verifieer(crebo="2518"))
    assert any("[0-9]{5}" in p.reason for p in problems), problems
    problems = lxml_errors("wl2", wl2_msg("BeeindigAbonnementRequest",
                                          "<AbonnementId>{3F2504E0-4F89-41D3-9A0C-0305E82C3301}</AbonnementId>"))
    assert any("{3F2504E0" in p.reason for p in problems), problems


# ---------------------------------------------------------------- the WSDLs, through two SOAP clients
WL1_ACTIONS = {op: f"urn:sbb:whitelabel:1.0/{op}" for op in WL1_OPERATIONS}
WL2_ACTIONS = {op: f"urn:sbb:whitelabel:2.0/{op}" for op in WL2_OPERATIONS}


def _zeep_operations(path: Path) -> dict[str, dict[str, object]]:
    import zeep

    client = zeep.Client(str(path))
    services = {}
    for sname, service in client.wsdl.services.items():
        ops = {}
        for port in service.ports.values():
            for name, op in port.binding._operations.items():
                ops[name] = op
        services[sname] = ops
    return services


def test_zeep_loads_wl1_wsdl():
    services = _zeep_operations(WSDL / "wl1.wsdl")
    ops = {name: op for s in services.values() for name, op in s.items()}
    assert set(ops) == set(WL1_OPERATIONS)
    for name, op in ops.items():
        assert op.soapaction == WL1_ACTIONS[name]
        assert op.input.body.qname.text == f"{{{WL1_NS}}}{name}"
        assert op.output.body.qname.text == f"{{{WL1_NS}}}{name}Response"
        # document/literal wrapped: the wrapper holds exactly `request` / `XResult`
        assert [e[0] for e in op.input.body.type.elements] == ["request"]
        assert [e[0] for e in op.output.body.type.elements] == [f"{name}Result"]


def test_zeep_loads_wl2_wsdl():
    services = _zeep_operations(WSDL / "wl2.wsdl")
    assert set(services) == {"WhiteLabel2", "MutatieOntvanger"}
    assert set(services["WhiteLabel2"]) == set(WL2_SBB_OPERATIONS)
    assert set(services["MutatieOntvanger"]) == set(WL2_SCHOOL_OPERATIONS)
    for ops in services.values():
        for name, op in ops.items():
            assert op.soapaction == WL2_ACTIONS[name]
            assert op.input.body.qname.text == f"{{{WL2_NS}}}{name}Request"
            assert op.output.body.qname.text == f"{{{WL2_NS}}}{name}Response"
            in_headers = [(e[0], e[1].qname.namespace) for e in op.input.header.type.elements]
            out_headers = [(e[0], e[1].qname.namespace) for e in op.output.header.type.elements]
            assert in_headers == [(h, WSA_NS) for h in WSA_REQUEST_HEADERS], name
            assert out_headers == [(h, WSA_NS) for h in WSA_RESPONSE_HEADERS], name


def _suds_methods(path: Path) -> dict[str, dict[str, object]]:
    import suds.client

    client = suds.client.Client(path.as_uri(), cache=None)
    services = {}
    for service in client.wsdl.services:
        methods = {}
        for port in service.ports:
            methods.update(port.methods)
        services[service.name] = methods
    return services


def _unquote(action: str) -> str:
    return action[1:-1] if action.startswith('"') and action.endswith('"') else action


def test_suds_loads_wl1_wsdl():
    services = _suds_methods(WSDL / "wl1.wsdl")
    methods = {name: m for s in services.values() for name, m in s.items()}
    assert set(methods) == set(WL1_OPERATIONS)
    for name, m in methods.items():
        assert _unquote(m.soap.action) == WL1_ACTIONS[name]
        assert not m.soap.input.headers


def test_suds_loads_wl2_wsdl():
    services = _suds_methods(WSDL / "wl2.wsdl")
    assert set(services) == {"WhiteLabel2", "MutatieOntvanger"}
    assert set(services["WhiteLabel2"]) == set(WL2_SBB_OPERATIONS)
    assert set(services["MutatieOntvanger"]) == set(WL2_SCHOOL_OPERATIONS)
    for methods in services.values():
        for name, m in methods.items():
            assert _unquote(m.soap.action) == WL2_ACTIONS[name]
            headers = [h.part.element for h in m.soap.input.headers]
            assert headers == [(h, WSA_NS) for h in WSA_REQUEST_HEADERS], name
            out = [h.part.element for h in m.soap.output.headers]
            assert out == [(h, WSA_NS) for h in WSA_RESPONSE_HEADERS], name


@pytest.mark.parametrize("name,namespace", [("wl1", WL1_NS), ("wl2", WL2_NS)])
def test_wsdl_imports_the_xsds_by_relative_location(name, namespace):
    # Servers publish the XSDs at ../xsd/NAME.xsd relative to each service path (see docs/contracts.md).
    root = _parse(WSDL / f"{name}.wsdl")
    XS = "http://www.w3.org/2001/XMLSchema"
    imports = {i.get("namespace"): i.get("schemaLocation") for i in root.iter(f"{{{XS}}}import")}
    assert imports[namespace] == f"../xsd/{name}.xsd"
    if name == "wl2":
        assert imports[WSA_NS] == "../xsd/ws-addr.xsd"
    assert root.get("targetNamespace") == namespace



def test_concurrent_validations_share_a_bounded_pool_of_compiled_schemas():
    """Validators are compiled up to MAX_VALIDATORS; then a validation waits for one to come back rather than
    compiling one per busy thread. 64 threads validating at once still get the right answers."""
    contract = contracts.Contract("wl1", WL1_NS)
    valid = etree.parse(str(EXAMPLES / "wl1" / "VerifieerAccreditatie" / "request.xml")).getroot()
    message = contracts.body_children(valid)[0]

    held = [contract._validator() for _ in range(contracts.MAX_VALIDATORS)]  # every one busy
    answered: list = []
    waiting = threading.Thread(target=lambda: answered.append(contract.validate(message)))
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive() and contract._compiled == contracts.MAX_VALIDATORS  # waits: no 9th compiled
    contract._validators.put(held.pop())
    waiting.join(5)
    assert answered == [[]]
    for schema in held:
        contract._validators.put(schema)

    start, failures = threading.Barrier(64), []
    raw = etree.tostring(valid)

    def run():
        # each thread its own envelopes, as each request has: lxml validates an element that is not its
        # document's root by lending it to a temporary document, which two threads must not do with one element
        mine = contracts.body_children(etree.fromstring(raw))[0]
        wrong = contracts.body_children(etree.fromstring(raw.replace(b"Crebonummer>", b"Crebonummmer>")))[0]
        start.wait()
        try:
            for _ in range(20):
                if contract.validate(mine) or not contract.validate(wrong):
                    failures.append("wrong answer")
        except Exception as exc:  # noqa: BLE001 - reported by the test
            failures.append(repr(exc))
    threads = [threading.Thread(target=run) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    assert contract._compiled == contract._validators.qsize() == contracts.MAX_VALIDATORS
