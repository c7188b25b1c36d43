"""Operating the adapter: validation policy per leg and operation, the audit trail (correlation, masking), metrics,
health and readiness, the per-school rate limit, and configuration errors at start."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid

import pytest
import requests
from lxml import etree

from adapter.tenants import licence_hash
from tests.support.servers import LICENCE, OTHER_LICENCE, ROOT, SCHOOL_OIN, free_port, start_simulator_process
from tests.support.soap import SOAP_NS, WL1_NS, post, wl1_request

LONG_NAME = "Bakkerij " + "x" * 200  # Bedrijfsnaam is 1..200 in the WL 1.0 XSD: this is 209


def signaalcode(r: requests.Response) -> int:
    assert r.status_code == 200, r.text[:500]
    return int(etree.fromstring(r.content).findtext(f".//{{{WL1_NS}}}Signaalcode"))


def fault(r: requests.Response) -> tuple[str, str]:
    assert r.status_code == 500, r.text[:500]
    f = etree.fromstring(r.content).find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault")
    assert f is not None, r.text[:500]
    return f.findtext("faultcode"), f.findtext("faultstring")


def details(adapter_url: str, code: str, licence: str = LICENCE, extra: str = "", headers=None) -> requests.Response:
    request = wl1_request("GeefDetails", f"<w:CodeLeerbedrijf>{code}</w:CodeLeerbedrijf>{extra}", licence)
    return post(f"{adapter_url}/wl1", request, headers, timeout=15)


def bedrijfsgegevens(adapter_url: str, name: str, postcode: str, licence: str = LICENCE) -> requests.Response:
    request = wl1_request("GeefBedrijfsgegevens", f"<w:Bedrijfsnaam>{name}</w:Bedrijfsnaam>"
                                                  f"<w:Postcode>{postcode}</w:Postcode>", licence)
    return post(f"{adapter_url}/wl1", request, timeout=15)


def zoeken(adapter_url: str, extra: str = "", licence: str = LICENCE) -> requests.Response:
    return post(f"{adapter_url}/wl1", wl1_request(
        "Zoeken", "<w:AantalResultatenPerPagina>5</w:AantalResultatenPerPagina><w:Pagina>1</w:Pagina>"
                  "<w:LeerplaatsErkenningAanduiding>E</w:LeerplaatsErkenningAanduiding>"
                  f"<w:LeerbedrijfNaam>a</w:LeerbedrijfNaam>{extra}", licence), timeout=15)


def metrics(adapter_url: str) -> str:
    r = requests.get(f"{adapter_url}/metrics", timeout=5)
    assert r.status_code == 200
    return r.text


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample (labels matched exactly, in any order), 0 when absent."""
    for line in text.splitlines():
        m = re.match(r"^(\w+)\{(.*)\} (\S+)$", line)
        if m and m.group(1) == name and dict(re.findall(r'(\w+)="([^"]*)"', m.group(2))) == labels:
            return float(m.group(3))
    return 0.0


def record_for(adapter, correlation_id: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in adapter.audit_records() if r["correlation_id"] == correlation_id]
        if found or time.monotonic() > deadline:
            assert len(found) == 1, f"{len(found)} audit records for {correlation_id}"
            return found[0]
        time.sleep(0.05)


# -- validation policy ------------------------------------------------------------------------------------------------

POLICY = """
[validation]
wl1_request = "report"

[validation.operations.Zoeken]
wl1_request = "off"

[validation.operations.GeefDetails]
wl1_request = "enforce"
"""


@pytest.fixture(scope="module")
def company(companies):
    return next(c for c in companies if c["vestigingsadres"]["land"] == "NL")


def test_validation_enforce_is_the_default(adapter, company):
    code, string = fault(bedrijfsgegevens(adapter.url, LONG_NAME, company["vestigingsadres"]["postcode"]))
    assert code == "soap:Client"
    assert "Bedrijfsnaam" in string


def test_validation_policy_report_off_and_per_operation(simulator, start_adapter, company):
    adapter = start_adapter(f"{simulator.url}/wl2", extra=POLICY)
    before = metrics(adapter.url)

    # report (the default here): passed on, answered with a signaalcode, logged and counted
    r = bedrijfsgegevens(adapter.url, LONG_NAME, company["vestigingsadres"]["postcode"])
    assert signaalcode(r) == 1  # translated and asked upstream: no such company
    record = record_for(adapter, r.headers["X-Correlation-ID"])
    assert record["wl1_request_valid"] is False
    assert any("Bedrijfsnaam" in p for p in record["wl1_request_problems"])
    assert record["wl2"] and record["wl2"][0]["operation"] == "IdentificeerLeerbedrijf"
    labels = {"leg": "wl1_request", "operation": "GeefBedrijfsgegevens", "mode": "report"}
    after = metrics(adapter.url)
    assert sample(after, "wl_adapter_validation_failures_total", **labels) \
        == sample(before, "wl_adapter_validation_failures_total", **labels) + 1

    # off for Zoeken: an unknown extra element is not even looked at
    r = zoeken(adapter.url, extra="<w:Onbekend>x</w:Onbekend>")
    assert signaalcode(r) in (0, 1)
    assert record_for(adapter, r.headers["X-Correlation-ID"])["wl1_request_valid"] is True
    assert not re.search(r'wl_adapter_validation_failures_total\{[^}]*operation="Zoeken"', metrics(adapter.url))

    # enforce for GeefDetails: the same kind of mistake is a fault
    code, string = fault(details(adapter.url, company["leerbedrijfId"], extra="<w:Onbekend>x</w:Onbekend>"))
    assert code == "soap:Client"
    assert "Onbekend" in string
    assert sample(metrics(adapter.url), "wl_adapter_validation_failures_total",
                  leg="wl1_request", operation="GeefDetails", mode="enforce") == 1
    # and a valid call still works under every mode
    assert signaalcode(details(adapter.url, company["leerbedrijfId"])) == 0


def test_validation_off_everywhere(simulator, start_adapter, company):
    adapter = start_adapter(f"{simulator.url}/wl2", extra='\n[validation]\nwl1_request = "off"\n')
    r = bedrijfsgegevens(adapter.url, LONG_NAME, company["vestigingsadres"]["postcode"])
    assert signaalcode(r) == 1
    assert record_for(adapter, r.headers["X-Correlation-ID"])["wl1_request_problems"] == []
    assert "wl_adapter_validation_failures_total{" not in metrics(adapter.url)


# -- audit ------------------------------------------------------------------------------------------------------------

def test_audit_record_links_the_four_messages(adapter, simulator, company):
    correlation_id = f"school-{uuid.uuid4().hex[:12]}"
    r = details(adapter.url, company["leerbedrijfId"], headers={"X-Correlation-ID": correlation_id})
    assert signaalcode(r) == 0
    assert r.headers["X-Correlation-ID"] == correlation_id
    rec = record_for(adapter, correlation_id)
    assert rec["type"] == "wl1_call"
    assert rec["operation"] == "GeefDetails"
    assert rec["tenant"] == "ROC Test" and rec["tenant_oin"] == SCHOOL_OIN
    assert rec["signaalcode"] == 0 and rec["http_status"] == 200 and rec["path"] == "/wl1"
    assert rec["total_ms"] > 0
    [wl2] = rec["wl2"]
    assert wl2["operation"] == "OpvragenDetailgegevensLeerbedrijf"
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", wl2["message_id"])
    assert 0 < wl2["elapsed_ms"] <= rec["total_ms"]
    messages = rec["messages"]
    assert messages["wl1_request"].count("GeefDetails") >= 1
    assert wl2["message_id"] in messages["wl2"][0]["request"]  # wsa:MessageID
    assert "RelatesTo" in messages["wl2"][0]["response"] and wl2["message_id"] in messages["wl2"][0]["response"]
    assert "GeefDetailsResponse" in messages["wl1_response"]
    # the WL 2.0 MessageID is the one SBB (the simulator) received
    seen = requests.get(f"{simulator.url}/admin/messages", params={"limit": 200}, timeout=5).json()["messages"]
    assert any(wl2["message_id"] in m["request"] for m in seen)


def test_audit_correlation_id_generated_when_absent_or_insane(adapter, company):
    for offered in (None, "bad id <script>", "x" * 100):
        r = details(adapter.url, company["leerbedrijfId"],
                    headers={"X-Correlation-ID": offered} if offered else None)
        cid = r.headers["X-Correlation-ID"]
        assert cid != offered and re.fullmatch(r"[0-9a-f]{32}", cid)
        assert record_for(adapter, cid)["signaalcode"] == 0


def test_audit_record_of_a_fault_and_of_an_unknown_licence(adapter, company):
    r = details(adapter.url, company["leerbedrijfId"], extra="<w:Onbekend/>")
    rec = record_for(adapter, r.headers["X-Correlation-ID"])
    assert rec["http_status"] == 500 and rec["operation"] == "GeefDetails" and rec["signaalcode"] is None
    r = details(adapter.url, company["leerbedrijfId"], licence="no-such-licence-abc")
    assert signaalcode(r) == 996
    rec = record_for(adapter, r.headers["X-Correlation-ID"])
    assert rec["signaalcode"] == 996 and rec["tenant"] is None and rec["wl2"] == []
    assert "no-such-licence-abc" not in adapter.output()


@pytest.mark.parametrize("licentie", ["", "<w:Licentie></w:Licentie>", "<w:Licentie>" + "k" * 65 + "</w:Licentie>"],
                         ids=["missing", "empty", "too long"])
def test_audit_record_of_a_request_refused_for_its_licence_reports_the_problems(adapter, company, licentie):
    request = wl1_request("GeefDetails", f"{licentie}<w:CodeLeerbedrijf>{company['leerbedrijfId']}</w:CodeLeerbedrijf>",
                          licence=None)
    r = post(f"{adapter.url}/wl1", request, timeout=15)
    code, string = fault(r)
    assert code == "soap:Client" and "Licentie" in string
    rec = record_for(adapter, r.headers["X-Correlation-ID"])
    assert rec["wl1_request_valid"] is False, rec
    assert rec["wl1_request_problems"] and "Licentie" in " ".join(rec["wl1_request_problems"]), rec
    assert string.endswith("; ".join(rec["wl1_request_problems"]))


def _contacts(company: dict) -> list[str]:
    out = [company.get("email"), company.get("telefoonnummer")]
    cp = company.get("contactpersoon") or {}
    out += [cp.get("naam"), cp.get("email"), cp.get("telefoonnummer")]
    return [v for v in out if v]


def test_no_licence_or_personal_data_in_the_log(adapter, companies):
    """Details of companies with contact data go through the adapter (bodies are logged in these tests); then the
    whole log is searched for the licences, e-mail addresses, phone numbers and contact names."""
    chosen = [c for c in companies if c.get("contactpersoon") and c["contactpersoon"].get("email")
              and c.get("telefoonnummer")][:8]
    assert len(chosen) >= 3
    for c in chosen:
        r = details(adapter.url, c["leerbedrijfId"])
        assert signaalcode(r) == 0
        assert c["contactpersoon"]["naam"] in r.text  # the school gets it; the log must not
    assert signaalcode(details(adapter.url, chosen[0]["leerbedrijfId"], licence=OTHER_LICENCE)) == 0
    assert signaalcode(zoeken(adapter.url)) in (0, 1)
    time.sleep(0.2)
    log = adapter.output()
    assert LICENCE not in log and OTHER_LICENCE not in log
    for c in chosen:
        for value in _contacts(c):
            assert value not in log, f"{value!r} ({c['leerbedrijfId']}) is in the adapter's log"


def test_licence_in_cdata_is_not_logged(adapter, company):
    r = details(adapter.url, company["leerbedrijfId"], licence=f"<![CDATA[{LICENCE}]]>")
    assert signaalcode(r) == 0
    time.sleep(0.2)
    assert LICENCE not in adapter.output()


# -- metrics ----------------------------------------------------------------------------------------------------------

def test_metrics_calls_by_operation_school_signaalcode_and_leg_latency(adapter, company):
    before = metrics(adapter.url)
    assert signaalcode(details(adapter.url, company["leerbedrijfId"])) == 0
    assert signaalcode(details(adapter.url, "999999999999", licence=OTHER_LICENCE)) == 3
    after = metrics(adapter.url)
    for labels in ({"operation": "GeefDetails", "school": "ROC Test", "signaalcode": "0", "soap_version": "1.1"},
                   {"operation": "GeefDetails", "school": "ROC Ander", "signaalcode": "3", "soap_version": "1.1"}):
        assert sample(after, "wl_adapter_calls_total", **labels) \
            == sample(before, "wl_adapter_calls_total", **labels) + 1, labels
    for leg, grew in (("wl1", 2), ("wl2", 2)):
        labels = {"leg": leg, "operation": "GeefDetails"}
        assert sample(after, "wl_adapter_leg_seconds_count", **labels) \
            == sample(before, "wl_adapter_leg_seconds_count", **labels) + grew, leg
        assert sample(after, "wl_adapter_leg_seconds_bucket", **labels, le="+Inf") \
            == sample(after, "wl_adapter_leg_seconds_count", **labels)
    for name in ("wl_adapter_breaker_open", "wl_adapter_faults_total", "wl_adapter_upstream_errors_total",
                 "wl_adapter_validation_failures_total", "wl_adapter_rate_limited_total"):
        assert f"# TYPE {name.removesuffix('_total')}" in after, name


# -- health and readiness ---------------------------------------------------------------------------------------------

def test_healthz_and_readyz(adapter):
    r = requests.get(f"{adapter.url}/healthz", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = requests.get(f"{adapter.url}/readyz", timeout=5)
    assert r.status_code == 200
    body = r.json()
    assert body["ready"] is True
    pushes = body["checks"].pop("pushes")
    assert body["checks"] == {"schemas": "ok", "store": "ok", "upstream": "ok", "breaker": "closed"}
    # the test set-up accepts unauthenticated pushes: /readyz warns (without making the adapter unready)
    assert pushes.startswith("warning: pushes.allow_unauthenticated"), pushes


def test_readyz_503_when_the_upstream_is_gone(tmp_path, start_adapter):
    sim = start_simulator_process(tmp_path / "sim.log")
    try:
        adapter = start_adapter(f"{sim.url}/wl2")
        assert requests.get(f"{adapter.url}/readyz", timeout=5).status_code == 200
    finally:
        sim.stop()
    r = requests.get(f"{adapter.url}/readyz", timeout=5)
    assert r.status_code == 503
    body = r.json()
    assert body["ready"] is False
    assert body["checks"]["upstream"].startswith("error")
    assert body["checks"]["store"] == "ok" and body["checks"]["schemas"] == "ok"
    assert requests.get(f"{adapter.url}/healthz", timeout=5).status_code == 200  # alive, just not ready


# -- rate limit -------------------------------------------------------------------------------------------------------

def test_rate_limit_per_school(simulator, start_adapter, company):
    adapter = start_adapter(f"{simulator.url}/wl2", extra="\n[limits]\nrequests_per_second = 2\nburst = 2\n")
    code = company["leerbedrijfId"]
    answers = [details(adapter.url, code) for _ in range(4)]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert signaalcode(answers[0]) == 0 and signaalcode(answers[1]) == 0
    faultcode, string = fault(answers[3])
    assert faultcode == "soap:Server"
    assert "too many requests" in string and "2/s" in string
    # the other school has its own bucket
    assert signaalcode(details(adapter.url, code, licence=OTHER_LICENCE)) == 0
    assert sample(metrics(adapter.url), "wl_adapter_rate_limited_total", school="ROC Test") >= 1
    assert sample(metrics(adapter.url), "wl_adapter_rate_limited_total", school="ROC Ander") == 0
    time.sleep(1.1)  # the bucket refills at 2 per second
    assert signaalcode(details(adapter.url, code)) == 0


# -- configuration errors ---------------------------------------------------------------------------------------------

GOOD_TENANT = f'[[tenants]]\nname = "ROC"\noin = "{SCHOOL_OIN}"\nlicence_sha256 = "{licence_hash("x")}"\n'


@pytest.mark.parametrize("toml, env, key", [
    ('[upstream]\ntimeout_s = "x"\n', {}, "upstream.timeout_s"),
    ("[server]\ncolour = 1\n", {}, "server.colour"),
    ('[[tenants]]\nname = "ROC"\noin = "123"\nlicence_sha256 = "' + "0" * 64 + '"\n', {}, "tenants[0].oin"),
    ('[validation]\nwl1_request = "strict"\n', {}, "validation.wl1_request"),
    ("[servre]\nport = 1\n", {}, "servre"),
    ("", {"WL_ADAPTER_UPSTREAM_TIMEOUT_S": "soon"}, "upstream.timeout_s"),
    ("[limits]\nburst = \n", {}, "not valid TOML"),
])
def test_bad_config_fails_at_start_naming_the_key(tmp_path, toml, env, key):
    config = tmp_path / "bad.toml"
    store = f'[store]\nurl = "sqlite:///{tmp_path / "s.sqlite"}"\n'
    config.write_text(store + f"[server]\nport = {free_port()}\n" + toml.replace("[server]\n", ""))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WL_ADAPTER_")}
    proc = subprocess.run([sys.executable, "-m", "adapter", "serve", "--config", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env={**clean, **env})
    assert proc.returncode != 0
    assert key in proc.stderr, proc.stderr
    assert "configuration error" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_good_minimal_config_is_accepted(tmp_path):
    """The counterpart of the above: the same harness with a valid file loads (so the failures are meaningful)."""
    from adapter.config import load_config

    config = tmp_path / "good.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "s.sqlite"}"\n[upstream]\ntimeout_s = 1.5\n'
                      + GOOD_TENANT)
    loaded = load_config(config, environ={"WL_ADAPTER_UPSTREAM_CONNECT_TIMEOUT_S": "0.5"})
    assert loaded.upstream.timeout_s == 1.5 and loaded.upstream.connect_timeout_s == 0.5
    assert loaded.tenants[0].oin == SCHOOL_OIN
