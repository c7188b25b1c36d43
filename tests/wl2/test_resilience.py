"""The WL 2.0 leg under stress, each test with its own simulator (and adapter): a slow upstream, a dead one, the
circuit breaker opening and closing again, and mutual TLS with the adapter's and a school's client certificate."""
from __future__ import annotations

import time

import pytest
import requests

from tests.support.servers import (
    OTHER_LICENCE,
    SCHOOL_OIN,
    Server,
    free_port,
    start_simulator_process,
)
from tests.support.tls import make_pki
from tests.support.upstream import custom_adapter, geef_details, metric


@pytest.fixture
def servers():
    """Collects servers started by a test and stops them afterwards (newest first)."""
    started: list[Server] = []
    yield started
    for server in reversed(started):
        server.stop()


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
    record = next(r for r in adapter.audit_records() if r["correlation_id"] == response.headers["X-Correlation-ID"])
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
    sim = start_simulator_process(tmp_path / "sim1.log", port=port)
    servers.append(sim)
    adapter = start_adapter(f"{sim.url}/wl2", timeout_s=1.0)
    assert geef_details(adapter.url)[0] == 0

    sim.stop()
    for i in range(5):
        code, elapsed, response = geef_details(adapter.url)
        assert code == 998, f"call {i + 1}"
        assert elapsed < 1.5  # refused: no need to wait for any timeout
    records = adapter.audit_records()
    last = next(r for r in records if r["correlation_id"] == response.headers["X-Correlation-ID"])
    assert last["wl2"][0]["error"].startswith("ConnectError: ") and "refused" in last["wl2"][0]["error"]
    assert metric(adapter.url, "wl_adapter_breaker_open") == 1.0
    opened_at = time.monotonic()

    code, elapsed, response = geef_details(adapter.url)
    assert code == 998 and elapsed < 0.1
    record = next(r for r in adapter.audit_records() if r["correlation_id"] == response.headers["X-Correlation-ID"])
    assert "circuit open" in record["wl2"][0]["error"]

    sim2 = start_simulator_process(tmp_path / "sim2.log", port=port)  # the same address again
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
    """The simulator ends the TLS handshake (or, under TLS 1.3, the connection right after it): the adapter treats
    that as 'WL 2.0 not reachable' and answers 998 (nothing was changed), not 999 (no WL 2.0 answer at all)."""
    adapter = custom_adapter(tmp_path / "a", f"{tls_simulator.url}/wl2", upstream_lines=f'ca = "{pki.ca}"\n')
    servers.append(adapter)
    code, _, response = geef_details(adapter.url)
    assert code == 998
    record = next(r for r in adapter.audit_records() if r["correlation_id"] == response.headers["X-Correlation-ID"])
    assert "Error" in record["wl2"][0]["error"]


def test_tls_with_an_untrusted_server_certificate_answers_998(pki, tls_simulator, tmp_path, servers):
    """Without ``ca`` the adapter checks the simulator against the system store, which does not know our test CA."""
    adapter = custom_adapter(tmp_path / "a", f"{tls_simulator.url}/wl2", upstream_lines=(
        f'client_cert = "{pki.client.cert}"\nclient_key = "{pki.client.key}"\n'))
    servers.append(adapter)
    code, _, response = geef_details(adapter.url)
    assert code == 998
    record = next(r for r in adapter.audit_records() if r["correlation_id"] == response.headers["X-Correlation-ID"])
    assert "TlsError" in record["wl2"][0]["error"] and "CERTIFICATE_VERIFY_FAILED" in record["wl2"][0]["error"]


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
