"""The parts of deploy/try-cluster.sh that are easier said in Python: free ports, test certificates, the nginx
configuration rendered from deploy/nginx/wl-adapter.conf, waiting for a server, the test school's licence.

Run by the script with the adapter's Python (which has ``cryptography``); not part of the package.

    python try_cluster.py ports N                       N free loopback ports, one a line
    python try_cluster.py certs DIR                     a schools' CA and nginx's certificate; SBB's CA and certificate
    python try_cluster.py render TEMPLATE OUT TLS_DIR PORT PUSH_PORT INSTANCE_PORT...
    python try_cluster.py wait URL CAFILE PID TIMEOUT   until URL answers HTTP (exit 1 when PID ends first)
    python try_cluster.py licence                       a fresh licence and its SHA-256: "LICENCE HASH"
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import secrets
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

SBB_SUBJECT = {"C": "NL", "O": "Stichting Samenwerking Beroepsonderwijs Bedrijfsleven",
               "CN": "WL2 simulator (try-cluster)"}


def ports(count: str) -> None:
    sockets = []
    for _ in range(int(count)):  # all held open until all are found: no port is handed out twice
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    for s in sockets:
        print(s.getsockname()[1])
        s.close()


def certs(directory: str) -> None:
    """Two small PKIs, as in production: the CA that schools (and SBB) trust for nginx's server certificate, and
    the CA that issues SBB's certificate (the simulator's: it serves WL 2.0 with it and pushes with it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    oids = {"C": NameOID.COUNTRY_NAME, "O": NameOID.ORGANIZATION_NAME, "CN": NameOID.COMMON_NAME}
    now = dt.datetime.now(dt.timezone.utc)

    def name(**attributes: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(oids[k], v) for k, v in attributes.items()])

    def issue(stem: str, subject: x509.Name, issuer=None, ca: bool = False, usages=()):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(issuer[0].subject if issuer else subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = (builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
                .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False))
        cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
        (out / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path = out / f"{stem}.key"
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        os.chmod(key_path, 0o600)
        return cert, key

    schools_ca = issue("server-ca", name(C="NL", O="try-cluster", CN="try-cluster schools CA"), ca=True)
    issue("server", name(C="NL", O="try-cluster", CN="wl-adapter (try-cluster)"), schools_ca,
          usages=[ExtendedKeyUsageOID.SERVER_AUTH])
    sbb_ca = issue("sbb-ca", name(C="NL", O="try-cluster", CN="try-cluster SBB CA"), ca=True)
    sbb, _ = issue("sbb", name(**SBB_SUBJECT), sbb_ca,
                   usages=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])
    (out / "sbb-subject.txt").write_text(sbb.subject.rfc4514_string() + "\n")


# what try-cluster changes in deploy/nginx/wl-adapter.conf, as (text in the file, text on loopback); each must be
# there, so that a change to the file that this script does not follow stops it instead of running something else
def _replacements(tls: Path, port: str, push_port: str) -> list[tuple[str, str]]:
    return [
        ("    listen 443 ssl;\n", f"    listen 127.0.0.1:{port} ssl;\n"),
        ("    listen [::]:443 ssl;\n", ""),
        ("    listen 8443 ssl;\n", f"    listen 127.0.0.1:{push_port} ssl;\n"),
        ("    listen [::]:8443 ssl;\n", ""),
        ("/etc/nginx/tls/wl-adapter.crt", str(tls / "server.pem")),
        ("/etc/nginx/tls/wl-adapter.key", str(tls / "server.key")),
        ("/etc/nginx/tls/sbb-ca.pem", str(tls / "sbb-ca.pem")),
    ]


INSTANCE_LINES = ("    server 10.0.0.11:8080 max_fails=1 fail_timeout=5s;\n",
                  "    server 10.0.0.12:8080 max_fails=1 fail_timeout=5s;\n")


def render(template: str, output: str, tls_dir: str, port: str, push_port: str, *instance_ports: str) -> None:
    instances = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n" for p in instance_ports)
    text = Path(template).read_text()
    for old, new in [*_replacements(Path(tls_dir), port, push_port), (INSTANCE_LINES[0], instances),
                     (INSTANCE_LINES[1], "")]:
        if old not in text:
            sys.exit(f"try-cluster: {template} no longer contains {old.strip()!r}: update deploy/try_cluster.py")
        text = text.replace(old, new)
    Path(output).write_text("# rendered by deploy/try-cluster.sh from deploy/nginx/wl-adapter.conf\n" + text)


def wait(url: str, cafile: str, pid: str, timeout: str) -> None:
    context = ssl.create_default_context(cafile=cafile) if url.startswith("https:") else None
    deadline = time.monotonic() + float(timeout)
    while time.monotonic() < deadline:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            sys.exit(f"try-cluster: the process for {url} ended")
        try:
            with urllib.request.urlopen(url, timeout=1, context=context):
                return
        except urllib.error.HTTPError:
            return  # it answers HTTP
        except OSError:
            time.sleep(0.1)
    sys.exit(f"try-cluster: {url} did not answer within {timeout}s")


def licence() -> None:
    key = "TRY-" + secrets.token_hex(8).upper()
    print(key, hashlib.sha256(key.encode()).hexdigest())


COMMANDS = {"ports": ports, "certs": certs, "render": render, "wait": wait, "licence": licence}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
