"""Every schema-valid WL 1.0 request gets a WL 1.0 answer, never a soap:Server fault.

Requests are drawn from the frozen XSD's own facets (tests/support/xsdgen.py), for every operation, and sent to the
session ``adapter`` (in front of the real simulator) over loopback HTTP; the answer must be HTTP 200 with the
operation's result, valid to the XSD. Then the cases this found, as plain examples: a CodeLeerbedrijf of only white
space (it used to raise KeyError 'LeerplaatsId') and numbers written with thousands of leading zeros (they used to hit
Python's 4,300-digit limit on int()).
"""
from __future__ import annotations

import pytest
import requests
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapter.contracts import WL1, WL1_NS
from tests.support.fuzzing import COMMON, event, note
from tests.support.servers import LICENCE, OTHER_LICENCE
from tests.support.soap import SoapAnswer
from tests.support.xsdgen import Node, Schema, to_xml

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
W = f"{{{WL1_NS}}}"
OPERATIONS = ("GeefBedrijfsgegevens", "VerifieerAccreditatie", "Zoeken", "GeefDetails", "GeefMutaties")
_session = requests.Session()


@pytest.fixture(scope="module")
def schema(companies) -> Schema:
    """The WL 1.0 XSD, with real values mixed in where only they reach deeper than 'unknown' (the licence above
    all: a random one is answered 996 before anything else is looked at)."""
    ids = [c["leerbedrijfId"] for c in companies]
    old = [c["codeLeerbedrijf"] for c in companies if c["codeLeerbedrijf"]]
    crebos = sorted({e["crebonummer"].lstrip("0") for c in companies for e in c["erkenningen"]})
    postcodes = [c["vestigingsadres"]["postcode"] for c in companies]
    plaatsen = [str(p["leerplaatsId"]) for c in companies for p in c["leerplaatsen"]]
    names = [c["naam"] for c in companies]
    blank_around = st.sampled_from(["", " ", "\t", "\u00a0", "\u2028", "\n "])

    def padded(values):
        return st.tuples(blank_around, st.sampled_from(values), blank_around).map("".join)
    return Schema(WL1.xsd, fixed={"Licentie": st.sampled_from([LICENCE] * 8 + [OTHER_LICENCE])}, overrides={
        "CodeLeerbedrijf": st.one_of(padded(ids), padded(old)),
        "Crebonummer": st.sampled_from(crebos),
        "Postcode": padded(postcodes),
        "PostcodeRange": padded(postcodes),
        "LeerplaatsId": st.sampled_from(plaatsen),
        "Bedrijfsnaam": st.sampled_from(names),
        "LeerbedrijfNaam": st.sampled_from(names),
    })


def envelope(node: Node) -> bytes:
    return (f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>{to_xml(node, WL1_NS)}</soap:Body></soap:Envelope>'
            ).encode("utf-8")


def post(adapter, data: bytes, operation: str) -> SoapAnswer:
    r = _session.post(adapter.wl1_url, data=data, timeout=30,
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{WL1_NS}/{operation}"'})
    return SoapAnswer(r.status_code, etree.fromstring(r.content), r.content)


def answered(adapter, operation: str, data: bytes) -> etree._Element:
    """Send a schema-valid request; return its result element after checking it is a proper WL 1.0 answer."""
    sent = next(c for c in etree.fromstring(data).find(f"{{{SOAP_NS}}}Body") if isinstance(c.tag, str))
    assert WL1.validate(sent) == [], WL1.validate(sent)
    answer = post(adapter, data, operation)
    assert answer.fault is None, f"{answer.fault} for a schema-valid request"
    assert answer.status == 200, answer.raw[:1000]
    assert WL1.validate(answer.message) == [], answer.raw[:2000]
    result = answer.message.find(f"{W}{operation}Result")
    assert result is not None, answer.raw[:1000]
    return result


@pytest.mark.parametrize("operation", OPERATIONS)
@settings(COMMON, max_examples=40)
@given(hd=st.data())
def test_schema_valid_request_is_never_a_server_fault(adapter, schema, operation, hd):
    node = hd.draw(schema.element(operation))
    data = envelope(node)
    sent = next(c for c in etree.fromstring(data).find(f"{{{SOAP_NS}}}Body") if isinstance(c.tag, str))
    problems = WL1.validate(sent)
    assume(not problems)  # the few draws libxml2 reads differently from the facets (e.g. a date it refuses)
    note(data.decode("utf-8", "replace")[:3000])
    result = answered(adapter, operation, data)
    event(f"signaalcode {result.findtext(f'{W}Signaalcode')}")


# -- what it found, as examples ----------------------------------------------------------------------------------------
def request(operation: str, *fields: tuple[str, str]) -> bytes:
    children = [Node("Licentie", LICENCE)] + [Node(name, value) for name, value in fields]
    return envelope(Node(operation, [Node("request", children)]))


BLANKS = {"space": " ", "spaces": "   ", "tab": "\t", "newline": "\n", "cr": "\r", "nbsp": "\u00a0",
          "line separator": "\u2028", "mixed": " \t\u00a0\u2028\n "}


@pytest.mark.parametrize("blank", list(BLANKS))
@pytest.mark.parametrize("operation,fields", [
    ("GeefDetails", ()),
    ("VerifieerAccreditatie", (("Crebonummer", "25171"), ("Peildatum", "2026-01-01"))),
    ("Zoeken", (("AantalResultatenPerPagina", "10"), ("Pagina", "1"), ("LeerplaatsErkenningAanduiding", "E"))),
])
def test_blank_code_is_signaalcode_4_naming_it(adapter, blank, operation, fields):
    code = ("CodeLeerbedrijf", BLANKS[blank])
    if operation == "VerifieerAccreditatie":
        fields = (code, *fields)
    elif operation == "Zoeken":
        fields = (*fields, code)
    else:
        fields = (code,)
    result = answered(adapter, operation, request(operation, *fields))
    assert result.findtext(f"{W}Signaalcode") == "4"
    assert result.findtext(f"{W}Melding") == "CodeLeerbedrijf: bevat alleen witruimte"


def test_code_with_white_space_around_is_the_code(adapter, companies):
    company = companies[2]["leerbedrijfId"]
    result = answered(adapter, "GeefDetails", request("GeefDetails", ("CodeLeerbedrijf", f"\u00a0 {company}\t\u2028")))
    assert result.findtext(f"{W}Signaalcode") == "0"
    assert result.findtext(f"{W}CodeLeerbedrijf") == company


@pytest.mark.parametrize("zeros", [4_300, 4_400, 60_000])
def test_volgnummer_with_thousands_of_leading_zeros(adapter, zeros):
    result = answered(adapter, "GeefMutaties", request("GeefMutaties", ("VanafVolgnummer", "0" * zeros + "7"),
                                                       ("MaximumAantal", "+" + "0" * zeros + "5")))
    assert result.findtext(f"{W}Signaalcode") == "0"
    assert result.findtext(f"{W}LaatsteVolgnummer") == "7"


def test_leerplaats_id_with_leading_zeros_and_white_space(adapter, companies):
    plaats = next(p["leerplaatsId"] for c in companies for p in c["leerplaatsen"])
    result = answered(adapter, "GeefDetails",
                      request("GeefDetails", ("LeerplaatsId", f"\n\t+{'0' * 5000}{plaats} ")))
    assert result.findtext(f"{W}Signaalcode") == "0"
    assert result.findtext(f"{W}LeerplaatsId") == str(plaats)


def test_zoeken_numbers_with_leading_zeros(adapter, companies):
    crebo = companies[0]["erkenningen"][0]["crebonummer"].lstrip("0")
    result = answered(adapter, "Zoeken", request(
        "Zoeken", ("AantalResultatenPerPagina", "0" * 5000 + "3"), ("Pagina", " +" + "0" * 5000 + "1 "),
        ("LeerplaatsErkenningAanduiding", "E"), ("Crebonummer", "0" * 5000 + crebo)))
    assert result.findtext(f"{W}Signaalcode") in ("0", "1")
    assert len(result.findall(f"{W}Resultaten/{W}Resultaat")) <= 3
