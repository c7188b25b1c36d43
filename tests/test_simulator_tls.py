"""The simulator over mutual TLS (Edukoppeling): certificates made here with the cryptography package."""
from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from helpers import Server, free_port
from test_simulator_fixtures import TODAY


def _issue(path_stem, common_name: str, issuer=None, ca: bool = False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    signer_cert, signer_key = issuer or (None, key)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(signer_cert.subject if signer_cert else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(
            "127.0.0.1"))]), critical=False)
    cert = builder.sign(signer_key, hashes.SHA256())
    cert_path, key_path = path_stem.with_suffix(".pem"), path_stem.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert, key, str(cert_path), str(key_path)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca_cert, ca_key, ca_path, _ = _issue(d / "ca", "Test CA", ca=True)
    _, _, server_cert, server_key = _issue(d / "sbb", "sbb", issuer=(ca_cert, ca_key))
    _, _, school_cert, school_key = _issue(d / "school", "school", issuer=(ca_cert, ca_key))
    port = free_port()
    server = Server(["simulate", "--port", str(port), "--leerbedrijven", "50", "--today", TODAY,
                     "--tls-cert", server_cert, "--tls-key", server_key, "--tls-client-ca", ca_path],
                    port, "/admin/health", scheme="https", verify=ca_path, cert=(school_cert, school_key))
    try:
        yield server, ca_path, (school_cert, school_key)
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
