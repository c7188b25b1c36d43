"""SOAP 1.2 at every WL 1.0 path, written by hand (raw envelopes over HTTP): the Content-Type chooses the version,
the answer has the same body in a SOAP 1.2 envelope, faults are Sender (HTTP 400) or Receiver (HTTP 500) with the
same reason text as in SOAP 1.1, and the audit record and the calls metric say which version was spoken."""
from __future__ import annotations

import copy
import re
import time
import uuid

import pytest
import requests
from lxml import etree

from adapter.serve.routes import LEGACY_PATHS
from tests.support.servers import LICENCE
from tests.support.soap import SOAP_NS

SOAP11 = SOAP_NS
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WL1 = "urn:sbb:whitelabel:1.0"


def ct12(operation: str = "GeefMutaties") -> str:
    return f'application/soap+xml; charset=utf-8; action="urn:sbb:whitelabel:1.0/{operation}"'


def envelope(body: str, env_ns: str = SOAP12) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:env="{env_ns}" xmlns:w="{WL1}">'
            f"<env:Body>{body}</env:Body></env:Envelope>").encode()


def mutaties(vanaf: str = "7", licence: str = LICENCE) -> str:
    return (f"<w:GeefMutaties><w:request><w:Licentie>{licence}</w:Licentie>"
            f"<w:VanafVolgnummer>{vanaf}</w:VanafVolgnummer></w:request></w:GeefMutaties>")


def post(url: str, data: bytes, content_type: str, **headers) -> requests.Response:
    return requests.post(url, data=data, headers={"Content-Type": content_type, **headers}, timeout=30)


def body_of(response: requests.Response, env_ns: str) -> etree._Element:
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{env_ns}}}Envelope", response.text
    (message,) = root.find(f"{{{env_ns}}}Body")
    return message


def fault12(response: requests.Response) -> tuple[str, str]:
    """(the Code/Value as {namespace}local, the Reason/Text) of a SOAP 1.2 fault."""
    assert response.headers["Content-Type"].startswith("application/soap+xml"), response.headers
    fault = body_of(response, SOAP12)
    assert fault.tag == f"{{{SOAP12}}}Fault", response.text
    value = fault.find(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value")
    prefix, _, local = value.text.strip().rpartition(":")
    text = fault.find(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text")
    assert text.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert fault.find(f"{{{SOAP12}}}Role") is None or fault.findtext(f"{{{SOAP12}}}Role")
    return f"{{{value.nsmap.get(prefix or None)}}}{local}", text.text


def fault11(response: requests.Response) -> tuple[str, str]:
    fault = body_of(response, SOAP11)
    code = fault.findtext("faultcode")
    prefix, _, local = code.rpartition(":")
    return f"{{{fault.nsmap.get(prefix)}}}{local}", fault.findtext("faultstring")


SENDER, RECEIVER = f"{{{SOAP12}}}Sender", f"{{{SOAP12}}}Receiver"


@pytest.mark.parametrize("path", LEGACY_PATHS)
def test_soap12_success_has_the_same_body_as_soap11(adapter, path):
    url = adapter.url + path
    r12 = post(url, envelope(mutaties()), ct12())
    assert r12.status_code == 200, r12.text
    assert r12.headers["Content-Type"].startswith("application/soap+xml; charset=utf-8")
    r11 = post(url, envelope(mutaties(), SOAP11), "text/xml; charset=utf-8", SOAPAction='"urn:sbb:whitelabel:1.0/x"')
    assert r11.status_code == 200 and r11.headers["Content-Type"].startswith("text/xml")
    same = [etree.tostring(copy.deepcopy(body_of(r, ns)), method="c14n2") for r, ns in ((r12, SOAP12), (r11, SOAP11))]
    assert same[0] == same[1]
    assert body_of(r12, SOAP12).findtext(f".//{{{WL1}}}LaatsteVolgnummer") == "7"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_an_answer_is_written_as_asmx_wrote_it(adapter, version):
    """The response element declares the WL 1.0 namespace as its default one and no element in it has a prefix:
    the form ASMX wrote (a client that reads the answer as text, not as namespaced XML, finds what it found)."""
    env_ns, content_type = (SOAP11, "text/xml; charset=utf-8") if version == "1.1" else (SOAP12, ct12())
    r = post(adapter.wl1_url, envelope(mutaties("7"), env_ns), content_type)
    assert r.status_code == 200, r.text
    assert r.content.startswith(
        f"<?xml version='1.0' encoding='UTF-8'?>\n<soap:Envelope xmlns:soap=\"{env_ns}\"><soap:Body>"
        f'<GeefMutatiesResponse xmlns="{WL1}"><GeefMutatiesResult><Signaalcode>0</Signaalcode>'.encode()), r.text
    message = body_of(r, env_ns)
    assert all(e.prefix is None and e.tag.startswith(f"{{{WL1}}}") for e in message.iter())
    assert r.content.endswith(b"</GeefMutatiesResult></GeefMutatiesResponse></soap:Body></soap:Envelope>")


def test_soap12_without_action_parameter_is_dispatched_by_the_body(adapter):
    r = post(adapter.wl1_url, envelope(mutaties("3")), "application/soap+xml")
    assert r.status_code == 200 and body_of(r, SOAP12).findtext(f".//{{{WL1}}}LaatsteVolgnummer") == "3"


CASES = {  # name: (request bytes, Content-Type, the words the reason must contain)
    "schema violation": (envelope(mutaties("-1")), ct12(), "VanafVolgnummer"),
    "missing licence": (envelope("<w:GeefMutaties><w:request><w:VanafVolgnummer>1</w:VanafVolgnummer>"
                                 "</w:request></w:GeefMutaties>"), ct12(), "Licentie"),
    "not well-formed": (b"<env:Envelope", ct12(), "not well-formed"),
    "unknown operation": (envelope("<w:Verwijder/>"), ct12(), "unknown operation 'Verwijder'"),
    "SOAP 1.1 envelope": (envelope(mutaties(), SOAP11), ct12(), "SOAP 1.1 envelope"),
    "no envelope": (f'<w:GeefMutaties xmlns:w="{WL1}"/>'.encode(), ct12(), "Envelope"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_soap12_sender_faults_are_http_400_with_the_soap11_reason(adapter, name):
    data, content_type, words = CASES[name]
    r = post(adapter.wl1_url, data, content_type)
    assert r.status_code == 400, r.text
    code, reason = fault12(r)
    assert code == SENDER and words in reason, reason
    # the same request as SOAP 1.1 (where the envelope is the version's own) has the same reason, HTTP 500
    if name not in ("SOAP 1.1 envelope", "no envelope"):  # these reasons name the version
        r11 = post(adapter.wl1_url, data.replace(SOAP12.encode(), SOAP11.encode()), "text/xml; charset=utf-8")
        assert r11.status_code == 500
        assert fault11(r11) == (f"{{{SOAP11}}}Client", reason)


def test_soap12_message_too_large_is_a_sender_fault_http_413(adapter):
    r = post(adapter.wl1_url, envelope(mutaties()) + b" " * (1024 * 1024 + 1), ct12())
    assert r.status_code == 413
    code, reason = fault12(r)
    assert code == SENDER and "too large" in reason


def test_soap12_wrong_method_is_a_sender_fault_http_405(adapter):
    r = requests.put(adapter.wl1_url, data=envelope(mutaties()), headers={"Content-Type": ct12()}, timeout=10)
    assert r.status_code == 405
    assert fault12(r)[0] == SENDER


def test_soap12_receiver_fault_is_http_500(simulator, start_adapter):
    adapter = start_adapter(f"{simulator.url}/wl2", extra="\n[limits]\nrequests_per_second = 1\nburst = 1\n")
    answers = [post(adapter.wl1_url, envelope(mutaties()), ct12()) for _ in range(3)]
    assert answers[0].status_code == 200
    refused = answers[-1]
    assert refused.status_code == 500
    code, reason = fault12(refused)
    assert code == RECEIVER and "too many requests" in reason


def _record(adapter, correlation_id: str) -> dict:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [r for r in adapter.audit_records() if r["correlation_id"] == correlation_id]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no audit record for {correlation_id}")


def _calls(adapter, version: str) -> float:
    text = requests.get(f"{adapter.url}/metrics", timeout=10).text
    return sum(float(m.group(1)) for m in re.finditer(
        r'^wl_adapter_calls_total\{[^}]*operation="GeefMutaties"[^}]*soap_version="' + re.escape(version)
        + r'"[^}]*\} (\S+)$', text, re.M))


def test_audit_and_metrics_say_which_soap_version(adapter):
    before = {v: _calls(adapter, v) for v in ("1.1", "1.2")}
    ids = {v: uuid.uuid4().hex for v in ("1.1", "1.2", "refused")}
    post(adapter.wl1_url, envelope(mutaties()), ct12(), **{"X-Correlation-ID": ids["1.2"]})
    post(adapter.wl1_url, envelope(mutaties(), SOAP11), "text/xml", **{"X-Correlation-ID": ids["1.1"]})
    post(adapter.wl1_url, b"<nope", ct12(), **{"X-Correlation-ID": ids["refused"]})
    assert _record(adapter, ids["1.2"])["soap_version"] == "1.2"
    assert _record(adapter, ids["1.1"])["soap_version"] == "1.1"
    refused = _record(adapter, ids["refused"])
    assert (refused["soap_version"], refused["http_status"], refused["wl1_request_valid"]) == ("1.2", 400, False)
    assert "not well-formed" in refused["wl1_request_problems"][0]
    assert {v: _calls(adapter, v) for v in ("1.1", "1.2")} == {v: n + 1 for v, n in before.items()}
