"""The chain report (``wl-adapter report``) from a real adapter's audit trail and store, and the Grafana dashboard
over the same figures: every panel's query names metrics the adapter really exposes.

Real processes: this module's own simulator (it injects faults and fires events) and an adapter whose log is the
audit trail; calls by a zeep client, as a school system makes them.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from lxml import html
from zeep.helpers import serialize_object

from adapter.config import load_config
from tests.support.servers import (
    LICENCE,
    OTHER_LICENCE,
    ROOT,
    SCHOOL_OIN,
    TODAY,
    AdapterServer,
    start_simulator_process,
)
from tests.support.soap import wl1_client

DASHBOARD = ROOT / "deploy" / "grafana" / "wl-adapter.json"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    server = start_simulator_process(tmp_path_factory.mktemp("chain-sim") / "simulator.log", count=30)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def adapter(sim, tmp_path_factory):
    server = AdapterServer(tmp_path_factory.mktemp("chain-adapter"), f"{sim.url}/wl2", timeout_s=1.0)
    yield server
    server.stop()


def scenario(sim, **body):
    requests.post(f"{sim.url}/admin/scenario", json=body, timeout=10).raise_for_status()


def verify(service, licence, code, crebo) -> int:
    return serialize_object(service.VerifieerAccreditatie(request={
        "Licentie": licence, "CodeLeerbedrijf": code, "Crebonummer": int(crebo), "Peildatum": TODAY}), dict)[
        "Signaalcode"]


def wait_until(check, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_chain_report_from_audit_trail_and_store(sim, adapter, tmp_path):
    companies = requests.get(f"{sim.url}/admin/leerbedrijven", params={"limit": 30}, timeout=10).json()
    c, e = next((c, e) for c in companies["leerbedrijven"] for e in c["erkenningen"] if e["status"] == "ERKEND")
    service = wl1_client(adapter).service
    codes = [verify(service, LICENCE, c["leerbedrijfId"], e["crebonummer"]) for _ in range(3)]
    assert codes == [0, 0, 0]
    assert verify(service, LICENCE, "ONBEKEND", e["crebonummer"]) == 3
    assert verify(service, "no-such-licence", c["leerbedrijfId"], e["crebonummer"]) == 996
    scenario(sim, operation="OpvragenDetailgegevensLeerbedrijf", latency_ms=1500)  # past the 1 s timeout
    details = serialize_object(service.GeefDetails(request={"Licentie": OTHER_LICENCE,
                                                            "CodeLeerbedrijf": c["leerbedrijfId"]}), dict)
    assert details["Signaalcode"] == 998
    scenario(sim, operation="OpvragenDetailgegevensLeerbedrijf", signaalcode=99)
    details = serialize_object(service.GeefDetails(request={"Licentie": OTHER_LICENCE,
                                                            "CodeLeerbedrijf": c["leerbedrijfId"]}), dict)
    assert details["Signaalcode"] == 999
    requests.delete(f"{sim.url}/admin/scenario", timeout=10)
    bad = requests.post(adapter.wl1_url, data=b"<not-xml", headers={"Content-Type": "text/xml"}, timeout=10)
    assert bad.status_code == 500

    # a withdrawal for ROC Test (it subscribed by verifying), stored and not fetched
    wait_until(lambda: any(s["schoolOin"] == SCHOOL_OIN for s in requests.get(
        f"{sim.url}/admin/abonnementen", timeout=10).json()["abonnementen"]), "the subscription")
    withdrawal = {"soort": "ERKENNING_INGETROKKEN", "leerbedrijfId": c["leerbedrijfId"], "crebonummer": e["crebonummer"]}
    requests.post(f"{sim.url}/admin/events", json=withdrawal, timeout=10).raise_for_status()
    listing = lambda: adapter.cli("mutations", "list", "--school", "ROC Test").stdout  # noqa: E731
    wait_until(lambda: "ERKENNING_INGETROKKEN" in listing(), "the withdrawal stored")

    log = tmp_path / "adapter.log"
    log.write_text(adapter.output(), encoding="utf-8")
    out = tmp_path / "chain.html"
    result = subprocess.run([sys.executable, "-m", "adapter", "report", "--config", str(adapter.config), "--audit",
                             str(log), "--since", "2000-01-01", "--out", str(out)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert LICENCE not in page and OTHER_LICENCE not in page and "no-such-licence" not in page
    assert not re.search(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', page)
    dom = html.fromstring(page)

    def row(school, op):
        (tr,) = dom.xpath(f'//table[@id="calls"]/tbody/tr[@data-school="{school}" and @data-operation="{op}"]')
        return [td.text_content().strip() for td in tr.xpath("td")]

    test_verify = row("ROC Test", "VerifieerAccreditatie")
    assert test_verify[2:4] == ["4", "0: 3, 3: 1"] and test_verify[4:6] == ["0.0", "0.0"]
    assert float(test_verify[6]) > 0 and float(test_verify[8]) >= float(test_verify[6])
    other_details = row("ROC Ander", "GeefDetails")
    assert other_details[2:6] == ["2", "998: 1, 999: 1", "50.0", "50.0"]
    unknown = row("(no school: unknown licence or unreadable call)", "VerifieerAccreditatie")
    assert unknown[2:4] == ["1", "996: 1"]
    fault = row("(no school: unknown licence or unreadable call)", "(no operation)")
    assert fault[2:5] == ["1", "fault: 1", "100.0"]
    assert dom.xpath('string(//*[@id="total"])') == "8"

    (mut,) = dom.xpath('//table[@id="mutations"]/tbody/tr[@data-school="ROC Test"]')
    assert [mut.xpath(f'string(td[contains(@class, "{k}")])') for k in ("received", "delivered", "waiting")] == \
        ["1", "0", "1"]
    for chart in ("calls", "signaalcodes", "rates", "latency", "mutations", "delay"):  # a chart per figure
        assert dom.xpath(f'//*[@id="chart-{chart}"]//*[local-name()="svg"]'), chart
    assert "8 call(s), 1 mutation(s)" in result.stdout

    # fetched: the report counts it delivered, with its delay
    service.GeefMutaties(request={"Licentie": LICENCE, "VanafVolgnummer": 1})
    subprocess.run([sys.executable, "-m", "adapter", "report", "--config", str(adapter.config), "--audit", str(log),
                    "--out", str(out)], cwd=ROOT, check=True, capture_output=True, timeout=120)
    (mut,) = html.fromstring(out.read_text()).xpath('//table[@id="mutations"]/tbody/tr[@data-school="ROC Test"]')
    assert [mut.xpath(f'string(td[contains(@class, "{k}")])') for k in ("received", "delivered", "waiting")] == \
        ["1", "1", "0"]


def _exposed_metrics(adapter) -> set[str]:
    """Metric family names on the adapter's /metrics (histograms by their family name)."""
    text = requests.get(f"{adapter.url}/metrics", timeout=10).text
    names = set(re.findall(r"^# TYPE (\w+) ", text, re.M))
    return names | {n + "_total" for n in names}  # prometheus_client's TYPE line omits _total of counters


def test_grafana_dashboard_queries_existing_metrics(adapter):
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exposed = _exposed_metrics(adapter)
    panels = dashboard["panels"]
    assert len(panels) >= 9
    used = set()
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = set(re.findall(r"\bwl_adapter_\w+", target["expr"]))
            assert names, (panel["title"], target["expr"])
            for name in names:
                family = re.sub(r"_(bucket|count|sum)$", "", name)
                assert name in exposed or family in exposed, (panel["title"], name)
            used |= names
    # the report's figures are all there
    for wanted in ("wl_adapter_calls_total", "wl_adapter_leg_seconds_bucket", "wl_adapter_mutations_received_total",
                   "wl_adapter_mutations_undelivered", "wl_adapter_mutations_undelivered_oldest_age_seconds",
                   "wl_adapter_faults_total"):
        assert wanted in used, wanted
    assert load_config(adapter.config).tenants  # the adapter the metrics came from
    assert Path(DASHBOARD).stat().st_size > 0
