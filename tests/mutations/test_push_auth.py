"""Pushes must come from SBB: the sender of a push to /wl2/mutaties is authenticated (issue 16).

Real processes on loopback with certificates made here (tests/support/tls.py): a simulator that serves HTTPS with
SBB's certificate and pushes with it as client certificate; adapters with each way of ``[pushes]``: a push
listener of its own with mutual TLS, a verifying reverse proxy in front (the proxy's subject header, sent here from
127.0.0.1 as a trusted proxy would and from 127.0.0.2 as anyone else), and nothing configured. A refused push
must not be stored: each check reads the school's mutations back through GeefMutaties.
"""
from __future__ import annotations

import http.client
import json
import socket
import time
import uuid
from types import SimpleNamespace

import pytest
import requests
from lxml import etree

from adapter.config import load_config
from adapter.errors import ConfigError
from adapter.soap import dn
from tests.support import tls
from tests.support.mutations import (
    CompanyPool,
    PushAnswer,
    School,
    assert_acknowledgement,
    fire,
    push_body,
    read_all,
    schools_config,
    sim_companies,
    subscribe,
    wait_acknowledged,
    wait_until,
)
from tests.support.servers import AdapterServer, free_port, start_simulator_process
from tests.support.soap import WL2_NS, push_envelope

SBB = dict(C="NL", O="Stichting Samenwerking Beroepsonderwijs Bedrijfsleven", CN="WL2 pushes test")
# as an operator would copy it: RFC 4514 order with spaces; the certificate has C, O, CN (OpenSSL prints it so)
SBB_SUBJECT = "CN=WL2 pushes test, O=Stichting Samenwerking Beroepsonderwijs Bedrijfsleven, C=NL"
SCHOOLS = {name: School(n) for n, name in enumerate(
    ["e2e", "refused", "accepted", "proxy", "bare", "pg", "metrics"], start=60)}
HEADER = "X-SSL-Client-S-DN"
SIM_COUNT = 120


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("push-pki")
    sbb_ca, school_ca, other_ca = tls.ca(d / "sbb-ca", "SBB CA"), tls.ca(d / "school-ca", "School CA"), \
        tls.ca(d / "other-ca", "Other CA")
    return SimpleNamespace(
        sbb_ca=sbb_ca, school_ca=school_ca, other_ca=other_ca,
        sbb=tls.issue(d / "sbb", tls.name(**SBB), sbb_ca),
        push_server=tls.issue(d / "push-server", tls.name(C="NL", O="ROC Test", CN="wl-adapter pushes"), school_ca),
        wrong_cn=tls.issue(d / "wrong-cn", tls.name(**{**SBB, "CN": "WL2 pushes test 2"}), sbb_ca),
        extra_ou=tls.issue(d / "extra-ou", tls.name(**SBB, OU="Elders"), sbb_ca),
        other_ca_sbb=tls.issue(d / "forged", tls.name(**SBB), other_ca),  # SBB's very subject, another CA
    )


def push_listener_config(pki, port: int) -> str:
    return (f'listen = "127.0.0.1:{port}"\ncertfile = "{pki.push_server.cert_path}"\n'
            f'keyfile = "{pki.push_server.key_path}"\nclient_ca = "{pki.sbb_ca.cert_path}"\n'
            f'sbb_subject = "{SBB_SUBJECT}"\n')


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def start_tls_adapter(workdir, sim, pki, **options) -> AdapterServer:
    port = free_port()
    server = AdapterServer(workdir, f"{sim.url}/wl2", pushes=push_listener_config(pki, port),
                           env={"WL_ADAPTER_UPSTREAM_CA": pki.sbb_ca.cert_path}, **options)
    server.push_url = f"https://127.0.0.1:{port}/wl2/mutaties"
    wait_for_port(port)
    return server


@pytest.fixture(scope="module")
def sim(pki, tmp_path_factory):
    """SBB: HTTPS with SBB's certificate, which is also its push client certificate; the push listener's
    certificate is checked against the school's CA (--push-ca) although REQUESTS_CA_BUNDLE names another."""
    server = start_simulator_process(
        tmp_path_factory.mktemp("push-auth-sim") / "simulator.log", "--tls-cert", pki.sbb.cert_path,
        "--tls-key", pki.sbb.key_path, "--push-ca", pki.school_ca.cert_path, count=SIM_COUNT, scheme="https",
        verify=pki.sbb_ca.cert_path, env={"REQUESTS_CA_BUNDLE": pki.other_ca.cert_path})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pool(sim) -> CompanyPool:
    return CompanyPool(sim_companies(sim, SIM_COUNT))


@pytest.fixture(scope="module")
def tls_adapter(sim, pki, tmp_path_factory):
    server = start_tls_adapter(tmp_path_factory.mktemp("push-auth-tls"), sim, pki, extra=schools_config(
        *(SCHOOLS[n] for n in ("e2e", "refused", "accepted", "metrics"))))
    yield server
    server.stop()


def post(url: str, data: bytes, **tls_options) -> PushAnswer:
    r = requests.post(url, data=data, timeout=10, headers={
        "Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{WL2_NS}/MutatieLeerbedrijf"'}, **tls_options)
    return PushAnswer(r.status_code, etree.fromstring(r.content))


def raw_push(to_url: str, school: School, **fields) -> tuple[bytes, str]:
    """A valid push as SBB would send it (SBB's OIN in wsa:From)."""
    return push_envelope(to_url, school.oin, push_body(**fields))


def push_records(server) -> list[dict]:
    return [json.loads(line[line.index("{"):]) for line in server.output().splitlines()
            if '{"type": "wl2_push"' in line]


def assert_refused(answer: PushAnswer, *words: str) -> None:
    assert answer.status == 403, etree.tostring(answer.root)
    code, string = answer.fault
    assert code.endswith(":Client"), code
    for word in words:
        assert word in string, string


# -- the push listener: mutual TLS ----------------------------------------------------------------------------------
def test_whole_push_path_with_mutual_tls(sim, pki, tls_adapter, pool):
    """VerifieerAccreditatie subscribes with the push listener as Afleveradres; SBB's withdrawal and ID change are
    pushed there with SBB's certificate, acknowledged, served by GeefMutaties, logged and audited with the subject."""
    school = SCHOOLS["e2e"]
    company, (crebo, *_) = pool.take()
    lb_id, new_id = company["leerbedrijfId"], "990000000016"
    sub = subscribe(sim, tls_adapter, school, lb_id, lb_id, crebo)
    assert sub["afleveradres"] == tls_adapter.push_url

    withdrawal = fire(sim, soort="ERKENNING_INGETROKKEN", leerbedrijfId=lb_id, crebonummer=crebo,
                      ingangsdatum="2026-12-31", toelichting="Ingetrokken")
    id_change = fire(sim, soort="LEERBEDRIJFID_GEWIJZIGD", leerbedrijfId=lb_id, nieuwLeerbedrijfId=new_id)
    wait_acknowledged(sim, [p["mutatieId"] for p in withdrawal + id_change], timeout=20)
    served = read_all(tls_adapter, school.licence)
    assert [(m["Volgnummer"], m["Soort"], m["CodeLeerbedrijf"], m["OudeCodeLeerbedrijf"]) for m in served] == [
        (1, "INTREKKING", lb_id, None), (2, "WIJZIGING_CODE", new_id, lb_id)]

    subject_text = "CN=WL2 pushes test,O=Stichting Samenwerking Beroepsonderwijs Bedrijfsleven,C=NL"
    log = tls_adapter.output()
    for push in withdrawal + id_change:
        assert (f"push accepted: school=Mutatieschool {school.number} mutatie_id={push['mutatieId']} "
                f"soort={push['soort']} stored subject={subject_text}") in log, log[-3000:]
    records = {r["mutatie_id"]: r for r in push_records(tls_adapter) if r["mutatie_id"]}
    audited = records[id_change[0]["mutatieId"]]
    assert audited["outcome"] == "stored" and audited["subject"] == subject_text
    assert audited["id_change"] == {"old_leerbedrijf_id": lb_id, "new_leerbedrijf_id": new_id}
    assert audited["tenant_oin"] == school.oin and audited["signaalcode"] == 0
    assert records[withdrawal[0]["mutatieId"]]["soort"] == "ERKENNING_INGETROKKEN"
    assert "id_change" not in records[withdrawal[0]["mutatieId"]]


@pytest.mark.parametrize("client", ["none", "other_ca_sbb", "wrong_cn", "extra_ou"])
def test_push_without_sbbs_certificate_is_refused_and_not_stored(pki, tls_adapter, client):
    """No certificate and one from another CA (even with SBB's subject) fail the TLS handshake; the right CA with
    another subject gets 403 and a fault. Nothing is stored."""
    school = SCHOOLS["refused"]
    before = read_all(tls_adapter, school.licence)
    data, _ = raw_push(tls_adapter.push_url, school, soort="ERKENNING_INGETROKKEN")
    options = {"verify": pki.school_ca.cert_path}
    if client != "none":
        options["cert"] = getattr(pki, client).pair
    if client in ("none", "other_ca_sbb"):
        with pytest.raises(requests.exceptions.ConnectionError):  # SSLError, or a reset under TLS 1.3
            post(tls_adapter.push_url, data, **options)
    else:
        assert_refused(post(tls_adapter.push_url, data, **options), "is not pushes.sbb_subject")
    assert read_all(tls_adapter, school.licence) == before == []


def test_push_with_sbbs_certificate_is_accepted_and_stored(pki, tls_adapter):
    school = SCHOOLS["accepted"]
    data, message_id = raw_push(tls_adapter.push_url, school, soort="ERKENNING_VERLEEND", leerbedrijf_id="161616",
                                toelichting="met certificaat")
    answer = post(tls_adapter.push_url, data, verify=pki.school_ca.cert_path, cert=pki.sbb.pair)
    assert_acknowledgement(answer, message_id, 0)
    [m] = read_all(tls_adapter, school.licence)
    assert (m["Soort"], m["CodeLeerbedrijf"], m["Omschrijving"]) == ("ERKENNING", "161616", "met certificaat")


def test_push_listener_serves_only_mutaties(pki, tls_adapter):
    base = tls_adapter.push_url.removesuffix("/wl2/mutaties")
    options = {"verify": pki.school_ca.cert_path, "cert": pki.sbb.pair, "timeout": 10}
    for path in ("/healthz", "/readyz", "/metrics", "/wl1?wsdl", "/wl1", "/xsd/wl1.xsd", "/"):
        assert requests.get(base + path, **options).status_code == 404, path
    assert requests.post(base + "/wl1", data=b"<x/>", **options).status_code == 404
    assert requests.get(base + "/wl2/mutaties", **options).status_code == 405


def test_forged_push_to_the_wl1_port_is_refused(tls_adapter):
    """The issue's attack: SBB's (public) OIN in wsa:From, a withdrawal for 100001/25171, sent to the port every
    school system uses. With a push listener of its own, the WL 1.0 listener does not serve /wl2/mutaties."""
    school = SCHOOLS["refused"]
    data, _ = raw_push(f"{tls_adapter.url}/wl2/mutaties", school, soort="ERKENNING_INGETROKKEN",
                       leerbedrijf_id="100001", crebo="25171")
    r = requests.post(f"{tls_adapter.url}/wl2/mutaties", data=data, timeout=10,
                      headers={"Content-Type": "text/xml; charset=utf-8"})
    assert r.status_code == 404
    assert read_all(tls_adapter, school.licence) == []


def test_push_listener_metrics_reach_the_wl1_listeners_metrics(pki, tls_adapter):
    """The push listener is another process; its counters are served by /metrics on the WL 1.0 listener."""
    school = SCHOOLS["metrics"]
    options = {"verify": pki.school_ca.cert_path}
    data, message_id = raw_push(tls_adapter.push_url, school, soort="GEGEVENS_GEWIJZIGD", crebo=None)
    assert_refused(post(tls_adapter.push_url, data, cert=pki.wrong_cn.pair, **options))
    assert_acknowledgement(post(tls_adapter.push_url, data, cert=pki.sbb.pair, **options), message_id, 0)
    text = requests.get(f"{tls_adapter.url}/metrics", timeout=10).text
    refused = [line for line in text.splitlines() if line.startswith("wl_adapter_pushes_refused_total ")]
    assert refused and float(refused[0].split()[1]) >= 1, text
    assert f'wl_adapter_mutations_received_total{{new="true",school="Mutatieschool {school.number}"}} 1.0' in text


# -- behind a verifying reverse proxy -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def proxy_adapter(tmp_path_factory):
    pushes = f'trusted_proxies = ["127.0.0.1/32"]\nsubject_header = "{HEADER}"\nsbb_subject = "{SBB_SUBJECT}"\n'
    server = AdapterServer(tmp_path_factory.mktemp("push-auth-proxy"), f"http://127.0.0.1:{free_port()}/wl2",
                           extra=schools_config(SCHOOLS["proxy"]), pushes=pushes)
    yield server
    server.stop()


def post_from(source: str, port: int, data: bytes, headers: dict) -> PushAnswer:
    """POST /wl2/mutaties from a chosen loopback source address (127.0.0.2 is not a trusted proxy)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("POST", "/wl2/mutaties", body=data, headers={"Content-Type": "text/xml; charset=utf-8",
                                                                  **headers})
        r = conn.getresponse()
        return PushAnswer(r.status, etree.fromstring(r.read()))
    finally:
        conn.close()


@pytest.mark.parametrize("source,header,accepted", [
    # a proxy's spelling of SBB's subject: OpenSSL order, lower-case types, no spaces
    ("127.0.0.1", "c=NL,o=Stichting Samenwerking Beroepsonderwijs Bedrijfsleven,cn=WL2 pushes test", True),
    ("127.0.0.1", "CN=WL2 pushes test 2,O=Stichting Samenwerking Beroepsonderwijs Bedrijfsleven,C=NL", False),
    ("127.0.0.1", "CN=WL2 pushes test,OU=x,O=Stichting Samenwerking Beroepsonderwijs Bedrijfsleven,C=NL", False),
    ("127.0.0.1", "CN=wl2 pushes test,O=Stichting Samenwerking Beroepsonderwijs Bedrijfsleven,C=NL", False),
    ("127.0.0.1", None, False),
    ("127.0.0.1", "/C=NL/O=Stichting Samenwerking Beroepsonderwijs Bedrijfsleven/CN=WL2 pushes test", False),
    ("127.0.0.2", SBB_SUBJECT, False),  # the right subject, from a peer that is not a trusted proxy
])
def test_subject_header_is_trusted_only_from_a_trusted_proxy_and_checked(proxy_adapter, source, header, accepted):
    school = SCHOOLS["proxy"]
    before = read_all(proxy_adapter, school.licence)
    data, message_id = raw_push(f"{proxy_adapter.url}/wl2/mutaties", school, soort="ERKENNING_INGETROKKEN",
                                toelichting=f"via {source} {uuid.uuid4()}")
    answer = post_from(source, proxy_adapter.port, data, {HEADER: header} if header else {})
    after = read_all(proxy_adapter, school.licence)
    if accepted:
        assert_acknowledgement(answer, message_id, 0)
        assert len(after) == len(before) + 1
        # logged as the proxy asserted it (its order), in RFC 4514
        assert "stored subject=C=NL,O=Stichting Samenwerking Beroepsonderwijs Bedrijfsleven,CN=WL2 pushes test" \
            in proxy_adapter.output()
    else:
        assert_refused(answer, "not authenticated")
        assert after == before
    if source == "127.0.0.2":
        assert f"push from 127.0.0.2: its {HEADER} header ignored" in proxy_adapter.output()


# -- nothing configured ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bare_adapter(tmp_path_factory):
    server = AdapterServer(tmp_path_factory.mktemp("push-auth-bare"), f"http://127.0.0.1:{free_port()}/wl2",
                           extra=schools_config(SCHOOLS["bare"]), pushes=None)
    yield server
    server.stop()


def test_without_pushes_configuration_every_push_is_refused(bare_adapter):
    school = SCHOOLS["bare"]
    data, _ = raw_push(f"{bare_adapter.url}/wl2/mutaties", school, soort="ERKENNING_INGETROKKEN",
                       leerbedrijf_id="100001", crebo="25171")
    for headers in ({}, {HEADER: SBB_SUBJECT}):
        answer = post_from("127.0.0.1", bare_adapter.port, data, headers)
        assert_refused(answer, "no [pushes] configuration", "pushes.listen", "pushes.trusted_proxies")
    assert read_all(bare_adapter, school.licence) == []
    assert "every push to /wl2/mutaties is refused (HTTP 403)" in bare_adapter.output()
    ready = requests.get(f"{bare_adapter.url}/readyz", timeout=10).json()
    assert ready["checks"]["pushes"].startswith("refused")
    records = push_records(bare_adapter)
    assert records and all(r["outcome"] == "refused" and r["subject"] is None for r in records)


# -- configuration ------------------------------------------------------------------------------------------------
LISTEN = 'listen = "0.0.0.0:8443"\ncertfile = "p.pem"\nkeyfile = "p.key"\nclient_ca = "ca.pem"\n'
PROXY = 'trusted_proxies = ["127.0.0.1/32"]\nsubject_header = "X-SSL-Client-S-DN"\n'
SUBJECT = f'sbb_subject = "{SBB_SUBJECT}"\n'


@pytest.mark.parametrize("pushes,key", [
    (LISTEN + SUBJECT + PROXY, "pushes.trusted_proxies"),
    (LISTEN + SUBJECT + "allow_unauthenticated = true\n", "pushes.allow_unauthenticated"),
    (PROXY + SUBJECT + "allow_unauthenticated = true\n", "pushes.allow_unauthenticated"),
    (LISTEN.replace('client_ca = "ca.pem"\n', "") + SUBJECT, "pushes.client_ca"),
    ('listen = "0.0.0.0:8443"\n' + SUBJECT, "pushes.certfile"),
    (LISTEN, "pushes.sbb_subject"),
    ('subject_header = "X-SSL-Client-S-DN"\n' + SUBJECT, "pushes.trusted_proxies"),
    ('trusted_proxies = ["127.0.0.1/32"]\n' + SUBJECT, "pushes.subject_header"),
    (PROXY, "pushes.sbb_subject"),
    (SUBJECT, "pushes.sbb_subject"),
    (PROXY + 'sbb_subject = "/C=NL/CN=x"\n', "pushes.sbb_subject"),
    (PROXY.replace("127.0.0.1/32", "127.0.0.1/8") + SUBJECT, "pushes.trusted_proxies[0]"),
    (PROXY.replace("127.0.0.1/32", "anywhere") + SUBJECT, "pushes.trusted_proxies[0]"),
    (LISTEN.replace("0.0.0.0:8443", "8443") + SUBJECT, "pushes.listen"),
    (LISTEN + SUBJECT + "on_main_listener = true\n", "pushes.on_main_listener"),
    (PROXY + SUBJECT + 'public_url = "https://x.example"\n', "pushes.public_url"),
])
def test_more_than_one_way_or_half_a_way_is_a_config_error_naming_the_key(tmp_path, pushes, key):
    path = tmp_path / "adapter.toml"
    path.write_text(f"[pushes]\n{pushes}", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value).startswith(key + ":"), caught.value


def test_allow_unauthenticated_only_on_loopback(tmp_path):
    path = tmp_path / "adapter.toml"
    path.write_text('[server]\nhost = "0.0.0.0"\n[pushes]\nallow_unauthenticated = true\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="^pushes.allow_unauthenticated: only for the demo"):
        load_config(path, environ={})
    path.write_text('[server]\nhost = "127.0.0.1"\n[pushes]\nallow_unauthenticated = true\n', encoding="utf-8")
    assert load_config(path, environ={}).pushes.serve_on_main


def test_which_listener_serves_pushes_and_the_afleveradres(tmp_path):
    def config(text: str, environ=None):
        path = tmp_path / "adapter.toml"
        path.write_text(text, encoding="utf-8")
        return load_config(path, environ=environ or {})

    server = '[server]\nhost = "0.0.0.0"\npublic_url = "https://wl.roc.example"\n'
    listen = config(server + "[pushes]\n" + LISTEN + SUBJECT)
    assert not listen.pushes.serve_on_main and listen.afleveradres == "https://wl.roc.example:8443/wl2/mutaties"
    proxied = config(server + "[pushes]\n" + PROXY + SUBJECT)
    assert proxied.pushes.serve_on_main and proxied.afleveradres == "https://wl.roc.example/wl2/mutaties"
    assert not config(server + "[pushes]\n" + PROXY + SUBJECT + "on_main_listener = false\n").pushes.serve_on_main
    assert config("").pushes.way is None and config("").pushes.serve_on_main  # there to refuse with 403
    from_env = config("", {"WL_ADAPTER_PUSHES_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1/32",
                           "WL_ADAPTER_PUSHES_SUBJECT_HEADER": HEADER, "WL_ADAPTER_PUSHES_SBB_SUBJECT": SBB_SUBJECT})
    assert from_env.pushes.trusted_proxies == ("10.0.0.0/8", "127.0.0.1/32")


def test_on_main_listener_false_leaves_mutaties_unserved_on_the_wl1_listener(tmp_path):
    """The real application of the WL 1.0 listener, called as gunicorn would (WSGI)."""
    from wsgiref.util import setup_testing_defaults

    from adapter.serve.build import Adapter

    path = tmp_path / "adapter.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "s.sqlite"}"\n'
                    "[pushes]\nallow_unauthenticated = true\non_main_listener = false\n", encoding="utf-8")
    adapter = Adapter(load_config(path, environ={}))
    try:
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/wl2/mutaties", "CONTENT_LENGTH": "4"}
        setup_testing_defaults(environ)
        environ["wsgi.input"].write(b"<x/>")
        environ["wsgi.input"].seek(0)
        seen = []
        adapter.wsgi(environ, lambda status, headers: seen.append(status))
        assert seen == ["404 Not Found"]
    finally:
        adapter.store.close()


@pytest.mark.parametrize("a,b,same", [
    (SBB_SUBJECT, "C=NL,O=Stichting Samenwerking Beroepsonderwijs Bedrijfsleven,CN=WL2 pushes test", True),
    (SBB_SUBJECT, "cn = WL2 pushes test ,  o=Stichting Samenwerking Beroepsonderwijs Bedrijfsleven,c=NL", True),
    (SBB_SUBJECT, "commonName=WL2 pushes test,organizationName=Stichting Samenwerking Beroepsonderwijs "
                  "Bedrijfsleven,countryName=NL", True),
    (SBB_SUBJECT, "2.5.4.3=WL2 pushes test,2.5.4.10=Stichting Samenwerking Beroepsonderwijs Bedrijfsleven,2.5.4.6=NL",
     True),
    ("CN=a+OU=b,O=c", "OU=b,CN=a,O=c", True),
    ("serialNumber=00000001003214345000,CN=x", "2.5.4.5=00000001003214345000, CN=x", True),
    (r"CN=a\, b,O=c", "O=c,CN=a\\2C b", True),
    (SBB_SUBJECT, "CN=wl2 pushes test, O=Stichting Samenwerking Beroepsonderwijs Bedrijfsleven, C=NL", False),
    (SBB_SUBJECT, "CN=WL2  pushes test, O=Stichting Samenwerking Beroepsonderwijs Bedrijfsleven, C=NL", False),
    (SBB_SUBJECT, "CN=WL2 pushes test, O=Stichting Samenwerking Beroepsonderwijs Bedrijfsleven", False),
    (SBB_SUBJECT, SBB_SUBJECT + ", OU=x", False),
    ("CN=a,CN=a", "CN=a", False),
])
def test_subjects_compare_as_distinguished_names(a, b, same):
    assert (dn.key(dn.parse(a)) == dn.key(dn.parse(b))) is same


def test_a_certificates_subject_matches_its_rfc4514_text(pki):
    """What the push listener compares: the certificate's own Name against the configured text."""
    assert dn.key(pki.sbb.cert.subject) == dn.key(dn.parse(SBB_SUBJECT))
    assert dn.key(pki.extra_ou.cert.subject) != dn.key(dn.parse(SBB_SUBJECT))


# -- PostgreSQL, two adapter instances, mutual TLS end to end ---------------------------------------------------------
def test_two_instances_on_postgresql_each_with_its_push_listener(sim, pki, pool, pg_url, tmp_path):
    """Each instance subscribes with its own push listener as Afleveradres; SBB pushes to both with its
    certificate; GeefMutaties through either serves every push once, without gaps."""
    school = SCHOOLS["pg"]
    a = start_tls_adapter(tmp_path / "a", sim, pki, store_url=pg_url, extra=schools_config(school))
    b = None
    try:
        b = start_tls_adapter(tmp_path / "b", sim, pki, store_url=pg_url, extra=schools_config(school))
        (x, (x_crebo, *_)), (y, (y_crebo, *_)) = pool.take(), pool.take()
        sub_x = subscribe(sim, a, school, x["leerbedrijfId"], x["leerbedrijfId"], x_crebo)
        sub_y = subscribe(sim, b, school, y["leerbedrijfId"], y["leerbedrijfId"], y_crebo)
        assert (sub_x["afleveradres"], sub_y["afleveradres"]) == (a.push_url, b.push_url)
        pushed = []
        for i in range(3):
            for company, crebo in ((x, x_crebo), (y, y_crebo)):
                pushed += fire(sim, soort="ERKENNING_GEWIJZIGD", leerbedrijfId=company["leerbedrijfId"],
                               crebonummer=crebo, toelichting=f"{company['leerbedrijfId']} {i}")
        pushes = wait_acknowledged(sim, [p["mutatieId"] for p in pushed], timeout=30)
        assert {p["afleveradres"] for p in pushes} == {a.push_url, b.push_url}
        for server in (a, b):
            served = read_all(server, school.licence, 0, maximum=2)
            assert [m["Volgnummer"] for m in served] == list(range(1, 7))
            assert sorted(m["Omschrijving"] for m in served) == sorted(p["toelichting"] for p in pushed)
        for server in (a, b):
            wait_until(lambda s=server: "push accepted" in s.output(), what="the push logged")
    finally:
        for server in (a, b):
            if server is not None:
                server.stop()


