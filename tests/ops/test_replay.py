"""Record and replay: an adapter records whole requests (licence removed, old recordings purged), ``wl-adapter
replay`` sends them again with licences from the tester's file; an unchanged adapter gives an empty diff, a
withdrawal posted to the simulator between record and replay is reported, and --compare-with reports the
differences between two endpoints."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
import requests

from tests.support.mutations import CompanyPool, fire, sim_companies
from tests.support.servers import (
    LICENCE,
    OTHER_LICENCE,
    ROOT,
    TODAY,
    Server,
    free_port,
    start_simulator_process,
    write_config,
)
from tests.support.soap import wl1_client

COUNT = 60
YESTERDAY = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()


def recording_adapter(workdir, upstream_url: str) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = write_config(workdir / "adapter.toml", upstream_url, f"sqlite:///{workdir / 'adapter.sqlite'}", port)
    text = config.read_text().replace("[audit]\n", f'[audit]\nrecord_requests = true\nrecord_dir = '
                                                   f'"{workdir / "rec"}"\nrecord_retention_days = 3\n', 1)
    config.write_text(text)
    (workdir / "rec").mkdir()
    (workdir / "rec" / "requests-2020-01-01.jsonl").write_text("{}\n")  # far past the retention
    (workdir / "rec" / f"requests-{YESTERDAY}.jsonl").write_text("")  # within it
    server = Server(["serve", "--config", str(config)], port, "/healthz", log=workdir / "adapter.log")
    server.rec = workdir / "rec"
    return server


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("replay")
    started = []
    try:
        for name in ("a", "b"):  # b: an untouched twin, for --compare-with
            sim = start_simulator_process(workdir / f"sim-{name}.log", count=COUNT)
            started.append(sim)
            adapter = recording_adapter(workdir / f"adapter-{name}", f"{sim.url}/wl2")
            started.append(adapter)
        licences = workdir / "licences.toml"
        licences.write_text(f'"ROC Test" = "{LICENCE}"\n"ROC Ander" = "{OTHER_LICENCE}"\n')
        yield started[0], started[1], started[3], licences, workdir
    finally:
        for server in reversed(started):
            server.stop()


def replay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "adapter", "replay", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def report(directory) -> dict:
    return json.loads((directory / "replay-report.json").read_text())


def test_record_then_replay_unchanged_then_a_withdrawal_is_reported(rig):
    sim, adapter, twin, licences, workdir = rig
    company, (crebo, *_) = CompanyPool(sim_companies(sim, COUNT)).take()
    lb = company["leerbedrijfId"]
    wl1 = wl1_client(adapter).service
    verified = wl1.VerifieerAccreditatie(request={"Licentie": LICENCE, "CodeLeerbedrijf": lb,
                                                  "Crebonummer": int(crebo), "Peildatum": TODAY})
    assert verified.Signaalcode == 0
    assert wl1.GeefDetails(request={"Licentie": OTHER_LICENCE, "CodeLeerbedrijf": lb}).Signaalcode == 0
    assert wl1.Zoeken(request={"Licentie": LICENCE, "AantalResultatenPerPagina": 5, "Pagina": 1,
                               "LeerplaatsErkenningAanduiding": "E", "CodeLeerbedrijf": lb}).Signaalcode == 0
    assert wl1.GeefDetails(request={"Licentie": "geen-bekende-licentie", "CodeLeerbedrijf": lb}).Signaalcode == 996
    bad = requests.post(f"{adapter.url}/wl1", timeout=10, headers={"Content-Type": "text/xml; charset=utf-8"},
                        data=(f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
                              f'<GeefDetails xmlns="urn:sbb:whitelabel:1.0"><request><Licentie>{LICENCE}</Licentie>'
                              "<CodeLeerbedrijf>1</CodeLeerbedrijf><Onbekend/></request></GeefDetails></s:Body>"
                              "</s:Envelope>").encode())
    assert bad.status_code == 500

    # recorded whole, without any licence; the recording past its retention is gone
    files = sorted(p.name for p in adapter.rec.iterdir())
    assert "requests-2020-01-01.jsonl" not in files and f"requests-{YESTERDAY}.jsonl" in files
    recorded = "".join(p.read_text() for p in adapter.rec.iterdir())
    assert LICENCE not in recorded and OTHER_LICENCE not in recorded and "geen-bekende-licentie" not in recorded
    lines = [json.loads(line) for line in recorded.splitlines() if line.strip() not in ("", "{}")]
    assert len(lines) == 5 and all("Licentie></" in rec["request"] for rec in lines)
    assert {rec["tenant"] for rec in lines} == {"ROC Test", "ROC Ander", None}

    unchanged = replay(str(adapter.rec), "--target", adapter.url, "--licences", str(licences),
                       "--report", str(workdir / "r1"))
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "5 replayed: 0 changed, 5 unchanged" in unchanged.stdout
    assert report(workdir / "r1")["differences"] == []
    assert (workdir / "r1" / "replay-report.html").exists()

    fire(sim, soort="ERKENNING_INGETROKKEN", leerbedrijfId=lb, crebonummer=crebo, ingangsdatum="2026-01-01",
         toelichting="Bedrijf gestopt")
    changed = replay(str(adapter.rec), "--target", adapter.url, "--licences", str(licences),
                     "--report", str(workdir / "r2"), "--operation", "VerifieerAccreditatie")
    assert changed.returncode == 1, changed.stdout + changed.stderr
    [difference] = report(workdir / "r2")["differences"]
    assert difference["result"] == "changed" and difference["operation"] == "VerifieerAccreditatie"
    assert difference["correlation_id"] == lines[0]["correlation_id"]
    assert any(line.startswith("-") and "Signaalcode: 0" in line for line in difference["diff"])
    html = (workdir / "r2" / "replay-report.html").read_text()
    assert difference["correlation_id"] in html and "1 changed" in html and LICENCE not in html

    # the twin behind an untouched simulator: the same requests answer differently there
    compared = replay(str(adapter.rec), "--target", adapter.url, "--compare-with", twin.url, "--licences",
                      str(licences), "--report", str(workdir / "r3"))
    assert compared.returncode == 1, compared.stdout + compared.stderr
    differences = report(workdir / "r3")["differences"]
    assert {d["operation"] for d in differences if d["result"] == "changed"} >= {"VerifieerAccreditatie"}
    assert all(d["before"]["label"] == twin.url and d["after"]["label"] == adapter.url for d in differences)
    assert "GeefDetails" not in {d["operation"] for d in differences}  # details show no recognition status change


def test_a_school_without_a_licence_in_the_file_is_skipped_and_bad_input_is_named(rig, tmp_path):
    _, adapter, _, _, workdir = rig
    only_one = tmp_path / "licences.toml"
    only_one.write_text(f'[licences]\n"ROC Test" = "{LICENCE}"\n')
    run = replay(str(adapter.rec), "--target", adapter.url, "--licences", str(only_one), "--report",
                 str(tmp_path / "r"), "--operation", "GeefDetails")
    assert "skipped" in run.stdout and "no licence for school 'ROC Ander'" in run.stdout, run.stdout
    assert replay(str(tmp_path / "nothing"), "--target", adapter.url, "--licences", str(only_one)).returncode == 2
    (tmp_path / "bad.toml").write_text('"ROC Test" = 5\n')
    bad = replay(str(adapter.rec), "--target", adapter.url, "--licences", str(tmp_path / "bad.toml"))
    assert bad.returncode == 2 and "ROC Test: expected a licence string" in bad.stderr


def test_normalising_ignores_what_is_meant_to_vary():
    from adapter.ops.replay import Answer, compare

    a = ('<Envelope><Body><R><BerichtID>5d6c2f7e-0000-4000-8000-000000000001</BerichtID><VoordrachtId>17'
         '</VoordrachtId><Peildatum>2026-11-29</Peildatum><Code>0</Code></R></Body></Envelope>')
    b = ('<s:Envelope xmlns:s="x"><s:Body><R><BerichtID>aaaaaaaa-0000-4000-8000-000000000002</BerichtID>'
         '<VoordrachtId>18</VoordrachtId><Peildatum>2026-12-01</Peildatum><Code>0</Code></R></s:Body></s:Envelope>')
    assert compare(Answer(200, a, "2026-11-29"), Answer(200, b, "2026-12-01")) == []
    assert compare(Answer(200, a, "2026-11-29"), Answer(200, b.replace("<Code>0", "<Code>1"), "2026-12-01"))
    assert compare(Answer(200, a, "2026-11-29"), Answer(500, a, "2026-11-29"))


def test_an_answer_recorded_with_tns_prefixes_is_the_same_as_one_without():
    """Answers were written with spyne's ``tns:`` prefixes until the fourteenth round of issue 10, now as ASMX wrote
    them (the namespace declared as the default one): a replay of older recordings reports no difference."""
    from adapter.ops.replay import Answer, compare

    ns, soap = "urn:sbb:whitelabel:1.0", "http://schemas.xmlsoap.org/soap/envelope/"
    before = (f'<soap:Envelope xmlns:tns="{ns}" xmlns:soap="{soap}"><soap:Body><tns:ZoekenResponse><tns:ZoekenResult>'
              "<tns:Signaalcode>0</tns:Signaalcode><tns:AantalResultatenTotaal>3</tns:AantalResultatenTotaal>"
              "</tns:ZoekenResult></tns:ZoekenResponse></soap:Body></soap:Envelope>")
    after = (f'<soap:Envelope xmlns:soap="{soap}"><soap:Body><ZoekenResponse xmlns="{ns}"><ZoekenResult>'
             "<Signaalcode>0</Signaalcode><AantalResultatenTotaal>3</AantalResultatenTotaal>"
             "</ZoekenResult></ZoekenResponse></soap:Body></soap:Envelope>")
    assert compare(Answer(200, before, "2026-12-01"), Answer(200, after, "2026-12-01")) == []
    assert compare(Answer(200, before, "2026-12-01"), Answer(200, after.replace(">3<", ">4<"), "2026-12-01"))
