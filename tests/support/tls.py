"""Certificates for tests, made on the spot with the cryptography package (never a key or certificate kept in the
repository): CAs and certificates they issue with a chosen subject (``ca``, ``issue``), and a ready-made test PKI
with a server certificate for 127.0.0.1/localhost and client certificates (``make_pki``)."""
from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: str
    key_path: str

    @property
    def pair(self) -> tuple[str, str]:
        """(certificate, key) as requests' ``cert=`` wants them."""
        return self.cert_path, self.key_path


def name(**attributes: str) -> x509.Name:
    """x509.Name(C=..., O=..., CN=...) in the order given (the certificate's RDN sequence)."""
    oids = {"C": NameOID.COUNTRY_NAME, "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
            "CN": NameOID.COMMON_NAME, "serialNumber": NameOID.SERIAL_NUMBER}
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in attributes.items()])


def issue(path_stem: Path, subject: x509.Name, issuer: Issued | None = None, ca: bool = False) -> Issued:
    """A certificate for ``subject``, signed by ``issuer`` (self-signed when None); leaf certificates are valid for
    127.0.0.1 and for both TLS server and client use."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    signer_key = issuer.key if issuer else key
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.cert.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = (builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(
                       ipaddress.ip_address("127.0.0.1"))]), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                         ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    cert = builder.sign(signer_key, hashes.SHA256())
    cert_path, key_path = path_stem.with_suffix(".pem"), path_stem.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return Issued(cert, key, str(cert_path), str(key_path))


def ca(path_stem: Path, common_name: str) -> Issued:
    return issue(path_stem, name(C="NL", O="Test PKI", CN=common_name), ca=True)


# -- a ready-made PKI: a CA, a server certificate, the adapter's, a school's and a stranger's client certificate
@dataclass(frozen=True)
class CertFiles:
    cert: str
    key: str

    @property
    def pair(self) -> tuple[str, str]:
        return self.cert, self.key


@dataclass(frozen=True)
class Pki:
    ca: str  # the CA certificate (PEM): trust anchor for both sides
    server: CertFiles
    client: CertFiles  # the adapter's own client certificate
    school: CertFiles  # a school's own client certificate (per-tenant)
    stranger: CertFiles  # signed by another CA: must be refused


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key, path: Path) -> str:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return str(path)


def _write_cert(cert: x509.Certificate, path: Path) -> str:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wl-adapter tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str):
    key = _key()
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def _leaf(ca_key, ca_cert, cn: str, server: bool):
    key = _key()
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                     else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def make_pki(directory: Path) -> Pki:
    """A fresh CA with a server certificate for 127.0.0.1 and two client certificates, plus a stranger's."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca("wl-adapter test CA")
    ca = _write_cert(ca_cert, directory / "ca.pem")

    def leaf(name: str, server: bool = False, issuer=(ca_key, ca_cert)) -> CertFiles:
        key, cert = _leaf(*issuer, name, server)
        return CertFiles(_write_cert(cert, directory / f"{name}.pem"), _write_key(key, directory / f"{name}.key"))

    other = _ca("some other CA")
    return Pki(ca=ca, server=leaf("server", server=True), client=leaf("adapter-client"),
               school=leaf("school-client"), stranger=leaf("stranger-client", issuer=other))
