"""Retries on the WL 2.0 leg: read-only operations are retried with back-off within one deadline; operations that
change something upstream are never retried. A flaky front on loopback answers HTTP 503 (no SOAP body) to chosen
requests and passes the others on to the real simulator."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from adapter.config import UpstreamConfig
from adapter.errors import UpstreamUnavailable
from adapter.simulator import DEFAULT_OIN
from adapter.wl2.client import Wl2Client
from tests.support.servers import SCHOOL_OIN
from tests.support.soap import post, wl1_request


class FlakyFront:
    """Answers 503 to request numbers in ``fail`` (1-based; or to all when fail is None), forwards the rest."""

    def __init__(self, target: str, fail: set[int] | None):
        self.target = target
        self.fail = fail
        self.requests = 0
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                front.requests += 1
                if front.fail is None or front.requests in front.fail:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                r = requests.post(front.target, data=body, headers={"Content-Type": self.headers["Content-Type"],
                                                                    "SOAPAction": self.headers.get("SOAPAction", "")})
                self.send_response(r.status_code)
                self.send_header("Content-Type", r.headers["Content-Type"])
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/wl2"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def front(simulator):
    fronts = []

    def make(fail):
        fronts.append(FlakyFront(f"{simulator.url}/wl2", fail))
        return fronts[-1]

    yield make
    for f in fronts:
        f.close()


def _client(url: str, **kw) -> Wl2Client:
    return Wl2Client(UpstreamConfig(url=url, oin=DEFAULT_OIN, timeout_s=2.0, retry_backoff_s=0.05, **kw))


def test_read_only_call_is_retried_after_a_503(front, companies):
    flaky = front({1})
    body = _client(flaky.url).call("OpvragenDetailgegevensLeerbedrijf", SCHOOL_OIN,
                                   {"LeerbedrijfId": companies[0]["leerbedrijfId"]})
    assert body["Signalering"]["Signaalcode"] == 0
    assert flaky.requests == 2


def test_read_only_call_through_the_adapter_records_its_attempts(front, companies, start_adapter):
    flaky = front({2, 3})  # the first call passes; the second needs three attempts
    adapter = start_adapter(flaky.url)
    code_leerbedrijf = companies[0]["leerbedrijfId"]
    for expected_attempts in (1, 3):
        request = wl1_request("GeefDetails", f"<w:CodeLeerbedrijf>{code_leerbedrijf}</w:CodeLeerbedrijf>",
                              prolog="")
        r = post(adapter.wl1_url, request, {"Content-Type": "text/xml"}, timeout=10)
        assert "<Signaalcode>0</Signaalcode>" in r.text
        record = next(rec for rec in adapter.audit_records()
                      if rec["correlation_id"] == r.headers["X-Correlation-ID"])
        assert record["wl2"][0]["attempts"] == expected_attempts


def test_a_call_that_changes_something_is_never_retried(front, companies):
    flaky = front({1})
    with pytest.raises(UpstreamUnavailable):
        _client(flaky.url).call("VerzoekAbonnementMutaties", SCHOOL_OIN,
                                {"LeerbedrijfId": companies[0]["leerbedrijfId"]})
    assert flaky.requests == 1


def test_a_proposal_is_never_retried_and_the_schools_retry_makes_one(front, simulator, start_adapter):
    flaky = front({1})  # the first WL 2.0 request gets a 503 without a SOAP answer
    adapter = start_adapter(flaky.url)
    naam = f"Nooit Herhaald {time.time_ns()}"
    data = wl1_request("DoeErkenningsvoordracht", f"<w:Bedrijfsnaam>{naam}</w:Bedrijfsnaam><w:Vestigingsadres>"
                       "<w:Straat>Kerkweg 7</w:Straat><w:Postcode>3511AB</w:Postcode><w:Plaats>Utrecht</w:Plaats>"
                       "<w:Land>Nederland</w:Land></w:Vestigingsadres><w:Crebonummer>25180</w:Crebonummer>"
                       "<w:Leerweg>BOL</w:Leerweg>", prolog="")
    answers = [post(adapter.wl1_url, data, {"Content-Type": "text/xml"}, timeout=10).text for _ in range(2)]
    assert "<Signaalcode>998</Signaalcode>" in answers[0]
    assert "<Signaalcode>0</Signaalcode>" in answers[1]
    assert flaky.requests == 2  # one per school call: the 503 was not retried
    listing = requests.get(f"{simulator.url}/admin/voordrachten", timeout=10).json()["voordrachten"]
    assert [v["bedrijfsnaam"] for v in listing].count(naam) == 1


def test_retries_stop_at_the_deadline(front, companies):
    flaky = front(None)  # always 503
    client = _client(flaky.url, retries=50, deadline_s=2.0, connect_timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable):
        client.call("OpvragenDetailgegevensLeerbedrijf", SCHOOL_OIN, {"LeerbedrijfId": companies[0]["leerbedrijfId"]})
    assert time.monotonic() - started < 2.0
    assert 3 <= flaky.requests < 50


def test_one_failed_call_is_one_breaker_failure_whatever_its_retries(front, companies):
    flaky = front(None)
    client = _client(flaky.url, retries=2)
    for _ in range(4):
        with pytest.raises(UpstreamUnavailable):
            client.call("OpvragenDetailgegevensLeerbedrijf", SCHOOL_OIN,
                        {"LeerbedrijfId": companies[0]["leerbedrijfId"]})
    assert client.breaker.state == "closed"  # 4 calls (12 attempts) < the threshold of 5 calls
    with pytest.raises(UpstreamUnavailable):
        client.call("OpvragenDetailgegevensLeerbedrijf", SCHOOL_OIN, {"LeerbedrijfId": companies[0]["leerbedrijfId"]})
    assert client.breaker.state == "open"
