"""A client that sends its request body slowly gets HTTP 408 once ``[server] body_timeout_s`` has passed, and
frees its worker thread: more slow clients than the worker has threads cannot keep a valid call from being answered.
Raw sockets on loopback play the slow clients; the adapter runs with 4 threads and a 1 s body deadline, in front of
the session simulator."""
from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pytest
import requests
from lxml import etree

from tests.support.servers import LICENCE, Server, free_port, write_config

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WL1_NS = "urn:sbb:whitelabel:1.0"
THREADS = 4
BODY_TIMEOUT_S = 1.0


def body(company: str = "100001") -> bytes:
    return (f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:w="{WL1_NS}"><soap:Body><w:GeefDetails><w:request>'
            f"<w:Licentie>{LICENCE}</w:Licentie><w:CodeLeerbedrijf>{company}</w:CodeLeerbedrijf>"
            "</w:request></w:GeefDetails></soap:Body></soap:Envelope>").encode()


@pytest.fixture(scope="module")
def slow_guarded(simulator, tmp_path_factory):
    workdir: Path = tmp_path_factory.mktemp("slow")
    port = free_port()
    config = write_config(workdir / "adapter.toml", f"{simulator.url}/wl2", f"sqlite:///{workdir / 'a.sqlite'}", port)
    text = config.read_text().replace("threads = 16\n", f"threads = {THREADS}\nbody_timeout_s = {BODY_TIMEOUT_S}\n")
    config.write_text(text)
    server = Server(["serve", "--config", str(config)], port, "/healthz", log=workdir / "adapter.log")
    yield server
    server.stop()


def slow_client(port: int, data: bytes, interval_s: float, chunked: bool = False, limit_s: float = 20.0):
    """Send the headers at once, then the body a byte every ``interval_s``; return (status, body, seconds)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=limit_s)
    started = time.monotonic()
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(data)}"
    sock.sendall(f"POST /wl1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml; charset=utf-8\r\n{framing}\r\n"
                 "\r\n".encode())
    sock.setblocking(False)
    answer = b""
    try:
        for i in range(len(data)):
            if time.monotonic() - started > limit_s:
                break
            try:
                piece = data[i:i + 1]
                sock.send(b"1\r\n" + piece + b"\r\n" if chunked else piece)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                pass
            try:
                chunk = sock.recv(65536)
                if chunk:
                    answer += chunk
                    if b"</soap:Envelope>" in answer:
                        break
            except BlockingIOError:
                pass
            except ConnectionResetError:
                break
            time.sleep(interval_s)
        sock.setblocking(True)
        sock.settimeout(max(0.1, limit_s - (time.monotonic() - started)))
        while b"</soap:Envelope>" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    finally:
        sock.close()
    elapsed = time.monotonic() - started
    m = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return (int(m.group(1)) if m else None), answer.partition(b"\r\n\r\n")[2], elapsed


def test_slow_body_is_answered_408_at_the_deadline(slow_guarded):
    status, answer, elapsed = slow_client(slow_guarded.port, body(), interval_s=0.1)
    assert status == 408, answer[:300]
    fault = etree.fromstring(answer).find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault")
    assert fault.findtext("faultcode") == "soap:Client"
    assert fault.findtext("faultstring") == "request body not received within 1 s"
    assert BODY_TIMEOUT_S - 0.1 < elapsed < BODY_TIMEOUT_S + 1.5, elapsed
    assert "request body not received within 1 s" in slow_guarded.output()


def test_slow_chunked_body_is_answered_408_too(slow_guarded):
    status, answer, elapsed = slow_client(slow_guarded.port, body(), interval_s=0.1, chunked=True)
    assert status == 408, answer[:300]
    assert elapsed < BODY_TIMEOUT_S + 1.5, elapsed


def test_a_body_in_a_few_pieces_within_the_deadline_is_served(slow_guarded, companies):
    company = companies[0]["leerbedrijfId"]
    data = body(company)
    sock = socket.create_connection(("127.0.0.1", slow_guarded.port), timeout=10)
    try:
        sock.sendall(f"POST /wl1 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: {len(data)}\r\n"
                     "Connection: close\r\n\r\n".encode())
        for i in range(0, len(data), len(data) // 3 + 1):
            sock.sendall(data[i:i + len(data) // 3 + 1])
            time.sleep(0.2)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert f"<CodeLeerbedrijf>{company}</CodeLeerbedrijf>".encode() in answer


def test_more_slow_clients_than_threads_cannot_starve_a_valid_call(slow_guarded, companies):
    company = companies[1]["leerbedrijfId"]
    results = []
    slow = [threading.Thread(target=lambda: results.append(slow_client(slow_guarded.port, body(), 0.2)))
            for _ in range(THREADS * 2)]
    for t in slow:
        t.start()
    time.sleep(0.3)  # every thread of the worker is now reading a slow body
    started = time.monotonic()
    r = requests.post(f"{slow_guarded.url}/wl1", data=body(company), timeout=10,
                      headers={"Content-Type": "text/xml; charset=utf-8"})
    waited = time.monotonic() - started
    for t in slow:
        t.join(30)
    assert r.status_code == 200, r.text[:300]
    assert etree.fromstring(r.content).findtext(f".//{{{WL1_NS}}}CodeLeerbedrijf") == company
    assert waited < 2 * BODY_TIMEOUT_S + 2.0, waited  # two rounds of slow clients at most, not their whole drip
    assert sorted(status for status, _, _ in results) == [408] * (THREADS * 2)
