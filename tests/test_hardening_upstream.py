"""The WL 2.0 leg under stress, each test with its own simulator (and adapter): a slow upstream, a dead one, the
circuit breaker opening and closing again, and mutual TLS with the adapter's and a school's client certificate."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import requests
from conftest import LICENCE, OTHER_LICENCE, SCHOOL_OIN, SIM_COMPANIES, TODAY, start_simulator_process, write_config
from helpers import Server, free_port
from lxml import etree
from tls import make_pki

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WL1_NS = "urn:sbb:whitelabel:1.0"
COMPANY = "100001"  # all digits: used as LeerbedrijfId as is, one WL 2.0 call per GeefDetails


def geef_details(adapter_url: str, licence: str = LICENCE, timeout: float = 15) -> tuple[int, float, requests.Response]:
    """One GeefDetails over HTTP; (signaalcode, seconds, response)."""
    body = (f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:w="{WL1_NS}"><soap:Body><w:GeefDetails><w:request>'
            f"<w:Licentie>{licence}</w:Licentie><w:CodeLeerbedrijf>{COMPANY}</w:CodeLeerbedrijf>"
            "</w:request></w:GeefDetails></soap:Body></soap:Envelope>")
    started = time.monotonic()
    r = requests.post(f"{adapter_url}/wl1", data=body.encode(), timeout=timeout,
                      headers={"Content-Type": "text/xml; charset=utf-8"})
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.text[:500]
    code = etree.fromstring(r.content).findtext(f".//{{{WL1_NS}}}Signaalcode")
    return int(code), elapsed, r


def metric(adapter_url: str, name: str) -> float | None:
    """The value of the metric's only series (whatever its labels, e.g. the breaker's instance)."""
    text = requests.get(f"{adapter_url}/metrics", timeout=5).text
    m = re.search(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else None


def simulator_on(port: int, log: Path, *extra: str, scheme: str = "http", verify=False, cert=None) -> Server:
    """A simulator on a given port (to restart one where the adapter expects it)."""
    return Server(["simulate", "--port", str(port), "--seed", "1", "--leerbedrijven", str(SIM_COMPANIES),
                   "--today", TODAY, *extra], port, "/admin/health", scheme=scheme, log=log, verify=verify, cert=cert)


@pytest.fixture
def servers():
    """Collects servers started by a test and stops them afterwards (newest first)."""
    started: list[Server] = []
    yield started
    for server in reversed(started):
        server.stop()


def custom_adapter(workdir: Path, upstream_url: str, upstream_lines: str = "", tenant_lines: str = "",
                   timeout_s: float = 3.0) -> Server:
    """An adapter with the shared test configuration plus lines in [upstream] and in the first tenant (ROC Test);
    TOML cannot reopen a table, so ``start_adapter(extra=...)`` cannot express these."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = write_config(workdir / "adapter.toml", upstream_url, f"sqlite:///{workdir / 'adapter.sqlite'}", port,
                          timeout_s=timeout_s)
    text = config.read_text()
    text = text.replace("[upstream]\n", "[upstream]\n" + upstream_lines, 1)
    text = text.replace('name = "ROC Test"\n', 'name = "ROC Test"\n' + tenant_lines, 1)
    config.write_text(text)
    server = Server(["serve", "--config", str(config)], port, "/healthz", log=workdir / "adapter.log")
    return server


def audit_records(server: Server) -> list[dict]:
    import json
    return [json.loads(line) for line in server.output().splitlines() if line.startswith('{"type": "wl1_call"')]


# -- slow and dead upstream, circuit breaker ------------------------------------------------------------------------

def test_slow_upstream_answers_998_within_the_timeout_then_breaker_opens_and_closes(tmp_path, servers,
                                                                                    start_adapter):
    sim = start_simulator_process(tmp_path / "sim.log")
    servers.append(sim)
    adapter = start_adapter(f"{sim.url}/wl2", timeout_s=1.0)
    assert geef_details(adapter.url)[0] == 0

    r = requests.post(f"{sim.url}/admin/scenario", json={"operation": "*", "latency_ms": 3000}, timeout=5)
    assert r.status_code == 200, r.text
    for i in range(5):  # five timeouts in a row: 998 each, about the 1 s timeout
        code, elapsed, _ = geef_details(adapter.url)
        assert code == 998, f"call {i + 1}"
        assert 0.9 <= elapsed < 2.0, f"call {i + 1} took {elapsed:.2f}s"
    opened_at = time.monotonic()
    assert metric(adapter.url, "wl_adapter_breaker_open") == 1.0

    # circuit open: answered at once, without waiting for the slow upstream
    code, elapsed, response = geef_details(adapter.url)
    assert code == 998
    assert elapsed < 0.1, f"{elapsed * 1000:.0f} ms"
    record = next(r for r in audit_records(adapter) if r["correlation_id"] == response.headers["X-Correlation-ID"])
    assert "circuit open" in record["wl2"][0]["error"]
    assert metric(adapter.url, "wl_adapter_breaker_open") == 1.0

    # the upstream recovers; after 10 s one probe goes through and closes the circuit
    requests.delete(f"{sim.url}/admin/scenario", timeout=5).raise_for_status()
    assert geef_details(adapter.url)[0] == 998  # still open: recovery is not noticed before the pause is over
    time.sleep(max(0.0, 10.2 - (time.monotonic() - opened_at)))
    code, elapsed, _ = geef_details(adapter.url)
    assert code == 0
    assert geef_details(adapter.url)[0] == 0
    assert metric(adapter.url, "wl_adapter_breaker_open") == 0.0
    assert requests.get(f"{adapter.url}/readyz", timeout=5).json()["checks"]["breaker"] == "closed"


def test_dead_upstream_answers_998_breaker_opens_and_closes_after_restart(tmp_path, servers, start_adapter):
    port = free_port()
    sim = simulator_on(port, tmp_path / "sim1.log")
    servers.append(sim)
    adapter = start_adapter(f"{sim.url}/wl2", timeout_s=1.0)
    assert geef_details(adapter.url)[0] == 0

    sim.stop()
    for i in range(5):
        code, elapsed, response = geef_details(adapter.url)
        assert code == 998, f"call {i + 1}"
        assert elapsed < 1.5  # refused: no need to wait for any timeout
    records = audit_records(adapter)
    last = next(r for r in records if r["correlation_id"] == response.headers["X-Correlation-ID"])
    assert "ConnectionError" in last["wl2"][0]["error"]
    assert metric(adapter.url, "wl_adapter_breaker_open") == 1.0
    opened_at = time.monotonic()

    code, elapsed, response = geef_details(adapter.url)
    assert code == 998 and elapsed < 0.1
    record = next(r for r in audit_records(adapter) if r["correlation_id"] == response.headers["X-Correlation-ID"])
    assert "circuit open" in record["wl2"][0]["error"]

    sim2 = simulator_on(port, tmp_path / "sim2.log")  # the same address again
    servers.append(sim2)
    assert geef_details(adapter.url)[0] == 998  # the circuit stays open for its pause
    time.sleep(max(0.0, 10.2 - (time.monotonic() - opened_at)))
    assert geef_details(adapter.url)[0] == 0
    assert metric(adapter.url, "wl_adapter_breaker_open") == 0.0


# -- mutual TLS --------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_simulator(pki, tmp_path, servers):
    sim = start_simulator_process(tmp_path / "sim.log", "--tls-cert", pki.server.cert, "--tls-key", pki.server.key,
                                  "--tls-client-ca", pki.ca, scheme="https", verify=pki.ca, cert=pki.client.pair)
    servers.append(sim)
    return sim


def test_tls_simulator_requires_a_client_certificate(pki, tls_simulator):
    """The premise of the tests below: without a certificate of our CA the simulator refuses the connection."""
    ok = requests.get(f"{tls_simulator.url}/admin/health", verify=pki.ca, cert=pki.client.pair, timeout=5)
    assert ok.status_code == 200
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(f"{tls_simulator.url}/admin/health", verify=pki.ca, timeout=5)
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(f"{tls_simulator.url}/admin/health", verify=pki.ca, cert=pki.stranger.pair, timeout=5)


def test_mutual_tls_with_the_adapters_client_certificate(pki, tls_simulator, tmp_path, servers):
    adapter = custom_adapter(tmp_path / "a", f"{tls_simulator.url}/wl2", upstream_lines=(
        f'ca = "{pki.ca}"\nclient_cert = "{pki.client.cert}"\nclient_key = "{pki.client.key}"\n'))
    servers.append(adapter)
    assert geef_details(adapter.url)[0] == 0
    assert geef_details(adapter.url, OTHER_LICENCE)[0] == 0
    ready = requests.get(f"{adapter.url}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["checks"]["upstream"] == "ok"


def test_mutual_tls_without_a_client_certificate_answers_998(pki, tls_simulator, tmp_path, servers):
    """The simulator ends the TLS handshake: requests raises SSLError, which is a ConnectionError, so the adapter
    treats it as 'WL 2.0 not reachable' and answers 998 (nothing was changed), not 999 (no WL 2.0 answer at all)."""
    adapter = custom_adapter(tmp_path / "a", f"{tls_simulator.url}/wl2", upstream_lines=f'ca = "{pki.ca}"\n')
    servers.append(adapter)
    code, _, response = geef_details(adapter.url)
    assert code == 998
    record = next(r for r in audit_records(adapter) if r["correlation_id"] == response.headers["X-Correlation-ID"])
    assert "Error" in record["wl2"][0]["error"]


def test_tls_with_an_untrusted_server_certificate_answers_998(pki, tls_simulator, tmp_path, servers):
    """Without ``ca`` the adapter checks the simulator against the system store, which does not know our test CA."""
    adapter = custom_adapter(tmp_path / "a", f"{tls_simulator.url}/wl2", upstream_lines=(
        f'client_cert = "{pki.client.cert}"\nclient_key = "{pki.client.key}"\n'))
    servers.append(adapter)
    code, _, response = geef_details(adapter.url)
    assert code == 998
    record = next(r for r in audit_records(adapter) if r["correlation_id"] == response.headers["X-Correlation-ID"])
    assert "SSLError" in record["wl2"][0]["error"]


def test_mutual_tls_with_a_per_tenant_client_certificate(pki, tls_simulator, tmp_path, servers):
    """Only ROC Test has a certificate (its own, in [[tenants]]); the adapter has none: ROC Test's calls work, and
    ROC Ander's fail, so the tenant's certificate is what made the difference."""
    adapter = custom_adapter(tmp_path / "a", f"{tls_simulator.url}/wl2", upstream_lines=f'ca = "{pki.ca}"\n',
                             tenant_lines=f'client_cert = "{pki.school.cert}"\nclient_key = "{pki.school.key}"\n')
    servers.append(adapter)
    assert geef_details(adapter.url)[0] == 0
    messages = requests.get(f"{tls_simulator.url}/admin/messages", params={"limit": 1}, verify=pki.ca,
                            cert=pki.client.pair, timeout=5).json()["messages"]
    assert messages[0]["operation"] == "OpvragenDetailgegevensLeerbedrijf"
    assert messages[0]["oin"] == SCHOOL_OIN
    assert geef_details(adapter.url, OTHER_LICENCE)[0] == 998
    assert geef_details(adapter.url)[0] == 0  # one failure does not open the circuit
