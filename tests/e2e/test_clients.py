"""Independent SOAP stacks against the served WSDL: zeep, suds-community and PHP's SoapClient
(tests/support/php/call.php) over SOAP 1.1, and zeep over the SOAP 1.2 port.

Each client loads the WSDL the adapter serves (from /wl1 and from every legacy path), calls every operation and
must get the simulator's data back; a schema-invalid request must reach each of them as a SOAP fault it surfaces.
Also: the served WSDL is one self-contained document (the schema inline, no import or include) with a SOAP 1.1 and
a SOAP 1.2 port, both at the URL the client used (and X-Forwarded-*); ?disco points at it; the XSD file is still
served at its old relative location for clients that cached the two-document form.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import uuid
from urllib.parse import urljoin, urlsplit

import pytest
import requests
import suds
import suds.client
import zeep
import zeep.exceptions
import zeep.helpers
from lxml import etree
from suds.sudsobject import Object as SudsObject

from adapter.contracts import WL1 as WL1_CONTRACT
from adapter.contracts import body_children
from adapter.serve.routes import LEGACY_PATHS
from tests.support.servers import LICENCE, ROOT, SCHOOL_OIN, TODAY

PHP_SCRIPT = ROOT / "tests" / "support" / "php" / "call.php"
WL1 = "urn:sbb:whitelabel:1.0"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap12/"
XS = "http://www.w3.org/2001/XMLSchema"
EXAMPLES = ROOT / "examples"


class ClientFault(Exception):
    def __init__(self, code: str, string: str):
        super().__init__(f"{code}: {string}")
        self.code, self.string = code, string


# -- a uniform face over three SOAP stacks ------------------------------------------------------------------------
def plain(value):
    """Client objects -> plain dicts/lists with every leaf a string (dates ISO), so the stacks compare alike."""
    if isinstance(value, SudsObject):
        return {k: plain(v) for k, v in suds.client.Client.dict(value).items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def as_list(value) -> list:
    """PHP gives one repeated element as an object, several as an array."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class ZeepClient:
    name = "zeep"

    def __init__(self, wsdl_url: str):
        self.client = zeep.Client(wsdl_url)

    @property
    def address(self) -> str:
        return self.client.service._binding_options["address"]

    def call(self, operation: str, request: dict) -> dict:
        try:
            result = getattr(self.client.service, operation)(request=request)
        except zeep.exceptions.Fault as exc:
            raise ClientFault(exc.code, exc.message) from None
        return plain(zeep.helpers.serialize_object(result, dict))


class Zeep12Client(ZeepClient):
    """zeep bound to the SOAP 1.2 port of the same WSDL, as a client generated from that binding would be."""

    name = "zeep-soap12"

    def __init__(self, wsdl_url: str):
        super().__init__(wsdl_url)
        self.service = self.client.bind("WhiteLabel", "WhiteLabelSoap12")

    @property
    def address(self) -> str:
        return self.service._binding_options["address"]

    def call(self, operation: str, request: dict) -> dict:
        try:
            result = getattr(self.service, operation)(request=request)
        except zeep.exceptions.Fault as exc:
            raise ClientFault(exc.code, exc.message) from None
        return plain(zeep.helpers.serialize_object(result, dict))


class SudsClient:
    name = "suds"

    def __init__(self, wsdl_url: str):
        self.client = suds.client.Client(wsdl_url, cache=None, timeout=30)

    @property
    def address(self) -> str:
        return self.client.wsdl.services[0].ports[0].location

    def call(self, operation: str, request: dict) -> dict:
        try:
            result = getattr(self.client.service, operation)(request=request)
        except suds.WebFault as exc:
            raise ClientFault(exc.fault.faultcode, exc.fault.faultstring) from None
        return plain(result)


def php_available() -> str | None:
    """None when PHP with its soap extension can run here, else why not."""
    if shutil.which("php") is None:
        return "php is not installed"
    modules = subprocess.run(["php", "-m"], capture_output=True, text=True, timeout=30).stdout.split()
    if "soap" not in modules:
        return "PHP's soap extension is not loaded (php -m)"
    return None


class PhpClient:
    name = "php"

    def __init__(self, wsdl_url: str):
        reason = php_available()
        if reason:
            pytest.skip(reason)
        self.wsdl_url = wsdl_url
        self.last: dict = {}

    @property
    def address(self) -> str:
        host, location = self.last.get("host"), self.last.get("location")
        return f"http://{host}{location}" if host and location else ""

    def call(self, operation: str, request: dict) -> dict:
        done = subprocess.run(["php", str(PHP_SCRIPT), self.wsdl_url, operation], input=json.dumps(request),
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        self.last = json.loads(done.stdout)
        if "fault" in self.last:
            raise ClientFault(self.last["fault"]["faultcode"], self.last["fault"]["faultstring"])
        (result,) = self.last["result"].values()  # {"XResult": {...}}
        return plain(result)


CLIENTS = {"zeep": ZeepClient, "zeep-soap12": Zeep12Client, "suds": SudsClient, "php": PhpClient}


@pytest.fixture(params=list(CLIENTS))
def client_kind(request):
    return CLIENTS[request.param]


# -- data the answers must carry ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def company(companies) -> dict:
    return next(c for c in companies if any(e["status"] == "ERKEND" for e in c["erkenningen"])
                and sum(p["open"] for p in c["leerplaatsen"]) >= 2 and c["contactpersoon"])


def straat(adres: dict) -> str:
    t = adres["huisnummertoevoeging"]
    return f"{adres['straat']} {adres['huisnummer']}" + (("-" if t[0].isdigit() else "") + t if t else "")


def check_every_operation(client, company: dict, simulator=None) -> None:
    erkend = next(e for e in company["erkenningen"] if e["status"] == "ERKEND")
    a = company["vestigingsadres"]

    r = client.call("GeefBedrijfsgegevens", {"Licentie": LICENCE, "Bedrijfsnaam": company["naam"],
                                             "Postcode": f"{a['postcode'][:4]} {a['postcode'][4:].lower()}",
                                             "Huisnummer": a["huisnummer"]})
    assert r["Signaalcode"] == "0", r
    bedrijven = as_list(r["Bedrijven"]["Bedrijf"])
    assert {"Bedrijfsnaam": company["naam"], "Postcode": a["postcode"], "Huisnummer": str(a["huisnummer"]),
            "CodeLeerbedrijf": company["leerbedrijfId"]} in bedrijven

    r = client.call("VerifieerAccreditatie", {"Licentie": LICENCE, "CodeLeerbedrijf": company["leerbedrijfId"],
                                              "Crebonummer": int(erkend["crebonummer"]), "Peildatum": TODAY})
    assert r["Signaalcode"] == "0", r
    begins = {e["begindatum"] for e in company["erkenningen"]
              if e["crebonummer"] == erkend["crebonummer"] and e["status"] == "ERKEND"}
    assert r["Startdatum"] in begins

    r = client.call("Zoeken", {"Licentie": LICENCE, "AantalResultatenPerPagina": 25, "Pagina": 1,
                               "LeerplaatsErkenningAanduiding": "L", "CodeLeerbedrijf": company["leerbedrijfId"]})
    assert r["Signaalcode"] == "0", r
    open_ = {str(p["leerplaatsId"]): p for p in company["leerplaatsen"] if p["open"]}
    hits = as_list(r["Resultaten"]["Resultaat"])
    assert r["AantalResultatenTotaal"] == str(len(open_))
    assert {h["LeerplaatsId"] for h in hits} == set(open_)
    for h in hits:
        p = open_[h["LeerplaatsId"]]
        (opleiding,) = as_list(h["Opleidingen"]["Opleiding"])
        assert int(opleiding["Crebonummer"]) == int(p["crebonummer"])
        assert (h["Leerweg"], h["LeerplaatsAantal"]) == (p["leerweg"], str(p["aantal"]))
        assert h["Vestigingsadres"] == {"Straat": straat(a), "Postcode": a["postcode"], "Plaats": a["plaats"],
                                        "Land": "Nederland"}

    r = client.call("Zoeken", {"Licentie": LICENCE, "AantalResultatenPerPagina": 25, "Pagina": 1,
                               "LeerplaatsErkenningAanduiding": "E", "CodeLeerbedrijf": company["leerbedrijfId"]})
    assert r["Signaalcode"] == "0", r
    assert {(int(h["Erkenning"]["Crebonummer"]), h["Leerweg"]) for h in as_list(r["Resultaten"]["Resultaat"])} == \
           {(int(e["crebonummer"]), e["leerweg"]) for e in company["erkenningen"] if e["status"] == "ERKEND"}

    r = client.call("GeefDetails", {"Licentie": LICENCE, "CodeLeerbedrijf": company["leerbedrijfId"]})
    assert r["Signaalcode"] == "0", r
    assert (r["CodeLeerbedrijf"], r["Naam"], r["Vestigingsadres"]["Straat"]) == \
           (company["leerbedrijfId"], company["naam"], straat(a))
    assert r["Contactpersoon"]["Naam"] == company["contactpersoon"]["naam"]

    leerplaats = next(iter(open_.values()))
    r = client.call("GeefDetails", {"Licentie": LICENCE, "LeerplaatsId": leerplaats["leerplaatsId"]})
    assert r["Signaalcode"] == "0", r
    assert (r["LeerplaatsId"], r["Omschrijving"], r["Startdatum"]) == \
           (str(leerplaats["leerplaatsId"]), leerplaats["omschrijving"], leerplaats["startdatum"])

    r = client.call("GeefMutaties", {"Licentie": LICENCE, "VanafVolgnummer": 424242, "MaximumAantal": 10})
    assert r == {"Signaalcode": "0", "LaatsteVolgnummer": "424242"} or \
           (r["Signaalcode"] == "0" and r["LaatsteVolgnummer"] == "424242" and "Mutaties" not in r), r

    r = client.call("VerifieerAccreditatie", {"Licentie": "geen-licentie", "CodeLeerbedrijf": company["leerbedrijfId"],
                                              "Crebonummer": int(erkend["crebonummer"]), "Peildatum": TODAY})
    assert r["Signaalcode"] == "996" and "Startdatum" not in r

    naam = f"Voordracht {client.name} {uuid.uuid4().hex[:8]}"  # a new company each run: a repeat would be answered
    r = client.call("DoeErkenningsvoordracht", {
        "Licentie": LICENCE, "Bedrijfsnaam": naam,
        "Vestigingsadres": {"Straat": "Kerkweg 7-2", "Postcode": "3511 ab", "Plaats": "Utrecht", "Land": "Nederland"},
        "Contactpersoon": {"Naam": "J. de Vries", "Email": "j.devries@example.nl"},
        "Crebonummer": int(erkend["crebonummer"]), "Leerweg": "BBL", "Toelichting": "via " + client.name})
    assert r["Signaalcode"] == "0" and len(r["VoordrachtId"]) == 36, r
    if simulator is not None:
        (received,) = [v for v in requests.get(f"{simulator.url}/admin/voordrachten", timeout=10).json()["voordrachten"]
                       if v["voordrachtId"] == r["VoordrachtId"]]
        assert (received["bedrijfsnaam"], received["schoolOin"], received["leerweg"]) == (naam, SCHOOL_OIN, "BBL")
        assert received["vestigingsadres"] == {"straat": "Kerkweg", "huisnummer": "7", "huisnummertoevoeging": "2",
                                               "postcode": "3511AB", "plaats": "Utrecht", "land": "NL"}


def test_every_operation_through_each_client(adapter, simulator, company, client_kind):
    check_every_operation(client_kind(f"{adapter.url}/wl1?wsdl"), company, simulator)


def test_schema_invalid_request_is_a_fault_each_client_surfaces(adapter, client_kind):
    client = client_kind(f"{adapter.url}/wl1?wsdl")
    with pytest.raises(ClientFault) as caught:
        client.call("Zoeken", {"Licentie": LICENCE, "AantalResultatenPerPagina": 26, "Pagina": 1,
                               "LeerplaatsErkenningAanduiding": "E"})
    client_code = "Sender" if client.name == "zeep-soap12" else "Client"
    assert caught.value.code.rpartition(":")[2] == client_code, caught.value.code
    assert "AantalResultatenPerPagina" in caught.value.string
    with pytest.raises(ClientFault) as caught:
        client.call("GeefMutaties", {"Licentie": LICENCE, "VanafVolgnummer": 0, "MaximumAantal": 501})
    assert caught.value.code.rpartition(":")[2] == client_code
    assert "MaximumAantal" in caught.value.string


@pytest.mark.parametrize("path", LEGACY_PATHS)
def test_wsdl_from_each_legacy_path_points_back_at_it(adapter, client_kind, path):
    query = "WSDL" if path != "/wl1" else "wsdl"
    client = client_kind(f"{adapter.url}{path}?{query}")
    r = client.call("GeefMutaties", {"Licentie": LICENCE, "VanafVolgnummer": 5})
    assert r["Signaalcode"] == "0" and r["LaatsteVolgnummer"] == "5"
    assert client.address == f"{adapter.url}{path}"


# -- the served WSDL and XSD --------------------------------------------------------------------------------------
def soap_address(wsdl: bytes) -> str:
    """The one address of the service's ports (both must have the same)."""
    root = etree.fromstring(wsdl)
    (address,) = root.iter(f"{{{SOAP_BINDING_NS}}}address")
    (address12,) = root.iter(f"{{{SOAP12_BINDING_NS}}}address")
    assert address.get("location") == address12.get("location")
    return address.get("location")


@pytest.mark.parametrize("query", ["wsdl", "WSDL"])
def test_soap_address_is_the_url_used(adapter, query):
    for path in LEGACY_PATHS:
        r = requests.get(f"{adapter.url}{path}?{query}", timeout=10)
        assert r.status_code == 200
        assert soap_address(r.content) == f"{adapter.url}{path}"
    r = requests.get(f"{adapter.url}/wl1?wsdl", headers={"Host": "wl-intern.roc.nl:8443"}, timeout=10)
    assert soap_address(r.content) == "http://wl-intern.roc.nl:8443/wl1"


def test_forwarded_headers_rewrite_soap_address(adapter):
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "wl.example.nl"}
    for path in ("/wl1", "/webservices/whitelabel/ws_whitelabelzoekenv03.asmx"):
        r = requests.get(f"{adapter.url}{path}?WSDL", headers=headers, timeout=10)
        assert r.status_code == 200
        assert soap_address(r.content) == f"https://wl.example.nl{path}"
    # a client that loads such a WSDL is sent to the public address
    client = zeep.Client(f"{adapter.url}/wl1?wsdl",
                         transport=zeep.Transport(session=_session_with(headers)))
    assert client.service._binding_options["address"] == "https://wl.example.nl/wl1"


def _session_with(headers: dict) -> requests.Session:
    session = requests.Session()
    session.headers.update(headers)
    return session


def _canonical(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n2", strip_text=True, with_comments=False)


def _served_wsdl(adapter, path: str = "/wl1", query: str = "wsdl") -> etree._Element:
    r = requests.get(f"{adapter.url}{path}?{query}", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml")
    return etree.fromstring(r.content)


def _inline_schema(wsdl: etree._Element) -> etree._Element:
    (schema,) = wsdl.find(f"{{{WSDL_NS}}}types")
    return schema


@pytest.mark.parametrize("query", ["wsdl", "WSDL", "singlewsdl"])
def test_served_wsdl_is_one_self_contained_document(adapter, query):
    wsdl = _served_wsdl(adapter, "/wl1", query)
    assert not list(wsdl.iter(f"{{{XS}}}import", f"{{{XS}}}include", f"{{{WSDL_NS}}}import"))
    assert not any(el.get("schemaLocation") for el in wsdl.iter())
    schema = _inline_schema(wsdl)
    assert schema.tag == f"{{{XS}}}schema" and schema.get("targetNamespace") == WL1
    # the inline schema is the XSD file, and everything else is the WSDL file (but for the addresses)
    original_xsd = etree.parse(str(ROOT / "adapter" / "xsd" / "wl1.xsd")).getroot()
    assert _canonical(schema) == _canonical(original_xsd)
    original = etree.parse(str(ROOT / "adapter" / "wsdl" / "wl1.wsdl")).getroot()
    for root in (wsdl, original):
        types = root.find(f"{{{WSDL_NS}}}types")
        root.remove(types)
        for address in root.iter(f"{{{SOAP_BINDING_NS}}}address", f"{{{SOAP12_BINDING_NS}}}address"):
            address.set("location", "X")
    assert _canonical(wsdl) == _canonical(original)


def test_served_wsdl_has_a_soap11_and_a_soap12_port_at_the_same_address(adapter):
    wsdl = _served_wsdl(adapter)
    (service,) = wsdl.iter(f"{{{WSDL_NS}}}service")
    assert service.get("name") == "WhiteLabel"
    ports = {p.get("name"): p for p in service.iter(f"{{{WSDL_NS}}}port")}
    assert set(ports) == {"WhiteLabelSoap", "WhiteLabelSoap12"}
    assert ports["WhiteLabelSoap"].find(f"{{{SOAP_BINDING_NS}}}address").get("location") == f"{adapter.url}/wl1"
    assert ports["WhiteLabelSoap12"].find(f"{{{SOAP12_BINDING_NS}}}address").get("location") == f"{adapter.url}/wl1"
    bindings = {b.get("name"): b for b in wsdl.iter(f"{{{WSDL_NS}}}binding")}
    assert bindings["WhiteLabelSoap"].find(f"{{{SOAP_BINDING_NS}}}binding") is not None
    assert bindings["WhiteLabelSoap12"].find(f"{{{SOAP12_BINDING_NS}}}binding") is not None
    for binding in bindings.values():
        assert {op.get("name") for op in binding.iter(f"{{{WSDL_NS}}}operation")} == set(WL1_OPERATIONS)


WL1_OPERATIONS = ("GeefBedrijfsgegevens", "VerifieerAccreditatie", "Zoeken", "GeefDetails", "GeefMutaties",
                  "DoeErkenningsvoordracht")
EXAMPLE_MESSAGES = sorted(p for p in (EXAMPLES / "wl1").rglob("*.xml")) + \
    sorted(p for p in (EXAMPLES / "invalid").glob("wl1-*.xml"))


def test_inline_schema_compiles_and_judges_as_the_xsd_file_does(adapter):
    inline = etree.XMLSchema(_inline_schema(_served_wsdl(adapter)))  # lxml compiles it on its own
    verdicts = {True: 0, False: 0}
    for path in EXAMPLE_MESSAGES:
        for message in body_children(etree.parse(str(path)).getroot()):
            if message.tag.endswith("}Fault") or not message.tag.startswith(f"{{{WL1}}}"):
                continue
            by_file = not WL1_CONTRACT.validate(message)
            assert inline.validate(message) == by_file, path
            verdicts[by_file] += 1
    assert verdicts[True] >= 20 and verdicts[False] >= 8, verdicts


def test_disco_points_at_the_wsdl(adapter):
    for path in ("/wl1", "/webservices/whitelabel/ws_accreditatie.asmx"):
        r = requests.get(f"{adapter.url}{path}?disco", timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml")
        root = etree.fromstring(r.content)
        assert root.tag == "{http://schemas.xmlsoap.org/disco/}discovery"
        (contract,) = root.iter("{http://schemas.xmlsoap.org/disco/scl/}contractRef")
        assert contract.get("ref") == f"{adapter.url}{path}?wsdl"
        assert requests.get(contract.get("ref"), timeout=10).status_code == 200
        soap = list(root.iter("{http://schemas.xmlsoap.org/disco/soap/}soap"))
        assert [s.get("address") for s in soap] == [f"{adapter.url}{path}"] * 2
        assert sorted(s.get("binding").rpartition(":")[2] for s in soap) == ["WhiteLabelSoap", "WhiteLabelSoap12"]


@pytest.mark.parametrize("path", LEGACY_PATHS)
def test_xsd_still_served_at_its_old_relative_location(adapter, path):
    # a client that cached the old two-document WSDL still finds the schema it imported
    url = urljoin(f"{adapter.url}{path}?wsdl", "../xsd/wl1.xsd")
    assert urlsplit(url).netloc == urlsplit(adapter.url).netloc
    r = requests.get(url, timeout=10)
    assert r.status_code == 200, url
    assert r.content == (ROOT / "adapter" / "xsd" / "wl1.xsd").read_bytes()
