"""The simulator over mutual TLS (Edukoppeling): certificates generated per run
(tests/support/tls.py)."""
from __future__ import annotations

import pytest
import requests

from tests.support.servers import TODAY, Server, free_port
from tests.support.tls import make_pki


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    port = free_port()
    server = Server(["simulate", "--port", str(port), "--leerbedrijven", "50", "--today", TODAY,
                     "--tls-cert", pki.server.cert, "--tls-key", pki.server.key, "--tls-client-ca", pki.ca],
                    port, "/admin/health", scheme="https", verify=pki.ca, cert=pki.school.pair)
    try:
        yield server, pki.ca, pki.school.pair
    finally:
        server.stop()


def test_with_a_client_certificate_the_wsdl_names_the_https_address(tls):
    server, ca, client_cert = tls
    r = requests.get(f"{server.url}/wl2?wsdl", verify=ca, cert=client_cert, timeout=5)
    assert r.status_code == 200 and f'location="https://127.0.0.1:{server.port}/wl2"'.encode() in r.content


def test_without_a_client_certificate_the_handshake_fails(tls):
    server, ca, _ = tls
    with pytest.raises(requests.exceptions.ConnectionError):  # SSLError, or a reset under TLS 1.3
        requests.get(f"{server.url}/admin/health", verify=ca, timeout=5)
