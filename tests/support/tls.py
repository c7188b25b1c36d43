"""Certificates for tests, made on the spot with the cryptography package: CAs, and certificates they issue with a
chosen subject (never a key or certificate kept in the repository)."""
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
