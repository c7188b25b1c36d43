"""With ``server.worker = "gevent"`` a call waiting for WL 2.0 holds a greenlet, not one of a few threads
(``adapter/serve/greenlets.py``): one worker holds many more calls in flight than it has threads.

The upstream here is the simulator behind a holding proxy: each request waits until ``HELD`` requests are inside at
once (or ``GIVE_UP_S`` has passed), then all are forwarded. A worker limited to its 16 threads never gets there, its
calls wait until ``GIVE_UP_S`` and the proxy's peak stays at 16; with greenlets the peak is ``HELD`` and nothing waits.
"""
from __future__ import annotations

import http.server
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.upstream import COMPANY, geef_details

HELD = 48
GIVE_UP_S = 2.0  # under the adapter's WL 2.0 timeout in the tests (3 s): a call that had to give up is still 0


class HoldingProxy(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # all calls connect at once (the default backlog of 5 would drop SYNs)

    def __init__(self, upstream_url: str):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream_url = upstream_url
        self.inside = 0
        self.peak = 0
        self.cond = threading.Condition()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/wl2"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        server: HoldingProxy = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with server.cond:
            server.inside += 1
            server.peak = max(server.peak, server.inside)
            server.cond.notify_all()
            server.cond.wait_for(lambda: server.inside >= HELD, timeout=GIVE_UP_S)
        try:
            answer = requests.post(server.upstream_url, data=body, timeout=10,
                                   headers={k: v for k, v in self.headers.items() if k.lower() in
                                            ("content-type", "soapaction")})
        finally:
            with server.cond:
                server.inside -= 1
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("Content-Type", "text/xml"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args):
        pass


@pytest.fixture
def holding_proxy(simulator):
    proxy = HoldingProxy(f"{simulator.url}/wl2")
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


def test_one_gevent_worker_holds_more_calls_in_flight_than_threads(holding_proxy, start_adapter):
    adapter = start_adapter(holding_proxy.url, server='worker = "gevent"')  # one worker, threads = 16
    with ThreadPoolExecutor(HELD) as pool:
        results = list(pool.map(lambda _: geef_details(adapter.url), range(HELD)))
    assert holding_proxy.peak == HELD  # all of them waited on WL 2.0 at once
    assert [code for code, _, _ in results] == [0] * HELD
    assert all(f">{COMPANY}<" in r.text for _, _, r in results)


def test_a_gthread_worker_holds_at_most_its_threads(holding_proxy, start_adapter):
    """The contrast, so that the test above cannot pass for another reason (the proxy counting wrongly)."""
    adapter = start_adapter(holding_proxy.url, server='worker = "gthread"')
    with ThreadPoolExecutor(24) as pool:
        codes = [code for code, _, _ in pool.map(lambda _: geef_details(adapter.url), range(24))]
    assert holding_proxy.peak == 16
    assert codes == [0] * 24
