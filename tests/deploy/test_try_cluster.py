"""deploy/try-cluster.sh as a tester runs it: PostgreSQL, the simulator, two adapter instances and nginx
(deploy/nginx/wl-adapter.conf) on loopback, with test certificates.

Through nginx only, as schools and SBB reach production: WL 1.0 calls over TLS, and pushes over mutual TLS — the
simulator's own (it is subscribed to push to nginx's push server) and pushes this module makes with certificates
it issues itself. One instance is killed with SIGKILL in the middle: every call must still be answered (with a
result, or 998), none may hang or get nginx's error page, calls succeed again within 2 s, and every push is
served exactly once by GeefMutaties, whichever instance stored it. At the end, ``--stop`` must stop what the
script started and nothing else.

The script installs nginx (Debian's package) when it is missing; where it cannot (not root, no apt-get) this
module is skipped, saying so.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import zeep
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from zeep.helpers import serialize_object

from adapter.soap import dn
from tests.support import tls
from tests.support.mutations import PushAnswer, push_body, wait_until
from tests.support.servers import ROOT
from tests.support.soap import push_envelope

SCRIPT = ROOT / "deploy" / "try-cluster.sh"
TODAY = "2026-11-29"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WL1_NS = "urn:sbb:whitelabel:1.0"
WL2_NS = "urn:sbb:whitelabel:2.0"
LOAD_S = 6.0  # calls and pushes for this long; one instance is killed after KILL_AFTER_S
KILL_AFTER_S = 2.0
CALLERS = 4


def run_script(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args, "--python", sys.executable], capture_output=True, text=True,
                          timeout=timeout)


def pid_of(state: Path, name: str) -> int:
    return int((state / "pids" / f"{name}.pid").read_text().split()[0])


def alive(pid: int) -> bool:
    """Running (a zombie, killed but not yet reaped by its parent, is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("try-cluster")
    result = run_script("--state-dir", str(state), "--today", TODAY)
    if result.returncode == 3:
        pytest.skip(f"nginx is not installed and cannot be installed here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stdout + result.stderr
    env = dict(line.split("=", 1) for line in (state / "cluster.env").read_text().splitlines())
    pids = {name: pid_of(state, name) for name in ("nginx", "simulator", "adapter-1", "adapter-2")}
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)  # not the script's: must survive --stop
    try:
        yield SimpleNamespace(state=state, output=result.stdout, env=env, pids=pids,
                              base=env["WL1_URL"].removesuffix("/wl1"), ports=env["ADAPTER_PORTS"].split(","))
        stopped = run_script("--stop", "--state-dir", str(state), timeout=120)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not [name for name, pid in pids.items() if alive(pid)], stopped.stdout
        assert bystander.poll() is None, "--stop stopped a process it had not started"
        assert subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0, \
            "--stop stopped PostgreSQL, which was running before"
        assert not list((state / "pids").glob("*.pid")), list((state / "pids").iterdir())
    finally:
        bystander.kill()
        bystander.wait()
        run_script("--stop", "--state-dir", str(state), timeout=120)


@pytest.fixture(scope="module")
def pki(cluster, tmp_path_factory):
    """Client certificates made here: SBB's subject from SBB's CA (the try-cluster's), another subject from SBB's
    CA, and SBB's very subject from a CA nginx does not trust."""
    d = tmp_path_factory.mktemp("try-cluster-pki")
    tls_dir = cluster.state / "tls"
    ca_cert = x509.load_pem_x509_certificate((tls_dir / "sbb-ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((tls_dir / "sbb-ca.key").read_bytes(), password=None)
    sbb_ca = tls.Issued(ca_cert, ca_key, str(tls_dir / "sbb-ca.pem"), str(tls_dir / "sbb-ca.key"))
    subject = dn.parse((tls_dir / "sbb-subject.txt").read_text().strip())
    return SimpleNamespace(
        sbb=tls.issue(d / "sbb", subject, sbb_ca),
        other_subject=tls.issue(d / "other", tls.name(C="NL", O="Elders BV", CN="not SBB"), sbb_ca),
        other_ca=tls.issue(d / "forged", subject, tls.ca(d / "other-ca", "Not SBB's CA")),
        subject=dn.text(subject),
    )


# -- the WL 1.0 and push clients, through nginx -------------------------------------------------------------------

def geef_details(cluster, code: str, timeout: float = 15) -> tuple[int, int | None, str]:
    """(HTTP status, Signaalcode or None, body) of a GeefDetails through nginx."""
    body = (f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:w="{WL1_NS}"><soap:Body><w:GeefDetails><w:request>'
            f"<w:Licentie>{cluster.env['LICENCE']}</w:Licentie><w:CodeLeerbedrijf>{code}</w:CodeLeerbedrijf>"
            "</w:request></w:GeefDetails></soap:Body></soap:Envelope>")
    r = requests.post(cluster.env["WL1_URL"], data=body.encode(), timeout=timeout, verify=cluster.env["CA"],
                      headers={"Content-Type": "text/xml; charset=utf-8"})
    code_text = None
    if r.headers.get("Content-Type", "").startswith("text/xml"):
        code_text = etree.fromstring(r.content).findtext(f".//{{{WL1_NS}}}Signaalcode")
    return r.status_code, int(code_text) if code_text else None, r.text[:300]


def wl1_client(cluster) -> zeep.Client:
    session = requests.Session()
    session.verify = cluster.env["CA"]
    session.trust_env = False  # else REQUESTS_CA_BUNDLE, when set, replaces the test CA
    return zeep.Client(f"{cluster.env['WL1_URL']}?wsdl", transport=zeep.Transport(session=session, timeout=15))


def feed(cluster) -> list[dict]:
    """The school's whole GeefMutaties feed, walked by cursor as a legacy client does."""
    service, seen, vanaf = wl1_client(cluster).service, [], 0
    while True:
        result = serialize_object(service.GeefMutaties(request={
            "Licentie": cluster.env["LICENCE"], "VanafVolgnummer": vanaf, "MaximumAantal": 500}), dict)
        assert result["Signaalcode"] == 0, result
        batch = (result.get("Mutaties") or {}).get("Mutatie") or []
        if not batch:
            return seen
        seen += batch
        vanaf = batch[-1]["Volgnummer"]


def push(cluster, cert: tls.Issued | None, toelichting: str, leerbedrijf_id: str = "100001",
         headers: dict | None = None) -> requests.Response:
    """A MutatieLeerbedrijf to nginx's push server, as SBB sends it, with this client certificate (or none)."""
    data, _ = push_envelope(cluster.env["PUSH_URL"], cluster.env["SCHOOL_OIN"],
                            push_body(leerbedrijf_id=leerbedrijf_id, toelichting=toelichting,
                                      mutatie_id=str(uuid.uuid4())))
    return requests.post(cluster.env["PUSH_URL"], data=data, timeout=15, verify=cluster.env["CA"],
                         cert=cert.pair if cert else None, headers={
                             "Content-Type": "text/xml; charset=utf-8", **(headers or {}),
                             "SOAPAction": f'"{WL2_NS}/MutatieLeerbedrijf"'})


def signaalcode(response: requests.Response) -> int:
    return PushAnswer(response.status_code, etree.fromstring(response.content)).signaalcode


def admin(cluster, path: str, method: str = "GET", **kwargs):
    r = requests.request(method, f"{cluster.env['SIM_URL']}/admin/{path}", timeout=15,
                         verify=cluster.env["SBB_CA"], **kwargs)
    assert r.status_code == 200, r.text
    return r.json()


# -- the tests ------------------------------------------------------------------------------------------------------

def test_it_prints_the_urls_the_licence_and_each_instances_port(cluster):
    out = cluster.output
    for text in (f"{cluster.env['WL1_URL']}?wsdl", f"{cluster.env['SIM_URL']}/wl2", cluster.env["LICENCE"],
                 cluster.env["PUSH_URL"], *(f"port {p} " for p in cluster.ports)):
        assert text in out, text
    assert geef_details(cluster, "100001")[:2] == (200, 0)
    wsdl = requests.get(f"{cluster.env['WL1_URL']}?wsdl", verify=cluster.env["CA"], timeout=10).text
    assert f'location="{cluster.env["WL1_URL"]}"' in wsdl  # the address the school used, https through nginx


def test_nginx_accepts_the_configuration(cluster):
    state = cluster.state
    result = subprocess.run([cluster.env["NGINX"], "-t", "-p", str(state / "nginx"), "-e",
                             str(state / "logs" / "nginx-error.log"), "-c", cluster.env["NGINX_CONF"]],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "test is successful" in result.stderr, result.stderr
    rendered = (state / "nginx" / "wl-adapter.conf").read_text()
    assert "ssl_verify_client on;" in rendered and "least_conn;" in rendered
    assert all(f"server 127.0.0.1:{p} " in rendered for p in cluster.ports)


def test_a_push_without_sbbs_certificate_is_refused(cluster, pki):
    refused = {
        "no certificate": push(cluster, None, "refused: no certificate"),
        "another CA": push(cluster, pki.other_ca, "refused: another CA"),
        "another subject": push(cluster, pki.other_subject, "refused: another subject"),
        # the subject header a client sends is replaced by nginx with its verified certificate's
        "another subject, SBB's in the header": push(cluster, pki.other_subject, "refused: spoofed header",
                                                     headers={"X-SSL-Client-S-DN": pki.subject}),
    }
    for case in ("no certificate", "another CA"):  # nginx: no verified certificate, no request
        assert refused[case].status_code == 400 and "certificate" in refused[case].text, (case, refused[case].text)
    for case in ("another subject", "another subject, SBB's in the header"):  # the adapter: not sbb_subject
        r = refused[case]
        assert r.status_code == 403 and "is not pushes.sbb_subject" in r.text, (case, r.text)
    # the schools' port has no push route at all
    r = requests.post(f"{cluster.base}/wl2/mutaties", data=b"<x/>", verify=cluster.env["CA"], timeout=10)
    assert r.status_code == 404

    accepted = push(cluster, pki.sbb, "accepted: SBB's certificate")  # the same push with SBB's certificate
    assert accepted.status_code == 200 and signaalcode(accepted) == 0, accepted.text
    served = [m["Omschrijving"] for m in feed(cluster)]
    assert "accepted: SBB's certificate" in served
    assert not [t for t in served if t and t.startswith("refused:")], served


def test_an_instance_killed_mid_way_loses_no_call_and_no_push(cluster, pki):
    env = cluster.env
    companies = [c for c in admin(cluster, "leerbedrijven?offset=0&limit=300")["leerbedrijven"]
                 if any(e["status"] == "ERKEND" for e in c["erkenningen"])][:8]
    # the simulator pushes through nginx once the school is subscribed: a recognised VerifieerAccreditatie does it
    service = wl1_client(cluster).service
    subscribed = []
    for c in companies[:3]:
        crebo = next(e["crebonummer"] for e in c["erkenningen"] if e["status"] == "ERKEND")
        answer = service.VerifieerAccreditatie(request={"Licentie": env["LICENCE"], "CodeLeerbedrijf":
                                                        c["leerbedrijfId"], "Crebonummer": int(crebo),
                                                        "Peildatum": TODAY})
        assert answer.Signaalcode == 0
        subscribed.append((c["leerbedrijfId"], crebo))
    wait_until(lambda: len([s for s in admin(cluster, "abonnementen")["abonnementen"]
                            if s["schoolOin"] == env["SCHOOL_OIN"]]) >= len(subscribed),
               what="the school's subscriptions at the simulator")

    calls: list[tuple[float, float, object]] = []  # (started, ended, (HTTP status, signaalcode) or the exception)
    direct: list[tuple[str, object]] = []  # pushes made here: (toelichting, (status, signaalcode) or exception)
    events: list[tuple[str, int]] = []  # the simulator's events: (toelichting, pushes queued)
    stop = threading.Event()
    started = time.monotonic()

    def caller(n: int) -> None:
        i = n
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                status, code, _ = geef_details(cluster, companies[i % len(companies)]["leerbedrijfId"], timeout=10)
                outcome: object = (status, code)
            except requests.RequestException as exc:
                outcome = exc
            calls.append((t0 - started, time.monotonic() - started, outcome))
            i += CALLERS

    def pusher() -> None:
        i = 0
        while not stop.is_set():
            toelichting = f"direct push {i}"
            try:
                r = push(cluster, pki.sbb, toelichting)
                direct.append((toelichting, (r.status_code, signaalcode(r) if r.status_code == 200 else None)))
            except (requests.RequestException, etree.XMLSyntaxError) as exc:
                direct.append((toelichting, exc))
            i += 1
            time.sleep(0.1)

    def simulator_events() -> None:
        i = 0
        while not stop.is_set():
            leerbedrijf_id, crebo = subscribed[i % len(subscribed)]
            toelichting = f"simulator event {i}"
            queued = admin(cluster, "events", "POST", json={"soort": "ERKENNING_GEWIJZIGD", "crebonummer": crebo,
                                                          "leerbedrijfId": leerbedrijf_id,
                                                          "toelichting": toelichting})["mutaties"]
            events.append((toelichting, len(queued)))  # one push each: the school's one subscription
            i += 1
            time.sleep(0.2)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(CALLERS)]
    threads += [threading.Thread(target=pusher), threading.Thread(target=simulator_events)]
    for t in threads:
        t.start()
    time.sleep(KILL_AFTER_S)
    os.killpg(cluster.pids["adapter-1"], signal.SIGKILL)  # the instance and its workers, as a crash would
    killed_at = time.monotonic() - started
    time.sleep(LOAD_S - KILL_AFTER_S)
    stop.set()
    for t in threads:
        t.join(30)
    assert not alive(cluster.pids["adapter-1"]) and alive(cluster.pids["adapter-2"])

    # every call answered in time, with a result or 998; never an error page
    bad = [c for c in calls if c[2] not in ((200, 0), (200, 998))]
    assert not bad, bad[:5]
    assert len([c for c in calls if c[0] > killed_at]) >= CALLERS, "the callers stopped after the kill"
    after = [c for c in calls if c[1] > killed_at]
    first_ok = min(c[1] for c in after if c[2] == (200, 0))
    assert first_ok - killed_at < 2.0, f"no call succeeded within 2 s of the kill ({first_ok - killed_at:.2f} s)"
    assert all(c[2] == (200, 0) for c in calls if c[0] > killed_at + 2.0)

    # every push acknowledged (the simulator's too, through nginx with mutual TLS) ...
    assert direct and all(outcome == (200, 0) for _, outcome in direct), [d for d in direct if d[1] != (200, 0)]
    assert events and all(queued == 1 for _, queued in events), events
    pushed = {toelichting for toelichting, _ in events}
    wait_until(lambda: [p["state"] for p in admin(cluster, "pushes")["pushes"] if p["toelichting"] in pushed]
               == ["acknowledged"] * len(pushed), timeout=30, what="the simulator's pushes acknowledged")
    # ... and served once by GeefMutaties, through whichever instance is left, in one gap-free sequence
    served = feed(cluster)
    assert [m["Volgnummer"] for m in served] == list(range(1, len(served) + 1))
    texts = [m["Omschrijving"] for m in served]
    for toelichting in [d[0] for d in direct] + sorted(pushed):
        assert texts.count(toelichting) == 1, (toelichting, texts.count(toelichting))

    # both instances served calls before the kill: nginx spread them (its access log names the instance)
    access = (cluster.state / "logs" / "nginx-access.log").read_text()
    assert all(f"upstream=127.0.0.1:{p}" in access for p in cluster.ports)
