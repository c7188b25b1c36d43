"""The simulator's SOAP and Edukoppeling rules: WSDL/XSD serving, addressing checks, OIN 90, schema violations,
malformed input, fault injection and the message log. Raw envelopes go over requests where the test is about bad
input; answers are parsed through adapter.soap.xmlsafe.
"""
from __future__ import annotations

import time
import uuid

import pytest
import requests
import zeep
from lxml import etree

from adapter.contracts import WL2, WL2_NS, WSA_NS
from adapter.errors import XmlRejected
from adapter.simulator import DEFAULT_OIN
from adapter.soap.xmlsafe import parse
from tests.support.servers import SCHOOL_OIN
from tests.support.simulator import ENV, NOT_A_SCHOOL_OIN, SimClient, W, code, start_simulator
from tests.support.soap import ANONYMOUS, envelope, post, wsa_header

VERIFY_BODY = (f'<wl2:VerifieerAccreditatieRequest xmlns:wl2="{WL2_NS}"><wl2:BerichtID>{uuid.uuid4()}'
               '</wl2:BerichtID><wl2:LeerbedrijfId>100001</wl2:LeerbedrijfId><wl2:Crebonummer>{crebo}'
               '</wl2:Crebonummer><wl2:Startdatum>2026-01-01</wl2:Startdatum></wl2:VerifieerAccreditatieRequest>')


@pytest.fixture(scope="module")
def server():
    s = start_simulator()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def sim(server):
    return SimClient(server)


def _headers(**override) -> dict:
    headers = {
        "Action": "urn:sbb:whitelabel:2.0/VerifieerAccreditatie",
        "MessageID": f"urn:uuid:{uuid.uuid4()}",
        "To": f"http://sbb.example/wl2?oin={DEFAULT_OIN}",
        "From": f"<wsa:Address>{ANONYMOUS}?oin={SCHOOL_OIN}</wsa:Address>",
    }
    headers.update(override)
    return {k: v for k, v in headers.items() if v is not None}


def request(body: str, headers: dict) -> bytes:
    """A WL 2.0 request with these WS-Addressing headers (raw: they may be wrong on purpose)."""
    return envelope(body, wsa_header(headers), namespaces={"wsa": WSA_NS}).encode()


def fault_of(r: requests.Response) -> tuple[str, str]:
    assert r.status_code == 500, r.text
    root = parse(r.content)
    fault = root.find(f"{ENV}Body/{ENV}Fault")
    assert fault is not None, r.text
    return fault.findtext("faultcode"), fault.findtext("faultstring")


# --- contract files ------------------------------------------------------------------------------------------

def test_wsdl_is_the_frozen_one_with_the_address_the_client_used(server):
    r = requests.get(f"{server.url}/wl2?wsdl", timeout=5, headers={"Host": f"sim.example:{server.port}"})
    assert r.status_code == 200
    served = parse(r.content)
    frozen = etree.parse(str(WL2.wsdl)).getroot()
    locations = served.xpath("//soap:address/@location", namespaces={"soap": "http://schemas.xmlsoap.org/wsdl/soap/"})
    assert locations[0] == f"http://sim.example:{server.port}/wl2"
    assert locations[1] == "http://localhost:8080/wl2/mutaties"  # the school's port is left alone
    for el in served.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address"):
        el.set("location", "")
    for el in frozen.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address"):
        el.set("location", "")
    assert etree.tostring(served, method="c14n") == etree.tostring(frozen, method="c14n")


@pytest.mark.parametrize("name", ["wl2.xsd", "ws-addr.xsd"])
def test_imported_xsds_are_served_where_the_wsdl_points(server, name):
    r = requests.get(f"{server.url}/xsd/{name}", timeout=5)
    assert r.status_code == 200 and r.content == WL2.xsd.with_name(name).read_bytes()


def test_suds_loads_the_wsdl_over_http(server):
    import suds.client

    client = suds.client.Client(f"{server.url}/wl2?wsdl", cache=None)
    names = {m.name for m in client.wsdl.services[0].ports[0].methods.values()}
    assert "ZoekenLeerbedrijfOfLeerplaats" in names and len(names) == 8


# --- addressing and OIN ------------------------------------------------------------------------------------

def test_a_valid_raw_request_gets_reply_headers(server):
    headers = _headers()
    r = post(f"{server.url}/wl2", request(VERIFY_BODY.format(crebo="25171"), headers))
    assert r.status_code == 200
    root = parse(r.content)
    assert root.findtext(f"{ENV}Header/{W}RelatesTo") == headers["MessageID"]
    assert WL2.validate(root.find(f"{ENV}Body")[0]) == []


@pytest.mark.parametrize("override, names", [
    ({"Action": None}, "wsa:Action"),
    ({"Action": "urn:sbb:whitelabel:2.0/ZoekenLeerbedrijfOfLeerplaats"}, "wsa:Action"),
    ({"MessageID": None}, "wsa:MessageID"),
    ({"MessageID": "12345"}, "wsa:MessageID"),
    ({"To": None}, "wsa:To"),
    ({"To": "http://sbb.example/wl2"}, "wsa:To"),
    ({"To": "http://sbb.example/wl2?oin=00000009999999999999"}, "wsa:To"),
    ({"From": None}, "wsa:From"),
    ({"From": "<wsa:ReferenceParameters/>"}, "wsa:Address"),
    ({"From": f"<wsa:Address>{ANONYMOUS}</wsa:Address>"}, "wsa:From"),
    ({"From": f"<wsa:Address>{ANONYMOUS}?oin=123</wsa:Address>"}, "wsa:From"),
])
def test_bad_addressing_is_a_client_fault_naming_the_header(server, override, names):
    headers = _headers(**override)
    faultcode, faultstring = fault_of(post(f"{server.url}/wl2", request(VERIFY_BODY.format(crebo="25171"), headers)))
    assert faultcode == "soap:Client" and names in faultstring


def test_any_host_name_in_to_is_accepted_the_oin_decides(server):
    headers = _headers(To=f"https://whitelabel.sbb.nl/services/wl2?oin={DEFAULT_OIN}")
    assert post(f"{server.url}/wl2", request(VERIFY_BODY.format(crebo="25171"), headers)).status_code == 200


def test_soapaction_must_match_wsa_action(server):
    data = request(VERIFY_BODY.format(crebo="25171"), _headers())
    faultcode, faultstring = fault_of(post(f"{server.url}/wl2", data, action="urn:sbb:whitelabel:2.0/Other"))
    assert faultcode == "soap:Client" and "SOAPAction" in faultstring


def test_a_sender_that_is_not_a_school_gets_90(sim):
    body = sim.call("VerifieerAccreditatie", oin=NOT_A_SCHOOL_OIN, LeerbedrijfId="100001", Crebonummer="25171",
                    Startdatum="2026-01-01")
    assert code(body) == 90 and body.Erkenning is None


# --- malformed and invalid messages ------------------------------------------------------------------------

@pytest.mark.parametrize("data, words", [
    (b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body>", "well-formed"),
    (b"", "empty"),
    (request(VERIFY_BODY.format(crebo="12a45"), _headers()), "Crebonummer"),
    (request(f'<wl2:BestaatNietRequest xmlns:wl2="{WL2_NS}"/>', _headers()), "unknown operation"),
    (request('<x:VerifieerAccreditatieRequest xmlns:x="urn:other"/>', _headers()), "unknown operation"),
    (request(f'<wl2:MutatieLeerbedrijfRequest xmlns:wl2="{WL2_NS}"/>',
              _headers(Action="urn:sbb:whitelabel:2.0/MutatieLeerbedrijf")), "Afleveradres"),
])
def test_malformed_or_invalid_requests_are_client_faults(server, data, words):
    faultcode, faultstring = fault_of(post(f"{server.url}/wl2", data))
    assert faultcode == "soap:Client" and words in faultstring, faultstring


@pytest.mark.parametrize("startdatum", ["-0001-01-01", "12345-01-01"])
def test_a_date_the_xsd_allows_but_no_calendar_has_is_20(server, startdatum):
    data = request(VERIFY_BODY.format(crebo="25171").replace("2026-01-01", startdatum), _headers())
    r = post(f"{server.url}/wl2", data)
    assert r.status_code == 200
    message = parse(r.content).find(f"{ENV}Body")[0]
    assert WL2.validate(message) == []
    assert message.findtext(f"{{{WL2_NS}}}Signalering/{{{WL2_NS}}}Signaalcode") == "20"
    assert "Startdatum" in message.findtext(f"{{{WL2_NS}}}Signalering/{{{WL2_NS}}}Foutmelding")


def test_a_schema_violation_names_the_element_and_is_logged(server, sim):
    post(f"{server.url}/wl2", request(VERIFY_BODY.format(crebo="12a45"), _headers()))
    [entry] = sim.admin("messages?limit=1").json()["messages"]
    assert entry["operation"] == "VerifieerAccreditatie" and "Crebonummer" in entry["response"]


# --- fault injection ---------------------------------------------------------------------------------------

@pytest.fixture
def scenario(sim):
    def set_(**spec):
        r = sim.admin("scenario", "POST", json=spec)
        assert r.status_code == 200, r.text
    yield set_
    assert sim.admin("scenario", "DELETE").status_code == 200


def _verify(sim):
    return sim.call("VerifieerAccreditatie", LeerbedrijfId="100001", Crebonummer="25171", Startdatum="2026-01-01")


def test_error_rate_one_gives_server_faults_for_that_operation_only(sim, scenario):
    scenario(operation="VerifieerAccreditatie", error_rate=1)
    with pytest.raises(zeep.exceptions.Fault) as fault:
        _verify(sim)
    assert fault.value.code.endswith("Server")
    assert code(sim.call("OverzichtLopendeAbonnementen")) == 0


def test_forced_signaalcode_in_a_valid_answer(sim, scenario):
    scenario(operation="*", signaalcode=99)
    body = _verify(sim)  # SimClient.call checks the answer against the XSD
    assert code(body) == 99 and body.Erkenning is None


def test_malformed_answer_is_http_200_not_xml(server, scenario):
    scenario(operation="VerifieerAccreditatie", malformed=True)
    r = post(f"{server.url}/wl2", request(VERIFY_BODY.format(crebo="25171"), _headers()))
    assert r.status_code == 200
    with pytest.raises(XmlRejected):
        parse(r.content)


def test_latency(sim, scenario):
    scenario(operation="VerifieerAccreditatie", latency_ms=300)
    started = time.monotonic()
    _verify(sim)
    assert time.monotonic() - started >= 0.3


def test_clearing_scenarios_restores_normal_answers(sim):
    assert sim.admin("scenario", "POST", json={"operation": "*", "error_rate": 1}).status_code == 200
    assert sim.admin("scenario", "DELETE").json() == {"scenarios": {}}
    assert code(_verify(sim)) == 0


@pytest.mark.parametrize("spec, field", [
    ({"operation": "Bestaat"}, "operation"),
    ({"operation": "*", "error_rate": 2}, "error_rate"),
    ({"operation": "*", "latency_ms": "veel"}, "latency_ms"),
    ({"operation": "*", "malformed": "ja"}, "malformed"),
    ({"operation": "*", "signaalcode": "x"}, "signaalcode"),
    ({"operation": "*", "typo": 1}, "typo"),
])
def test_bad_scenarios_are_400_naming_the_field(sim, spec, field):
    r = sim.admin("scenario", "POST", json=spec)
    assert r.status_code == 400 and r.json()["field"] == field


# --- message log and admin routing -------------------------------------------------------------------------

def test_message_log_newest_first_with_both_messages(sim):
    sim.call("OverzichtLopendeAbonnementen")
    _verify(sim)
    newest, older = sim.admin("messages?limit=2").json()["messages"]
    assert (newest["operation"], older["operation"]) == ("VerifieerAccreditatie", "OverzichtLopendeAbonnementen")
    assert newest["oin"] == SCHOOL_OIN and newest["validationErrors"] == []
    assert "VerifieerAccreditatieRequest" in newest["request"] and "VerifieerAccreditatieResponse" in newest["response"]
    assert newest["time"] >= older["time"]


def test_every_recorded_answer_was_valid(sim):
    entries = sim.admin("messages?limit=1000").json()["messages"]
    assert entries and all(e["validationErrors"] == [] for e in entries if not e["response"].startswith("this is"))


def test_admin_routing_errors(sim):
    assert sim.admin("nope").status_code == 404
    assert sim.admin("events").status_code == 405
    assert sim.admin("leerbedrijven?limit=0").json()["field"] == "limit"
    assert sim.admin("events", "POST", data=b"{").status_code == 400
