"""Network faults as scenarios: the simulator refuses its port, resets connections, answers HTTP 503, hangs or lets
its answer drip in, and the adapter in front of it answers 998 within its deadline while its circuit breaker opens
and closes again — the 998 paths tested without killing any process.

One simulator (with a separate admin port, so a refused SOAP port can be reopened) and one adapter with short
timeouts and a quick breaker serve the whole module; every test leaves the scenario cleared and the breaker closed.
"""
from __future__ import annotations

import socket
import time
import uuid

import pytest
import requests

from adapter.contracts import WL2_NS
from adapter.simulator import DEFAULT_OIN
from adapter.soap import addressing
from adapter.soap.envelope import envelope, to_bytes
from adapter.soap.xmlsafe import parse
from tests.support.servers import SCHOOL_OIN, free_port, start_simulator_process
from tests.support.upstream import custom_adapter, geef_details, metric

TIMEOUT_S = 1.0  # the adapter's read timeout of one attempt
DEADLINE_S = 2.0  # all attempts of one call
BREAKER_FAILURES = 2
BREAKER_RESET_S = 1.0
UPSTREAM = (f"deadline_s = {DEADLINE_S}\nretry_backoff_s = 0.05\nbreaker_failures = {BREAKER_FAILURES}\n"
            f"breaker_reset_s = {BREAKER_RESET_S}\n")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("netfaults")
    admin_port = free_port()
    sim = start_simulator_process(workdir / "sim.log", "--admin-port", str(admin_port))
    sim.admin_url = f"http://127.0.0.1:{admin_port}"
    adapter = None
    try:
        adapter = custom_adapter(workdir / "adapter", f"{sim.url}/wl2", upstream_lines=UPSTREAM, timeout_s=TIMEOUT_S)
        yield sim, adapter
    finally:
        if adapter is not None:
            adapter.stop()
        sim.stop()


@pytest.fixture
def scenario(rig):
    """Set a scenario through the admin port; cleared after the test whatever happened."""
    sim, _ = rig

    def set_scenario(**fields):
        r = requests.post(f"{sim.admin_url}/admin/scenario", json={"operation": "*", **fields}, timeout=5)
        assert r.status_code == 200, r.text
        return r.json()["scenarios"]

    yield set_scenario
    requests.delete(f"{sim.admin_url}/admin/scenario", timeout=5).raise_for_status()


def journal(sim, **params) -> list[dict]:
    r = requests.get(f"{sim.admin_url}/admin/journal", params=params, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["entries"]


# slow_body: an answer dripping in a byte every 0.5 s; 998 within the deadline since the whole answer of an attempt
# must arrive within timeout_s (issue 15; before, the timeout applied to each read)
FAULTS = ["refuse", "reset", "http503", "hang", "slow_body"]


@pytest.mark.parametrize("fault", FAULTS)
def test_network_fault_answers_998_within_the_deadline_and_the_breaker_opens_and_closes(rig, scenario, fault):
    sim, adapter = rig
    assert geef_details(adapter.url)[0] == 0
    since = journal(sim, limit=1)[0]["time"]
    scenario(fault=fault)

    for i in range(BREAKER_FAILURES):
        code, elapsed, _ = geef_details(adapter.url, timeout=DEADLINE_S + 5)
        assert code == 998, f"call {i + 1}"
        assert elapsed < DEADLINE_S + 0.5, f"call {i + 1} took {elapsed:.2f}s, past the {DEADLINE_S}s deadline"
    assert metric(adapter.url, "wl_adapter_breaker_open") == 1.0

    code, elapsed, response = geef_details(adapter.url)  # open: answered at once, no call made
    assert code == 998 and elapsed < 0.5, f"{elapsed:.2f}s"
    record = next(r for r in adapter.audit_records() if r["correlation_id"] == response.headers["X-Correlation-ID"])
    assert "circuit open" in record["wl2"][0]["error"]

    # the journal shows the faulted calls (refuse: only a request on a connection opened before the port closed
    # reaches the simulator, and that connection is reset)
    faulted = [e for e in journal(sim, since=since, operation="OpvragenDetailgegevensLeerbedrijf") if e["fault"]]
    assert {e["fault"] for e in faulted} <= {fault}
    if fault != "refuse":
        assert faulted

    requests.delete(f"{sim.admin_url}/admin/scenario", timeout=5).raise_for_status()
    time.sleep(BREAKER_RESET_S + 0.2)
    assert geef_details(adapter.url)[0] == 0  # the probe call went through and closed the circuit
    assert metric(adapter.url, "wl_adapter_breaker_open") == 0.0


def test_a_counted_fault_hits_only_the_next_calls_and_a_retry_gets_through(rig, scenario):
    """http503 for one call: the adapter's first attempt gets the 503, its retry the answer; the school sees 0."""
    sim, adapter = rig
    since = journal(sim, limit=1)[0]["time"]
    active = scenario(fault="http503", count=1)
    assert active["*"]["count"] == 1
    assert geef_details(adapter.url)[0] == 0
    statuses = [e["httpStatus"] for e in reversed(journal(sim, since=since, kind="call"))]
    assert statuses[-2:] == [503, 200]
    assert requests.get(f"{sim.admin_url}/admin/scenario", timeout=5).json()["scenarios"] == {}


# -- what each fault looks like on the wire, without the adapter ------------------------------------------------

def soap_post(sim, timeout: float = 5, stream: bool = False) -> requests.Response:
    """A valid VerifieerAccreditatie straight to the simulator (faults apply after its addressing and XSD checks)."""
    body = parse(f'<w:VerifieerAccreditatieRequest xmlns:w="{WL2_NS}"><w:BerichtID>{uuid.uuid4()}</w:BerichtID>'
                 "<w:LeerbedrijfId>100001</w:LeerbedrijfId><w:Crebonummer>25180</w:Crebonummer>"
                 "<w:Startdatum>2026-11-29</w:Startdatum>"
                 "</w:VerifieerAccreditatieRequest>".encode())
    headers = addressing.request_headers("VerifieerAccreditatie", addressing.with_oin(f"{sim.url}/wl2", DEFAULT_OIN),
                                         SCHOOL_OIN)
    return requests.post(f"{sim.url}/wl2", data=to_bytes(envelope(body, headers)), timeout=timeout, stream=stream,
                         headers={"Content-Type": "text/xml; charset=utf-8"})


def test_faults_on_the_wire(rig, scenario):
    sim, _ = rig
    ok = soap_post(sim)
    assert ok.status_code == 200, ok.text

    scenario(fault="http503")
    r = soap_post(sim)
    assert r.status_code == 503 and r.headers["Content-Type"].startswith("text/html") and b"<html>" in r.content

    scenario(fault="reset")
    with pytest.raises(requests.ConnectionError, match="reset"):
        soap_post(sim)

    scenario(fault="hang", duration_ms=5000)
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        soap_post(sim, timeout=0.7)
    assert time.monotonic() - started < 2

    scenario(fault="slow_body")
    started = time.monotonic()
    r = soap_post(sim, stream=True)
    assert r.status_code == 200
    first = r.raw.read(3)
    assert len(first) == 3 and time.monotonic() - started >= 0.9  # one byte per 0.5 s
    r.close()

    scenario(fault="refuse")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sim.port), timeout=2).close()
    assert requests.get(f"{sim.admin_url}/admin/health", timeout=5).status_code == 200  # the admin port stays
    requests.delete(f"{sim.admin_url}/admin/scenario", timeout=5).raise_for_status()
    assert soap_post(sim).status_code == 200


def test_refuse_for_a_while_reopens_by_itself_without_an_admin_port(tmp_path):
    sim = start_simulator_process(tmp_path / "sim.log", count=20)
    try:
        r = requests.post(f"{sim.url}/admin/scenario", json={"operation": "*", "fault": "refuse"}, timeout=5)
        assert r.status_code == 400 and r.json()["field"] == "duration_ms"  # it could never be cleared
        r = requests.post(f"{sim.url}/admin/scenario",
                          json={"operation": "*", "fault": "refuse", "duration_ms": 800}, timeout=5)
        assert r.status_code == 200, r.text
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{sim.url}/admin/health", timeout=2)
        time.sleep(1.0)
        assert requests.get(f"{sim.url}/admin/health", timeout=5).status_code == 200
        assert requests.get(f"{sim.url}/admin/scenario", timeout=5).json()["scenarios"] == {}
    finally:
        sim.stop()


@pytest.mark.parametrize("fields, field", [
    ({"operation": "VerifieerAccreditatie", "fault": "refuse", "duration_ms": 100}, "operation"),
    ({"operation": "*", "fault": "refuse", "count": 2}, "count"),
    ({"operation": "*", "fault": "unplug"}, "fault"),
    ({"operation": "*", "fault": "reset", "count": 0}, "count"),
    ({"operation": "*", "fault": "http503", "duration_ms": 100}, "duration_ms"),
])
def test_bad_network_scenarios_are_refused_naming_the_field(rig, fields, field):
    sim, _ = rig
    r = requests.post(f"{sim.admin_url}/admin/scenario", json=fields, timeout=5)
    assert r.status_code == 400 and r.json()["field"] == field, r.text
