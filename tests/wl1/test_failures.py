"""What goes wrong, end to end: bad requests get soap:Client faults naming the problem; an upstream that is down,
slow, failing or talking nonsense gives 998 / 999 signaalcodes (never a fault, never a stack trace).

Requests are written by hand (raw XML over HTTP), since a generated client would refuse to send most of them.
The upstream failure tests use their own simulator (scenarios change it) and adapters of their own.
"""
from __future__ import annotations

import re
import time

import pytest
import requests
from lxml import etree

from tests.support.servers import LICENCE, TODAY, AdapterServer, free_port, start_simulator_process
from tests.support.soap import CONTENT_TYPE, SOAP_NS, WL1_NS, XML_DECLARATION, envelope, post, wl1_request


def fault_of(response: requests.Response) -> tuple[str, str]:
    """(faultcode as {namespace}local, faultstring) of a SOAP 1.1 fault response."""
    root = etree.fromstring(response.content)
    fault = root.find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault")
    assert fault is not None, response.text
    code_el = fault.find("faultcode")
    prefix, _, local = code_el.text.strip().rpartition(":")
    return f"{{{code_el.nsmap.get(prefix or None)}}}{local}", fault.findtext("faultstring")


def assert_no_internals(text: str) -> None:
    assert "Traceback" not in text
    assert not re.search(r'File "[^"]+", line \d+', text)
    assert not re.search(r"(/[\w.-]+){2,}\.py", text), "a source path leaked"
    assert "site-packages" not in text


def result_of(response: requests.Response, operation: str) -> etree._Element:
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    result = root.find(f"{{{SOAP_NS}}}Body/{{{WL1_NS}}}{operation}Response/{{{WL1_NS}}}{operation}Result")
    assert result is not None, response.text
    return result


def signaalcode(response: requests.Response, operation: str) -> int:
    return int(result_of(response, operation).findtext(f"{{{WL1_NS}}}Signaalcode"))


CLIENT = f"{{{SOAP_NS}}}Client"
SERVER = f"{{{SOAP_NS}}}Server"


# -- malformed and schema-invalid requests ------------------------------------------------------------------------
@pytest.mark.parametrize("data", [
    b"<soap:Envelope><unclosed>",
    b'<?xml version="1.0"?><Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><a></b></Body>',
    b"dit is geen XML",
    b"",
])
def test_malformed_xml_is_client_fault(adapter, data):
    r = post(adapter.wl1_url, data)
    assert r.status_code == 500
    code, string = fault_of(r)
    assert code == CLIENT
    assert "not well-formed" in string.lower() or "no xml" in string.lower() or "empty" in string.lower(), string
    assert_no_internals(r.text)


def test_malformed_xml_faultstring_says_not_well_formed(adapter):
    r = post(adapter.wl1_url, b'<?xml version="1.0"?><soap:Envelope xmlns:soap="' + SOAP_NS.encode() +
             b'"><soap:Body><w:Zoeken xmlns:w="urn:sbb:whitelabel:1.0"></soap:Body></soap:Envelope>')
    assert r.status_code == 500
    code, string = fault_of(r)
    assert code == CLIENT and "not well-formed" in string


VERIFIEER = (f"<w:CodeLeerbedrijf>100001</w:CodeLeerbedrijf><w:Crebonummer>{{crebo}}</w:Crebonummer>"
             f"<w:Peildatum>{TODAY}</w:Peildatum>")
ZOEKEN = ("<w:AantalResultatenPerPagina>{n}</w:AantalResultatenPerPagina><w:Pagina>1</w:Pagina>"
          "<w:LeerplaatsErkenningAanduiding>E</w:LeerplaatsErkenningAanduiding>")

SCHEMA_INVALID = {
    "wrong type": (wl1_request("VerifieerAccreditatie", VERIFIEER.format(crebo="abc")), "Crebonummer"),
    "wrong date": (wl1_request("VerifieerAccreditatie", VERIFIEER.format(crebo="25138").replace(TODAY, "29-11-2026")),
                   "Peildatum"),
    "missing Licentie": (wl1_request("VerifieerAccreditatie", VERIFIEER.format(crebo="25138"), licence=None),
                         "Licentie"),
    "empty Licentie": (wl1_request("VerifieerAccreditatie", VERIFIEER.format(crebo="25138"), licence=""), "Licentie"),
    "missing request wrapper": (envelope(f"<w:VerifieerAccreditatie><w:Licentie>{LICENCE}</w:Licentie>"
                                         f"{VERIFIEER.format(crebo='25138')}</w:VerifieerAccreditatie>",
                                         prolog=XML_DECLARATION, namespaces={"w": WL1_NS}), "request"),
    "unknown element": (wl1_request("GeefMutaties", "<w:VanafVolgnummer>0</w:VanafVolgnummer><w:Extra>1</w:Extra>"),
                        "Extra"),
    "page size 26": (wl1_request("Zoeken", ZOEKEN.format(n=26)), "AantalResultatenPerPagina"),
    "page size 0": (wl1_request("Zoeken", ZOEKEN.format(n=0)), "AantalResultatenPerPagina"),
    "GeefDetails with both keys": (wl1_request("GeefDetails", "<w:CodeLeerbedrijf>100001</w:CodeLeerbedrijf>"
                                                              "<w:LeerplaatsId>500001</w:LeerplaatsId>"),
                                   "LeerplaatsId"),
    "GeefDetails with neither key": (wl1_request("GeefDetails", ""), "CodeLeerbedrijf"),
    "crebo out of range": (wl1_request("VerifieerAccreditatie", VERIFIEER.format(crebo="100000")), "Crebonummer"),
    "MaximumAantal 501": (wl1_request("GeefMutaties", "<w:VanafVolgnummer>0</w:VanafVolgnummer>"
                                                      "<w:MaximumAantal>501</w:MaximumAantal>"), "MaximumAantal"),
}


@pytest.mark.parametrize("case", SCHEMA_INVALID, ids=list(SCHEMA_INVALID))
def test_schema_invalid_request_is_client_fault_naming_element(adapter, simulator, case):
    data, element = SCHEMA_INVALID[case]
    r = post(adapter.wl1_url, data)
    assert r.status_code == 500
    code, string = fault_of(r)
    assert code == CLIENT, string
    assert element in string, string
    assert_no_internals(r.text)


def test_licentie_too_long_is_client_fault(adapter):
    r = post(adapter.wl1_url, wl1_request("GeefMutaties", "<w:VanafVolgnummer>0</w:VanafVolgnummer>", licence="x" * 65))
    assert r.status_code == 500, r.text
    code, string = fault_of(r)
    assert code == CLIENT and "Licentie" in string


def test_unknown_licence_with_valid_request_is_996_not_fault(adapter):
    r = post(adapter.wl1_url,
             wl1_request("GeefMutaties", "<w:VanafVolgnummer>0</w:VanafVolgnummer>", licence="onbekend"))
    assert signaalcode(r, "GeefMutaties") == 996


def test_unknown_operation_is_client_fault_naming_it(adapter):
    r = post(adapter.wl1_url, wl1_request("VerwijderLeerbedrijf", "<w:CodeLeerbedrijf>1</w:CodeLeerbedrijf>"))
    assert r.status_code == 500
    code, string = fault_of(r)
    assert code == CLIENT and "VerwijderLeerbedrijf" in string
    # the right name in the wrong namespace is just as unknown
    r = post(adapter.wl1_url, envelope(f'<GeefMutaties xmlns="urn:sbb:whitelabel:2.0"><request>'
                                       f"<Licentie>{LICENCE}</Licentie><VanafVolgnummer>0</VanafVolgnummer>"
                                       f"</request></GeefMutaties>", prolog=XML_DECLARATION,
                                       namespaces={"w": WL1_NS}))
    code, string = fault_of(r)
    assert r.status_code == 500 and code == CLIENT and "GeefMutaties" in string


def test_soap12_envelope_sent_as_soap11_is_client_fault_naming_the_content_type(adapter):
    # the Content-Type chooses the SOAP version (as ASMX did); an envelope of the other version says what to change
    data = (f'<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
            f'xmlns:w="{WL1_NS}"><s:Body><w:GeefMutaties><w:request><w:Licentie>{LICENCE}</w:Licentie>'
            f"<w:VanafVolgnummer>0</w:VanafVolgnummer></w:request></w:GeefMutaties></s:Body></s:Envelope>").encode()
    r = post(adapter.wl1_url, data, {"Content-Type": "text/xml; charset=utf-8"})
    assert r.status_code == 500
    code, string = fault_of(r)
    assert code == CLIENT
    assert "SOAP 1.2 envelope" in string and "application/soap+xml" in string
    assert_no_internals(r.text)


def test_body_without_envelope_is_client_fault(adapter):
    r = post(adapter.wl1_url, f'<w:GeefMutaties xmlns:w="{WL1_NS}"/>'.encode())
    assert r.status_code == 500
    code, string = fault_of(r)
    assert code == CLIENT and "Envelope" in string


# -- the upstream misbehaving -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def troubled(tmp_path_factory):
    """An own simulator (for scenarios) and an adapter with a 1 s upstream timeout in front of it."""
    workdir = tmp_path_factory.mktemp("failures")
    sim = start_simulator_process(workdir / "simulator.log", count=40)
    adapter = AdapterServer(workdir / "adapter", f"{sim.url}/wl2", timeout_s=1.0)
    company = requests.get(f"{sim.url}/admin/leerbedrijven", params={"limit": 40},
                           timeout=10).json()["leerbedrijven"][0]
    try:
        yield sim, adapter, company
    finally:
        adapter.stop()
        sim.stop()


def scenario(sim, **fields) -> None:
    requests.delete(f"{sim.url}/admin/scenario", timeout=10).raise_for_status()
    if fields:
        requests.post(f"{sim.url}/admin/scenario", json={"operation": "*", **fields}, timeout=10).raise_for_status()


def calls_for(company: dict) -> dict[str, bytes]:
    crebo = int(company["erkenningen"][0]["crebonummer"])
    return {
        "GeefBedrijfsgegevens": wl1_request("GeefBedrijfsgegevens",
                                            f"<w:Bedrijfsnaam>{company['naam']}</w:Bedrijfsnaam>"
                                            f"<w:Postcode>{company['vestigingsadres']['postcode']}</w:Postcode>"),
        "VerifieerAccreditatie": wl1_request("VerifieerAccreditatie", VERIFIEER.format(crebo=crebo).replace(
            "100001", company["leerbedrijfId"])),
        "Zoeken": wl1_request("Zoeken", ZOEKEN.format(n=5)),
        "GeefDetails": wl1_request("GeefDetails", f"<w:CodeLeerbedrijf>{company['leerbedrijfId']}</w:CodeLeerbedrijf>"),
    }


def test_upstream_down_is_998_quickly(start_adapter, companies):
    closed = free_port()
    down = start_adapter(f"http://127.0.0.1:{closed}/wl2", name="down")
    for operation, data in calls_for(companies[0]).items():
        started = time.monotonic()
        r = post(down.wl1_url, data)
        elapsed = time.monotonic() - started
        assert signaalcode(r, operation) == 998, r.text
        assert elapsed < 2.5, (operation, elapsed)
        assert_no_internals(r.text)
    # GeefMutaties needs no upstream: still answered
    r = post(down.wl1_url, wl1_request("GeefMutaties", "<w:VanafVolgnummer>0</w:VanafVolgnummer>"))
    assert signaalcode(r, "GeefMutaties") == 0


def test_upstream_slow_is_998_within_the_timeout(troubled):
    sim, adapter, company = troubled
    scenario(sim, latency_ms=2500)
    try:
        for operation in ("VerifieerAccreditatie", "GeefDetails"):
            data = calls_for(company)[operation]
            started = time.monotonic()
            r = post(adapter.wl1_url, data)
            elapsed = time.monotonic() - started
            assert signaalcode(r, operation) == 998, r.text
            assert elapsed < 1.0 + 1.5, elapsed
    finally:
        scenario(sim)
    time.sleep(1.6)  # let the simulator finish the slow answers it is still sleeping on


def test_upstream_server_fault_is_999(troubled):
    sim, adapter, company = troubled
    scenario(sim, error_rate=1)
    try:
        for operation, data in calls_for(company).items():
            r = post(adapter.wl1_url, data)
            assert signaalcode(r, operation) == 999, (operation, r.text)
            assert_no_internals(r.text)
            assert "simulated technical failure" not in r.text  # upstream's words are not passed on
    finally:
        scenario(sim)


def test_upstream_malformed_answer_is_999(troubled):
    sim, adapter, company = troubled
    scenario(sim, malformed=True)
    try:
        for operation, data in calls_for(company).items():
            r = post(adapter.wl1_url, data)
            assert signaalcode(r, operation) == 999, (operation, r.text)
            assert_no_internals(r.text)
    finally:
        scenario(sim)


def test_adapter_recovers_after_upstream_trouble(troubled):
    sim, adapter, company = troubled
    scenario(sim)
    r = post(adapter.wl1_url, calls_for(company)["GeefDetails"])
    assert signaalcode(r, "GeefDetails") == 0


def test_wrong_method_is_fault_not_stack_trace(adapter):
    for method in ("PUT", "DELETE", "PATCH"):
        r = requests.request(method, adapter.wl1_url, data=b"<x/>", headers=CONTENT_TYPE, timeout=10)
        assert r.status_code in (405, 500), (method, r.status_code)
        code, string = fault_of(r)
        assert code == CLIENT and "POST" in string
        assert_no_internals(r.text)
