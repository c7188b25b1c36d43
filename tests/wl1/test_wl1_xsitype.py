"""xsi:type as the original ASMX serializer accepted it, end to end (raw envelopes, as a dynamic-language SOAP
library sends them): a built-in type from which the element's declared type derives is accepted on every leaf
element of every operation's request, and the value is still checked; any other xsi:type is a soap:Client fault
naming the element (SOAP 1.2: Sender, HTTP 400)."""
from __future__ import annotations

import copy
from xml.sax.saxutils import escape

import pytest
import requests
import xmlschema
from lxml import etree

from adapter.contracts import WL1 as WL1_CONTRACT
from tests.support.servers import LICENCE, TODAY
from tests.support.soap import SOAP_NS

SOAP11 = SOAP_NS
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WL1 = "urn:sbb:whitelabel:1.0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"


def _requests(company: dict) -> dict[str, dict]:
    """One request per operation (two for GeefDetails' choice) that holds every leaf element its type has."""
    erkend = next(e for e in company["erkenningen"] if e["status"] == "ERKEND")
    plaats = next(p for p in company["leerplaatsen"] if p["open"])
    a = company["vestigingsadres"]
    return {
        "GeefBedrijfsgegevens": {"Licentie": LICENCE, "Bedrijfsnaam": company["naam"], "Postcode": a["postcode"],
                                 "Huisnummer": a["huisnummer"], "BrinKenniscentrum": "25BE"},
        "VerifieerAccreditatie": {"Licentie": LICENCE, "CodeLeerbedrijf": company["leerbedrijfId"],
                                  "Crebonummer": int(erkend["crebonummer"]), "Peildatum": TODAY},
        "Zoeken": {"Licentie": LICENCE, "AantalResultatenPerPagina": 5, "Pagina": 1, "ZoekInDeBuurt": "false",
                   "LeerplaatsErkenningAanduiding": "E", "CodeLeerbedrijf": company["leerbedrijfId"],
                   "LeerbedrijfNaam": company["naam"], "LeerbedrijfNaamExact": "true",
                   "Vestigingsadres": {"Straat": a["straat"], "Huisnummer": a["huisnummer"], "Plaats": a["plaats"],
                                       "Land": "Nederland"},
                   "PostcodeRange": a["postcode"], "Crebonummer": int(erkend["crebonummer"]),
                   "Leerweg": erkend["leerweg"]},
        "GeefDetails": {"Licentie": LICENCE, "CodeLeerbedrijf": company["leerbedrijfId"]},
        "GeefDetails/LeerplaatsId": {"Licentie": LICENCE, "LeerplaatsId": plaats["leerplaatsId"]},
        "GeefMutaties": {"Licentie": LICENCE, "VanafVolgnummer": 12, "MaximumAantal": 10},
        "DoeErkenningsvoordracht": {
            "Licentie": LICENCE, "Bedrijfsnaam": "Xsi Type Test B.V.", "KvkNummer": "61234987",
            "Vestigingsadres": {"Straat": "Biltstraat 140", "Postcode": "3572BK", "Plaats": "Utrecht",
                                "Land": "Nederland"},
            "Contactpersoon": {"Naam": "F. El Amrani", "Email": "f@example.nl", "Telefoonnummer": "06-12345678"},
            "Crebonummer": 25180, "Leerweg": "BBL", "Toelichting": "Praktijkopleider aanwezig."},
    }


# the built-in a dynamic SOAP library writes for a value of each XSD primitive (CONTRACTS.md: xsd:string on a
# string-based type, xsd:int on an integer type, xsd:date on a date)
LIBRARY_TYPE = {"string": "string", "decimal": "int", "date": "date", "boolean": "boolean"}


def _leaf_types() -> dict[tuple[str, ...], str]:
    """(operation, path...) -> the xsi:type a library sends, for every leaf of every operation's request, read
    from the XSD with xmlschema (independently of the adapter's own table)."""
    schema = xmlschema.XMLSchema(str(WL1_CONTRACT.xsd))
    leaves = {}

    def walk(element, path):
        if element.type.is_simple():
            leaves[path] = LIBRARY_TYPE[element.type.primitive_type.local_name]
            return
        for child in element.iterchildren():
            walk(child, path + (child.local_name,))

    for operation in ("GeefBedrijfsgegevens", "VerifieerAccreditatie", "Zoeken", "GeefDetails", "GeefMutaties",
                      "DoeErkenningsvoordracht"):
        walk(schema.elements[operation].type.content[0], (operation,))  # below the `request` element
    return leaves


LEAVES = _leaf_types()


def _xml(fields: dict, typed: set[tuple[str, ...]] | str, path: tuple[str, ...], prefix: str) -> str:
    out = []
    for name, value in fields.items():
        here = path + (name,)
        if isinstance(value, dict):
            out.append(f"<w:{name}>{_xml(value, typed, here, prefix)}</w:{name}>")
            continue
        attr = ""
        if typed == "all" or here in typed:
            attr = f' xsi:type="{prefix}:{LIBRARY_TYPE_OF[here]}"'
        out.append(f"<w:{name}{attr}>{escape(str(value))}</w:{name}>")
    return "".join(out)


LIBRARY_TYPE_OF = {(p[0],) + p[1:]: t for p, t in LEAVES.items()}


def envelope(operation: str, fields: dict, typed=(), prefix: str = "xsd", env_ns: str = SOAP11,
             declare: str | None = None) -> bytes:
    op = operation.partition("/")[0]
    declarations = declare if declare is not None else f'xmlns:{prefix}="{XS}"'
    inner = _xml(fields, typed if typed == "all" else set(typed), (op,), prefix)
    return (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{env_ns}" xmlns:w="{WL1}" '
            f'xmlns:xsi="{XSI}" {declarations}><soap:Body><w:{op}><w:request>{inner}</w:request></w:{op}>'
            f"</soap:Body></soap:Envelope>").encode()


def post(adapter, data: bytes, env_ns: str = SOAP11) -> requests.Response:
    content_type = "text/xml; charset=utf-8" if env_ns == SOAP11 else "application/soap+xml; charset=utf-8"
    return requests.post(adapter.wl1_url, data=data, headers={"Content-Type": content_type}, timeout=30)


def answer(r: requests.Response, operation: str) -> bytes:
    assert r.status_code == 200, r.text
    op = operation.partition("/")[0]
    result = etree.fromstring(r.content).find(f".//{{{WL1}}}{op}Result")
    assert result is not None, r.text
    return etree.tostring(copy.deepcopy(result), method="c14n2", strip_text=True)


def fault(r: requests.Response, env_ns: str = SOAP11) -> tuple[str, str]:
    f = etree.fromstring(r.content).find(f"{{{env_ns}}}Body/{{{env_ns}}}Fault")
    assert f is not None, r.text
    if env_ns == SOAP11:
        assert r.status_code == 500
        return f.findtext("faultcode"), f.findtext("faultstring")
    assert r.status_code == 400
    return (f.findtext(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value"), f.findtext(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text"))


@pytest.fixture(scope="module")
def company(companies) -> dict:
    return next(c for c in companies if any(e["status"] == "ERKEND" for e in c["erkenningen"])
                and any(p["open"] for p in c["leerplaatsen"]))


@pytest.fixture(scope="module")
def untyped(adapter, company) -> dict[str, bytes]:
    """Each operation's answer without any xsi:type: what every typed request must get too."""
    return {op: answer(post(adapter, envelope(op, fields)), op) for op, fields in _requests(company).items()}


def test_the_requests_hold_every_leaf_of_every_operation(company):
    sent = set()

    def collect(fields, path):
        for name, value in fields.items():
            if isinstance(value, dict):
                collect(value, path + (name,))
            else:
                sent.add(path + (name,))

    for operation, fields in _requests(company).items():
        collect(fields, (operation.partition("/")[0],))
    assert sent == set(LEAVES)


@pytest.mark.parametrize("leaf", sorted(LEAVES), ids="/".join)
def test_builtin_xsi_type_on_each_leaf_is_accepted(adapter, company, untyped, leaf):
    operation = next(op for op in _requests(company) if op.partition("/")[0] == leaf[0]
                     and _has(_requests(company)[op], leaf[1:]))
    r = post(adapter, envelope(operation, _requests(company)[operation], typed={leaf}))
    assert answer(r, operation) == untyped[operation]


def _has(fields: dict, path: tuple[str, ...]) -> bool:
    value = fields.get(path[0])
    return value is not None and (len(path) == 1 or (isinstance(value, dict) and _has(value, path[1:])))


@pytest.mark.parametrize("prefix", ["xsd", "xs", "q1"])
def test_xsi_type_on_every_element_at_once_as_a_dynamic_library_sends_it(adapter, company, untyped, prefix):
    for operation, fields in _requests(company).items():
        r = post(adapter, envelope(operation, fields, typed="all", prefix=prefix))
        assert answer(r, operation) == untyped[operation], operation


def test_xsi_type_accepted_over_soap12_too(adapter, company, untyped):
    fields = _requests(company)["GeefMutaties"]
    r = post(adapter, envelope("GeefMutaties", fields, typed="all", env_ns=SOAP12), SOAP12)
    result = etree.fromstring(r.content).find(f".//{{{WL1}}}GeefMutatiesResult")
    assert etree.tostring(copy.deepcopy(result), method="c14n2", strip_text=True) == untyped["GeefMutaties"]


@pytest.mark.parametrize("xsi_type", ["xsd:int", "xsd:long", "xsd:integer"])
def test_every_integer_builtin_on_an_xs_long_element(adapter, xsi_type):
    # libraries choose int/long/integer by the value, not by the schema: VanafVolgnummer is an xs:long
    data = (f'<soap:Envelope xmlns:soap="{SOAP11}" xmlns:w="{WL1}" xmlns:xsi="{XSI}" xmlns:xsd="{XS}"><soap:Body>'
            f"<w:GeefMutaties><w:request><w:Licentie>{LICENCE}</w:Licentie>"
            f'<w:VanafVolgnummer xsi:type="{xsi_type}">3</w:VanafVolgnummer></w:request></w:GeefMutaties>'
            f"</soap:Body></soap:Envelope>").encode()
    assert b"<LaatsteVolgnummer>3<" in post(adapter, data).content


REFUSED = {  # name: (element, xsi:type value, extra namespace declarations, what the fault must say)
    "xsd:boolean on a string": ("Licentie", "xsd:boolean", "", "xsd:boolean"),
    "xsd:string on an integer": ("Crebonummer", "xsd:string", "", "xsd:string"),
    "xsd:int on a date": ("Peildatum", "xsd:int", "", "xsd:int"),
    "a type of the WL 1.0 namespace": ("Crebonummer", "w:Crebonummer", "", "w:Crebonummer"),
    "a type of another namespace": ("CodeLeerbedrijf", "x:string", 'xmlns:x="urn:elders"', "x:string"),
    "an undeclared prefix": ("Peildatum", "nergens:date", "", "prefix 'nergens'"),
    "no prefix (the default namespace is none)": ("CodeLeerbedrijf", "string", "", "'string'"),
}


def _verifieer(company: dict, element: str, xsi_type: str, declare: str) -> bytes:
    fields = _requests(company)["VerifieerAccreditatie"]
    inner = "".join(f'<w:{k}{f" xsi:type={chr(34)}{xsi_type}{chr(34)}" if k == element else ""}>{escape(str(v))}'
                    f"</w:{k}>" for k, v in fields.items())
    return (f'<soap:Envelope xmlns:soap="{SOAP11}" xmlns:w="{WL1}" xmlns:xsi="{XSI}" xmlns:xsd="{XS}" {declare}>'
            f"<soap:Body><w:VerifieerAccreditatie><w:request>{inner}</w:request></w:VerifieerAccreditatie>"
            f"</soap:Body></soap:Envelope>").encode()


@pytest.mark.parametrize("name", list(REFUSED))
def test_other_xsi_types_are_client_faults_naming_the_element(adapter, company, name):
    element, xsi_type, declare, words = REFUSED[name]
    code, string = fault(post(adapter, _verifieer(company, element, xsi_type, declare)))
    assert code == "soap:Client"
    assert f"{element}: xsi:type" in string and words in string, string


def test_xsi_type_on_a_complex_element_is_refused(adapter, company):
    fields = _requests(company)["DoeErkenningsvoordracht"]
    data = envelope("DoeErkenningsvoordracht", fields).replace(
        b"<w:Vestigingsadres>", b'<w:Vestigingsadres xsi:type="xsd:string">')
    code, string = fault(post(adapter, data))
    assert code == "soap:Client" and "Vestigingsadres: xsi:type 'xsd:string'" in string


def test_refused_over_soap12_is_a_sender_fault(adapter, company):
    data = _verifieer(company, "Licentie", "xsd:boolean", "").replace(SOAP11.encode(), SOAP12.encode())
    code, string = fault(post(adapter, data, SOAP12), SOAP12)
    assert code == "soap:Sender" and "Licentie: xsi:type 'xsd:boolean'" in string


@pytest.mark.parametrize("element, value, words", [
    ("Crebonummer", "abc", "Crebonummer"), ("Peildatum", "29-11-2026", "Peildatum"),
    ("CodeLeerbedrijf", "x" * 41, "CodeLeerbedrijf"),
])
def test_an_accepted_xsi_type_still_checks_the_value_against_the_declared_type(adapter, company, element, value,
                                                                               words):
    xsi_type = {"Crebonummer": "xsd:int", "Peildatum": "xsd:date", "CodeLeerbedrijf": "xsd:string"}[element]
    data = _verifieer(company, element, xsi_type, "")
    fields = _requests(company)["VerifieerAccreditatie"]
    data = data.replace(f">{fields[element]}</w:{element}>".encode(), f">{value}</w:{element}>".encode())
    code, string = fault(post(adapter, data))
    assert code == "soap:Client" and words in string and "xsi:type" not in string, string
