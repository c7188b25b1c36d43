"""Start-up checks: what can be known to be wrong is found before the adapter listens, not at the first call.

Without them a missing client-key file showed only when a school called (and /readyz said "ProtocolError"), and a
PostgreSQL URL without its driver stopped the start with a 40-line traceback. Each check raises
``StartupCheckFailed`` with one line naming the configuration key and the problem; ``wl-adapter serve`` prints it
and exits with code 2. What is odd but not fatal (a certificate that has expired) is returned as a warning.

The checks: the certificate and key files (readable, PEM, unencrypted key, the key belongs to the certificate);
the listening address free; the store reachable and migrated to this adapter's schema; the frozen schemas compiled.
"""
from __future__ import annotations

import datetime as dt
import re
import socket
from collections.abc import Iterable, Iterator

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from adapter.config import Config
from adapter.contracts import CONTRACTS, Contract
from adapter.errors import SchemaTooNew, StartupCheckFailed, StoreUnavailable


def run_all(config: Config, listeners: Iterable[tuple[str, str, int]] = ()) -> list[str]:
    """Every check, in the order an operator would fix them; the warnings. ``listeners`` are the addresses this
    process is about to bind, each as (configuration key, host, port)."""
    warnings = certificates(config)
    for key, host, port in listeners:
        address_free(key, host, port)
    store(config.store.url)
    schemas()
    return warnings


# -- certificates and keys ------------------------------------------------------------------------------------------

def _tls_files(config: Config) -> Iterator[tuple[str, str, str | None, str | None]]:
    """(certificate key, certificate path, key key, key path) of every pair; CA bundles with no key."""
    u = config.upstream
    if u.ca:
        yield "upstream.ca", u.ca, None, None
    if u.client_cert:
        yield "upstream.client_cert", u.client_cert, "upstream.client_key", u.client_key
    for i, t in enumerate(config.tenants):
        if t.client_cert:
            yield f"tenants[{i}].client_cert", t.client_cert, f"tenants[{i}].client_key", t.client_key
    p = config.pushes
    if p.way == "listen":
        yield "pushes.certfile", p.certfile, "pushes.keyfile", p.keyfile
        yield "pushes.client_ca", p.client_ca, None, None


def certificates(config: Config, now: dt.datetime | None = None) -> list[str]:
    """Every certificate and key file of the configuration loads, and each key belongs to its certificate."""
    now = now or dt.datetime.now(dt.timezone.utc)
    warnings = []
    for cert_key, cert_path, key_key, key_path in _tls_files(config):
        certs = _certificates(cert_key, cert_path)
        if key_key is None:
            continue
        leaf = certs[0]  # a chain may follow the certificate in the same file
        _matching(key_key, key_path, _private_key(key_key, key_path), cert_key, leaf)
        if leaf.not_valid_after_utc < now:
            warnings.append(f"{cert_key}: the certificate in {cert_path} expired on "
                            f"{leaf.not_valid_after_utc:%Y-%m-%d}: the other side will refuse it")
        elif leaf.not_valid_before_utc > now:
            warnings.append(f"{cert_key}: the certificate in {cert_path} is valid only from "
                            f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    return warnings


def _read(key: str, path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise StartupCheckFailed(f"{key}: cannot read {path}: {exc.strerror}") from None


def _certificates(key: str, path: str) -> list[x509.Certificate]:
    data = _read(key, path)
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise StartupCheckFailed(f"{key}: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)") from None


def _private_key(key: str, path: str):
    data = _read(key, path)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise StartupCheckFailed(f"{key}: {path} is encrypted with a passphrase; the adapter needs the key "
                                 "unencrypted (readable only by its own user)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise StartupCheckFailed(f"{key}: {path} holds no PEM private key (-----BEGIN PRIVATE KEY-----)") from None


def _spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _matching(key_key: str, key_path: str, private_key, cert_key: str, cert: x509.Certificate) -> None:
    if _spki(private_key.public_key()) != _spki(cert.public_key()):
        raise StartupCheckFailed(f"{key_key}: the key in {key_path} does not belong to the certificate of "
                                 f"{cert_key} ({cert.subject.rfc4514_string()})")


# -- the listening address ------------------------------------------------------------------------------------------

def address_free(key: str, host: str, port: int) -> None:
    """Nothing else listens there (else gunicorn retries for seconds and then gives up in several lines)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does: a TIME_WAIT is no obstacle
        try:
            s.bind((host, port))
        except OSError as exc:
            raise StartupCheckFailed(f"{key}: cannot listen on {host}:{port}: {exc.strerror}") from None


# -- the store -------------------------------------------------------------------------------------------------------

def _one_line(text: object) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def store_location(url: str) -> str:
    """The store URL as it may be shown: the password replaced by ***."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparseable URL is reported by the store check itself
        return "(unparseable URL)"


def store(url: str) -> list[int]:
    """The store answers and is migrated to the schema this adapter knows; the versions applied now."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from adapter.store import Store

    try:
        s = Store(url)
    except ValueError as exc:  # a URL it cannot use, or PostgreSQL without its driver: the message says which
        raise StartupCheckFailed(_one_line(exc)) from None
    password = make_url(url).password
    try:
        applied = s.migrate()
        s.ping()
        return applied
    except SchemaTooNew as exc:
        raise StartupCheckFailed(f"store.url: {_one_line(exc)}") from None
    except (SQLAlchemyError, StoreUnavailable) as exc:
        cause = getattr(exc, "orig", None) or exc
        problem = _one_line(f"{type(cause).__name__}: {cause}")
        if password:
            problem = problem.replace(str(password), "***")
        raise StartupCheckFailed(f"store.url: cannot use the store at {store_location(url)}: {problem}") from None
    finally:
        s.close()


# -- the schemas ----------------------------------------------------------------------------------------------------

def schemas(contracts: Iterable[Contract] | None = None) -> None:
    """The frozen XSDs compile (before workers fork: they share the compiled schemas)."""
    for contract in CONTRACTS.values() if contracts is None else contracts:
        try:
            contract.compile()
        except Exception as exc:  # noqa: BLE001 - lxml's parse and schema errors, a missing file: all say "broken"
            raise StartupCheckFailed(f"schemas: {contract.xsd.name} does not compile: {_one_line(exc)}") from None
