"""The WL 2.0 answer is bounded in size and in time, whatever the upstream does.

A tiny HTTP server on loopback plays a broken WL 2.0: it answers 50 MB (announced, or streamed without a length),
or drips its answer one byte every half second (the body after prompt headers, or the status line itself). Each
time the school gets signaalcode 998 within the configured deadline, the adapter logs why and keeps serving.
Before, the whole answer was read whatever its size, and the timeout applied per read, so a drip held the call for
as long as the upstream liked.
"""
from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from lxml import etree

from tests.support.servers import GEVENT_WORKER, LICENCE, Server, free_port, python, write_config

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WL1_NS = "urn:sbb:whitelabel:1.0"
MB = 1000 * 1000
DRIP_INTERVAL_S = 0.5


class BrokenUpstream(BaseHTTPRequestHandler):
    """Reads the request, then misbehaves as ``server.mode`` says."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.requests += 1
        try:
            getattr(self, "_" + self.server.mode.replace("-", "_"))()
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass  # the adapter gave up on us: that is the point

    def _huge(self):
        self._head(50 * MB)
        self._stream(50 * MB)

    def _huge_unannounced(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Connection", "close")
        self.end_headers()
        self._stream(50 * MB)
        self.close_connection = True

    def _drip_body(self):
        self._head(10_000)
        self._drip(b"<" * 10_000)

    def _drip_head(self):
        self._drip(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 10000\r\n\r\n" + b"<" * 10_000)

    def _head(self, length: int):
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _stream(self, size: int):
        block = b"x" * MB
        for _ in range(size // MB):
            self.wfile.write(block)

    def _drip(self, data: bytes):
        stop = time.monotonic() + 60  # bounded: never outlives a test run
        for i in range(len(data)):
            if time.monotonic() > stop or self.server.stopping:
                return
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()
            time.sleep(DRIP_INTERVAL_S)


@pytest.fixture
def broken_upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), BrokenUpstream)
    server.daemon_threads = True
    server.mode = "huge"
    server.requests = 0
    server.stopping = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.stopping = True
    server.shutdown()
    server.server_close()


def adapter_in_front_of(workdir: Path, upstream_url: str, timeout_s: float, deadline_s: float) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = write_config(workdir / "adapter.toml", upstream_url, f"sqlite:///{workdir / 'adapter.sqlite'}", port,
                          timeout_s=timeout_s)
    config.write_text(config.read_text().replace("[upstream]\n", f"[upstream]\ndeadline_s = {deadline_s}\n", 1))
    return Server(["serve", "--config", str(config)], port, "/healthz", log=workdir / "adapter.log")


@pytest.fixture
def adapter_for(tmp_path):
    started: list[Server] = []

    def start(upstream, timeout_s: float = 4.0, deadline_s: float = 4.0) -> Server:
        url = f"http://127.0.0.1:{upstream.server_address[1]}/wl2"
        started.append(adapter_in_front_of(tmp_path / f"adapter{len(started)}", url, timeout_s, deadline_s))
        return started[-1]
    yield start
    for server in started:
        server.stop()


def geef_details(adapter: Server) -> tuple[int, float]:
    body = (f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:w="{WL1_NS}"><soap:Body><w:GeefDetails><w:request>'
            f"<w:Licentie>{LICENCE}</w:Licentie><w:CodeLeerbedrijf>100001</w:CodeLeerbedrijf>"
            "</w:request></w:GeefDetails></soap:Body></soap:Envelope>")
    started = time.monotonic()
    r = requests.post(f"{adapter.url}/wl1", data=body.encode(), timeout=60,
                      headers={"Content-Type": "text/xml; charset=utf-8"})
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.text[:500]
    return int(etree.fromstring(r.content).findtext(f".//{{{WL1_NS}}}Signaalcode")), elapsed


@pytest.mark.parametrize("mode", ["huge", "huge-unannounced"])
def test_oversized_answer_is_998_without_reading_it_all(broken_upstream, adapter_for, mode):
    broken_upstream.mode = mode
    adapter = adapter_for(broken_upstream)
    code, elapsed = geef_details(adapter)
    assert code == 998
    assert elapsed < 4.0
    assert broken_upstream.requests == 1  # not retried: asking again brings the same flood
    assert "16777216" in adapter.output()  # logged, naming the limit


@pytest.mark.parametrize("mode", ["drip-body", "drip-head"])
def test_dripping_answer_is_998_within_the_deadline(broken_upstream, adapter_for, mode):
    broken_upstream.mode = mode
    adapter = adapter_for(broken_upstream, timeout_s=4.0, deadline_s=4.0)
    code, elapsed = geef_details(adapter)
    assert code == 998
    assert 3.5 < elapsed < 5.5, elapsed  # the deadline, not one read's timeout (each byte comes within 0.5 s)
    assert broken_upstream.requests == 1
    assert "WL 2.0 unavailable for GeefDetails" in adapter.output()


def test_a_second_call_after_a_flood_is_served_on_a_fresh_connection(broken_upstream, adapter_for):
    """The connection of an answer read only in part is never used again."""
    broken_upstream.mode = "huge"
    adapter = adapter_for(broken_upstream)
    assert geef_details(adapter)[0] == 998
    broken_upstream.mode = "drip-body"
    code, elapsed = geef_details(adapter)
    assert code == 998 and elapsed < 5.5
    assert broken_upstream.requests == 2


_LARGE_ANSWER = GEVENT_WORKER + """
from adapter.config import UpstreamConfig
from adapter.wl2 import client as wl2
from adapter.wl2.client import Exchange, Wl2Client

subscriptions = int(sys.argv[1])
if sys.argv[2] == "inline":  # as before: everything in the calling greenlet
    wl2.ANSWER_LIMITS = wl2._IN_ITS_OWN_THREAD = wl2.replace(wl2.ANSWER_LIMITS, isolate_markup=10 ** 9)
one = ("<wl2:Abonnement><wl2:AbonnementId>0f8fad5b-d9cb-469f-a165-70867728950e</wl2:AbonnementId>"
       "<wl2:LeerbedrijfId>100001</wl2:LeerbedrijfId><wl2:Crebonummer>25143</wl2:Crebonummer>"
       "<wl2:Sinds>2026-01-01T00:00:00</wl2:Sinds></wl2:Abonnement>")
answer = ('<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" '
          'xmlns:wl2="urn:sbb:whitelabel:2.0" xmlns:wsa="http://www.w3.org/2005/08/addressing"><soap-env:Header>'
          "<wsa:Action>urn:sbb:whitelabel:2.0/OverzichtLopendeAbonnementenResponse</wsa:Action>"
          "<wsa:RelatesTo>urn:uuid:9b2f9e4e-0d9c-4a55-8f8a-2f8f1d8a3c11</wsa:RelatesTo></soap-env:Header>"
          "<soap-env:Body><wl2:OverzichtLopendeAbonnementenResponse>"
          "<wl2:BerichtID>7c9e6679-7425-40de-944b-e07fc1f90ae7</wl2:BerichtID><wl2:Signalering>"
          "<wl2:Signaalcode>0</wl2:Signaalcode><wl2:Signaaltekst>OK</wl2:Signaaltekst></wl2:Signalering>"
          f"<wl2:Abonnementen>{one * subscriptions}</wl2:Abonnementen>"
          "</wl2:OverzichtLopendeAbonnementenResponse></soap-env:Body></soap-env:Envelope>").encode()
client = Wl2Client(UpstreamConfig(url="http://127.0.0.1:9/wl2", oin="00000003273462010000"))
exchange = Exchange("OverzichtLopendeAbonnementen", message_id="urn:uuid:9b2f9e4e-0d9c-4a55-8f8a-2f8f1d8a3c11")
start = time.monotonic()
body = client._answer("OverzichtLopendeAbonnementen", exchange, 200, answer)
end = time.monotonic()
assert len(body["Abonnementen"]["Abonnement"]) == subscriptions, "not all read"
assert body["Abonnementen"]["Abonnement"][-1]["LeerbedrijfId"] == "100001"
print(sum(1 for t in ticks if start < t < end), round((end - start) * 1000), len(exchange.response_problems))
"""


def test_with_gevent_other_calls_go_on_while_a_large_answer_is_parsed_validated_and_read():
    """An answer of megabytes (here 40,000 subscriptions, 8 MB) is parsed, validated and read on a thread of its
    own: the worker's other calls go on meanwhile. Read in the calling greenlet, nothing else ran for its ~0.4 s."""
    aside = python(_LARGE_ANSWER, "40000", "aside", timeout=120)
    assert aside.returncode == 0, aside.stderr
    ticks, answer_ms, problems = map(int, aside.stdout.split())
    assert problems == 0  # it was validated, and valid
    assert ticks >= max(3, answer_ms // 20), (ticks, answer_ms)  # the other call ran, again and again
    inline = python(_LARGE_ANSWER, "40000", "inline", timeout=120)
    assert inline.returncode == 0, inline.stderr
    assert int(inline.stdout.split()[0]) == 0, inline.stdout
