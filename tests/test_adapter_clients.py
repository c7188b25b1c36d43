"""Independent SOAP stacks against the served WSDL: zeep, suds-community and PHP's SoapClient (tests/php/call.php).

Each client loads the WSDL the adapter serves (from /wl1 and from every legacy path), calls every operation and
must get the simulator's data back; a schema-invalid request must reach each of them as a SOAP fault it surfaces.
Also: soap:address follows the URL the client used (and X-Forwarded-*), and the imported XSD is served where the
WSDL's relative schemaLocation points.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
import suds
import suds.client
import zeep
import zeep.exceptions
import zeep.helpers
from conftest import LICENCE, TODAY
from lxml import etree
from suds.sudsobject import Object as SudsObject

from adapter.serve.routes import LEGACY_PATHS

ROOT = Path(__file__).resolve().parent.parent
PHP_SCRIPT = Path(__file__).resolve().parent / "php" / "call.php"
WL1 = "urn:sbb:whitelabel:1.0"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
XS = "http://www.w3.org/2001/XMLSchema"


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


CLIENTS = {"zeep": ZeepClient, "suds": SudsClient, "php": PhpClient}


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


def check_every_operation(client, company: dict) -> None:
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


def test_every_operation_through_each_client(adapter, company, client_kind):
    check_every_operation(client_kind(f"{adapter.url}/wl1?wsdl"), company)


def test_schema_invalid_request_is_a_fault_each_client_surfaces(adapter, client_kind):
    client = client_kind(f"{adapter.url}/wl1?wsdl")
    with pytest.raises(ClientFault) as caught:
        client.call("Zoeken", {"Licentie": LICENCE, "AantalResultatenPerPagina": 26, "Pagina": 1,
                               "LeerplaatsErkenningAanduiding": "E"})
    assert caught.value.code.rpartition(":")[2] == "Client", caught.value.code
    assert "AantalResultatenPerPagina" in caught.value.string
    with pytest.raises(ClientFault) as caught:
        client.call("GeefMutaties", {"Licentie": LICENCE, "VanafVolgnummer": 0, "MaximumAantal": 501})
    assert caught.value.code.rpartition(":")[2] == "Client"
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
    root = etree.fromstring(wsdl)
    (address,) = root.iter(f"{{{SOAP_BINDING_NS}}}address")
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


def test_wsdl_is_served_unchanged_but_for_the_address(adapter):
    original = (ROOT / "adapter" / "wsdl" / "wl1.wsdl").read_bytes()
    served = requests.get(f"{adapter.url}/wl1?wsdl", timeout=10).content
    pattern = rb'(<soap:address\s+location=")[^"]*(")'
    assert re.sub(pattern, rb"\1X\2", served) == re.sub(pattern, rb"\1X\2", original)


@pytest.mark.parametrize("path", LEGACY_PATHS)
def test_imported_xsd_is_served_at_its_relative_location(adapter, path):
    wsdl_url = f"{adapter.url}{path}?wsdl"
    root = etree.fromstring(requests.get(wsdl_url, timeout=10).content)
    locations = [imp.get("schemaLocation") for imp in root.iter(f"{{{XS}}}import", f"{{{WSDL_NS}}}import")
                 if imp.get("schemaLocation") or imp.get("location")]
    assert locations
    for location in locations:
        url = urljoin(wsdl_url, location)
        assert urlsplit(url).netloc == urlsplit(adapter.url).netloc
        r = requests.get(url, timeout=10)
        assert r.status_code == 200, url
        schema = etree.fromstring(r.content)
        assert schema.tag == f"{{{XS}}}schema" and schema.get("targetNamespace") == WL1
        assert r.content == (ROOT / "adapter" / "xsd" / Path(location).name).read_bytes()
