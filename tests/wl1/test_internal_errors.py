"""What a legacy client sees when the adapter itself cannot make a valid answer: a soap:Server fault without
internals, never a half-valid answer (unless the operator chose `report` for that leg). A fake WL 2.0 upstream on
loopback sends answers that break the adapter's assumptions; its response-schema check is switched off so they
get through to the translation."""
from __future__ import annotations

import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from adapter.store.model import Mutation
from adapter.store.store import Store
from tests.support.servers import SCHOOL_OIN, wl_adapter
from tests.support.soap import post, wl1_request

# An IdentificeerLeerbedrijfResponse with a 41-digit LeerbedrijfId: it violates wl2.xsd ([0-9]{1,12}), and
# translated it would violate wl1.xsd too (CodeLeerbedrijf is 1..40 characters).
BROKEN_ANSWER = b"""<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsa="http://www.w3.org/2005/08/addressing">
<soap:Header><wsa:Action>urn:sbb:whitelabel:2.0/IdentificeerLeerbedrijfResponse</wsa:Action>
<wsa:MessageID>urn:uuid:6f1c2a1e-3b7d-4c55-9a3e-2f0d1e2c3b4a</wsa:MessageID></soap:Header>
<soap:Body><IdentificeerLeerbedrijfResponse xmlns="urn:sbb:whitelabel:2.0">
<BerichtID>6f1c2a1e-3b7d-4c55-9a3e-2f0d1e2c3b4a</BerichtID>
<Signalering><Signaalcode>0</Signaalcode><Signaaltekst>Verwerkt</Signaaltekst></Signalering>
<Leerbedrijven><Leerbedrijf><LeerbedrijfId>""" + b"1" * 41 + b"""</LeerbedrijfId><Naam>Bakkerij</Naam>
<Vestigingsadres><Straat>Markt</Straat><Huisnummer>5</Huisnummer><Postcode>1234AB</Postcode><Plaats>Delft</Plaats><Land>NL</Land></Vestigingsadres>
</Leerbedrijf></Leerbedrijven></IdentificeerLeerbedrijfResponse></soap:Body></soap:Envelope>"""

REQUEST = wl1_request("GeefBedrijfsgegevens", "<w:Bedrijfsnaam>Bakkerij</w:Bedrijfsnaam>"
                                              "<w:Postcode>1234AB</w:Postcode>", prolog="")
CONTENT_TYPE_PLAIN = {"Content-Type": "text/xml"}


def _canned_upstream(answer: bytes):
    """A fake WL 2.0 on loopback that answers every POST with ``answer``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/wl2"
    server.shutdown()


@pytest.fixture(scope="module")
def broken_upstream():
    yield from _canned_upstream(BROKEN_ANSWER)


def test_invalid_upstream_answer_is_999_when_its_schema_is_enforced(broken_upstream, start_adapter):
    r = post(start_adapter(broken_upstream).wl1_url, REQUEST, CONTENT_TYPE_PLAIN, timeout=10)
    assert r.status_code == 200 and "<Signaalcode>999</Signaalcode>" in r.text


def test_an_answer_the_adapter_cannot_make_valid_is_a_server_fault_without_internals(broken_upstream, start_adapter):
    adapter = start_adapter(broken_upstream, extra='\n[validation]\nwl2_response = "off"\n')
    r = post(adapter.wl1_url, REQUEST, CONTENT_TYPE_PLAIN, timeout=10)
    assert r.status_code == 500
    assert "<faultcode>soap:Server</faultcode>" in r.text
    assert "Traceback" not in r.text and ".py" not in r.text and "1" * 41 not in r.text
    metrics = requests.get(f"{adapter.url}/metrics", timeout=5).text
    assert 'wl_adapter_faults_total{faultcode="Server"} 1.0' in metrics
    record = next(rec for rec in adapter.audit_records() if rec["correlation_id"] == r.headers["X-Correlation-ID"])
    assert [p.split(":")[0] for p in record["wl1_response_problems"]] == ["CodeLeerbedrijf"]


def test_report_mode_on_the_answer_lets_it_through_and_counts_it(broken_upstream, start_adapter):
    adapter = start_adapter(broken_upstream, extra='\n[validation]\nwl2_response = "off"\nwl1_response = "report"\n')
    r = post(adapter.wl1_url, REQUEST, CONTENT_TYPE_PLAIN, timeout=10)
    assert r.status_code == 200 and "<Signaalcode>0</Signaalcode>" in r.text
    metrics = requests.get(f"{adapter.url}/metrics", timeout=5).text
    assert ('wl_adapter_validation_failures_total{leg="wl1_response",mode="report",operation="GeefBedrijfsgegevens"}'
            ' 1.0') in metrics
    record = next(rec for rec in adapter.audit_records() if rec["correlation_id"] == r.headers["X-Correlation-ID"])
    [problem] = record["wl1_response_problems"]  # the audit trail says what was wrong with what the school got
    assert problem.startswith("CodeLeerbedrijf:") and "maximum length of '40'" in problem
    shown = wl_adapter("audit", str(adapter.log), "--correlation-id", r.headers["X-Correlation-ID"], timeout=60)
    assert f"| invalid answer: {problem}" in shown.stdout.splitlines()[0]


# A schema-valid answer that does not say it answers our request (wsa:RelatesTo names another MessageID).
CROSSED_ANSWER = BROKEN_ANSWER.replace(b"""<LeerbedrijfId>""" + b"1" * 41, b"<LeerbedrijfId>100001").replace(
    b"</wsa:MessageID></soap:Header>",
    b"</wsa:MessageID><wsa:RelatesTo>urn:uuid:00000000-0000-4000-8000-000000000000</wsa:RelatesTo></soap:Header>")


@pytest.fixture(scope="module")
def crossed_upstream():
    yield from _canned_upstream(CROSSED_ANSWER)


def test_an_answer_to_another_request_is_not_used(crossed_upstream, start_adapter):
    adapter = start_adapter(crossed_upstream)
    r = post(adapter.wl1_url, REQUEST, CONTENT_TYPE_PLAIN, timeout=10)
    assert r.status_code == 200 and "<Signaalcode>999</Signaalcode>" in r.text
    record = next(rec for rec in adapter.audit_records() if rec["correlation_id"] == r.headers["X-Correlation-ID"])
    assert any(p.startswith("RelatesTo:") for p in record["wl2"][0]["response_problems"])


def test_report_mode_passes_an_answer_with_crossed_addressing_on(crossed_upstream, start_adapter):
    adapter = start_adapter(crossed_upstream, extra='\n[validation]\nwl2_response = "report"\n')
    r = post(adapter.wl1_url, REQUEST, CONTENT_TYPE_PLAIN, timeout=10)
    assert r.status_code == 200 and "<Signaalcode>0</Signaalcode>" in r.text


@pytest.mark.parametrize("character", ["\x01", "\x00", "\ufffe"], ids=repr)
def test_a_stored_value_xml_cannot_carry_is_a_server_fault_not_a_broken_answer(character, broken_upstream,
                                                                               start_adapter):
    """Pushes arrive as XML, so a character XML 1.0 forbids cannot come from SBB; a store written by other means
    could still hold one. The answer cannot be written: a soap:Server fault, never an answer without it (or with
    an empty Body, as spyne would make of the serialiser's error)."""
    adapter = start_adapter(broken_upstream)
    Store(adapter.store_url).store_mutation(SCHOOL_OIN, Mutation(
        mutatie_id="3f2504e0-4f89-11d3-9a0c-0305e82c3301", soort="ERKENNING_INGETROKKEN", leerbedrijf_id="100001",
        crebo="25180", ingangsdatum=date(2026, 7, 1), toelichting=f"Ingetrokken{character}"))
    request = wl1_request("GeefMutaties", "<w:VanafVolgnummer>0</w:VanafVolgnummer>", prolog="")
    r = post(adapter.wl1_url, request, CONTENT_TYPE_PLAIN, timeout=10)
    assert r.status_code == 500, r.text
    assert "<faultcode>soap:Server</faultcode>" in r.text and "GeefMutatiesResponse" not in r.text
    assert "holds a character XML cannot carry" in adapter.output()
