"""Start-up checks (``adapter/serve/checks.py``): what the configuration names is checked before the adapter listens,
and a failure stops ``wl-adapter serve`` with exit code 2 and one line naming the key and the problem — no
traceback, never the store's password. Once started, the adapter says so in one line.

The certificate cases run the checks in this process (each needs only files); the cases that show what an
operator sees run ``wl-adapter serve`` itself. Certificates are made here (tests/support/tls.py).
"""
from __future__ import annotations

import datetime as dt
import re
import socket
import subprocess
import sys
from types import SimpleNamespace

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from adapter import __version__
from adapter.config import ConfigError, load_config
from adapter.contracts import Contract
from adapter.errors import StartupCheckFailed
from adapter.serve import checks
from adapter.store import Store
from tests.support import tls
from tests.support.servers import ROOT, Server, free_port, write_config

UPSTREAM = "http://127.0.0.1:9/wl2"  # never called: the adapter does not call WL 2.0 to start


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("startup-pki")
    ca = tls.ca(d / "ca", "Startup CA")
    adapter, other = (tls.issue(d / n, tls.name(C="NL", O="ROC Test", CN=n), ca) for n in ("adapter", "other"))
    encrypted = d / "encrypted.key"
    encrypted.write_bytes(adapter.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.BestAvailableEncryption(b"passphrase")))
    garbage = d / "garbage.pem"
    garbage.write_text("not a certificate\n")
    return SimpleNamespace(ca=ca, adapter=adapter, other=other, encrypted=str(encrypted), garbage=str(garbage))


def config_with(tmp_path, upstream: str = "", tenant: str = "", pushes: str = "allow_unauthenticated = true",
                store_url: str | None = None, port: int | None = None):
    """The shared test configuration with lines added to [upstream] and to the first school."""
    path = write_config(tmp_path / "adapter.toml", UPSTREAM, store_url or f"sqlite:///{tmp_path / 'a.sqlite'}",
                        port or free_port(), pushes=pushes)
    text = path.read_text().replace("[upstream]\n", "[upstream]\n" + upstream, 1)
    path.write_text(text.replace('name = "ROC Test"\n', 'name = "ROC Test"\n' + tenant, 1))
    return path


def failure(config) -> str:
    with pytest.raises(StartupCheckFailed) as err:
        checks.certificates(load_config(config))
    return str(err.value)


# -- certificates and keys, in this process ------------------------------------------------------------------------

def test_matching_pairs_and_a_ca_bundle_pass(tmp_path, pki):
    config = config_with(tmp_path, f'ca = "{pki.ca.cert_path}"\nclient_cert = "{pki.adapter.cert_path}"\n'
                                   f'client_key = "{pki.adapter.key_path}"\n',
                         f'client_cert = "{pki.other.cert_path}"\nclient_key = "{pki.other.key_path}"\n')
    assert checks.certificates(load_config(config)) == []


@pytest.mark.parametrize("upstream, tenant, expected", [
    ('client_cert = "{adapter.cert_path}"\nclient_key = "{other.key_path}"\n', "",
     "upstream.client_key: the key in {other.key_path} does not belong to the certificate of upstream.client_cert "
     "(CN=adapter,O=ROC Test,C=NL)"),
    ('client_cert = "{adapter.cert_path}"\nclient_key = "{encrypted}"\n', "",
     "upstream.client_key: {encrypted} is encrypted with a passphrase; the adapter needs the key unencrypted"),
    ('client_cert = "{adapter.cert_path}"\nclient_key = "{garbage}"\n', "",
     "upstream.client_key: {garbage} holds no PEM private key"),
    ('client_cert = "{garbage}"\nclient_key = "{adapter.key_path}"\n', "",
     "upstream.client_cert: {garbage} holds no PEM certificate"),
    ('client_cert = "{adapter.cert_path}"\nclient_key = "{missing}"\n', "",
     "upstream.client_key: cannot read {missing}: No such file or directory"),
    ('ca = "{adapter.key_path}"\n', "", "upstream.ca: {adapter.key_path} holds no PEM certificate"),
    ("", 'client_cert = "{other.cert_path}"\nclient_key = "{adapter.key_path}"\n',
     "tenants[0].client_key: the key in {adapter.key_path} does not belong to the certificate of "
     "tenants[0].client_cert (CN=other,O=ROC Test,C=NL)"),
], ids=["key-of-another-certificate", "encrypted-key", "not-a-key", "not-a-certificate", "missing-key", "ca-not-pem",
        "school-pair"])
def test_each_bad_certificate_or_key_is_named(tmp_path, pki, upstream, tenant, expected):
    values = dict(adapter=pki.adapter, other=pki.other, encrypted=pki.encrypted, garbage=pki.garbage,
                  missing=str(tmp_path / "missing.key"))
    message = failure(config_with(tmp_path, upstream.format(**values), tenant.format(**values)))
    assert message.startswith(expected.format(**values)), message


def test_the_push_listeners_files_are_checked_too(tmp_path, pki):
    listen = (f'listen = "127.0.0.1:{free_port()}"\ncertfile = "{pki.adapter.cert_path}"\n'
              f'keyfile = "{pki.other.key_path}"\nclient_ca = "{pki.ca.cert_path}"\nsbb_subject = "CN=SBB, C=NL"\n')
    assert failure(config_with(tmp_path, pushes=listen)).startswith(
        f"pushes.keyfile: the key in {pki.other.key_path} does not belong to the certificate of pushes.certfile")
    no_ca = listen.replace(pki.other.key_path, pki.adapter.key_path).replace(pki.ca.cert_path, pki.garbage)
    assert failure(config_with(tmp_path, pushes=no_ca)).startswith(f"pushes.client_ca: {pki.garbage} holds no PEM")


def test_an_expired_certificate_is_a_warning_not_a_failure(tmp_path, pki):
    config = load_config(config_with(tmp_path, f'client_cert = "{pki.adapter.cert_path}"\n'
                                               f'client_key = "{pki.adapter.key_path}"\n'))
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)  # the test certificates last one day
    [warning] = checks.certificates(config, now=later)
    assert warning.startswith(f"upstream.client_cert: the certificate in {pki.adapter.cert_path} expired on ")


def test_a_schema_that_does_not_compile_is_named(tmp_path):
    with pytest.raises(StartupCheckFailed, match=r"^schemas: missing\.xsd does not compile: .*missing\.xsd"):
        checks.schemas([Contract("missing", "urn:nothing")])
    checks.schemas()  # the packaged ones do


# -- what an operator sees: wl-adapter serve ----------------------------------------------------------------------

def serve(config, *python: str) -> subprocess.CompletedProcess:
    """``wl-adapter serve`` as a command; ``python`` lines run first (to hide a module, as if not installed)."""
    code = "; ".join([*python, "import sys", "from adapter.cli import main",
                      f"sys.argv = ['wl-adapter', 'serve', '--config', {str(config)!r}]", "sys.exit(main())"])
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)


def assert_one_line(result: subprocess.CompletedProcess, expected: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"wl-adapter: cannot start: {expected}"), lines[0]
    return lines[0]


def test_a_missing_key_file_stops_the_start(tmp_path, pki):
    missing = tmp_path / "adapter.key"
    config = config_with(tmp_path, f'client_cert = "{pki.adapter.cert_path}"\nclient_key = "{missing}"\n')
    assert_one_line(serve(config), f"upstream.client_key: cannot read {missing}: No such file or directory")


def test_an_unreachable_store_is_named_without_its_password(tmp_path):
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://wl:s3cr3t-pw@127.0.0.1:{port}/wl"
    line = assert_one_line(serve(config_with(tmp_path, store_url=url)),
                           f"store.url: cannot use the store at postgresql+psycopg://wl:***@127.0.0.1:{port}/wl: "
                           "OperationalError: ")
    assert "s3cr3t" not in line and "refused" in line


def test_postgresql_without_its_driver_names_the_extra(tmp_path):
    config = config_with(tmp_path, store_url="postgresql+psycopg://wl@127.0.0.1:5432/wl")
    result = serve(config, "import sys", "sys.modules['psycopg'] = None")  # as if not installed
    assert_one_line(result, "store.url: PostgreSQL needs the psycopg driver, which is not installed: "
                            "pip install 'wl-adapter[postgres]'")


def test_a_store_of_a_newer_adapter_stops_the_start(tmp_path):
    url = f"sqlite:///{tmp_path / 'newer.sqlite'}"
    store = Store(url)
    store.migrate()
    with store.engine.begin() as c:
        c.exec_driver_sql("INSERT INTO schema_version (version, description, applied_at) "
                          "VALUES (999, 'from the future', '2030-01-01')")
    store.close()
    assert_one_line(serve(config_with(tmp_path, store_url=url)),
                    "store.url: the store's schema is version 999, newer than this adapter knows")


def test_an_address_in_use_stops_the_start(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_one_line(serve(config_with(tmp_path, port=port)),
                        f"server.port: cannot listen on 127.0.0.1:{port}: Address already in use")


def test_a_configuration_error_is_still_one_line(tmp_path):
    config = config_with(tmp_path, "pool_size = 'many'\n")
    result = serve(config)
    assert result.returncode == 2 and result.stderr.splitlines() == [
        "wl-adapter: configuration error: upstream.pool_size: expected int, got 'many'"], result.stderr


@pytest.mark.parametrize("line, expected", [
    ('worker = "eventlet"', "server.worker: one of gthread, gevent, got 'eventlet'"),
    ("connections = 0", "server.connections: must be >= 1"),
])
def test_an_unknown_worker_kind_or_no_connections_is_a_configuration_error(tmp_path, line, expected):
    config = write_config(tmp_path / "adapter.toml", UPSTREAM, f"sqlite:///{tmp_path / 'a.sqlite'}", free_port(),
                          server=line)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_config(config)


def test_one_line_says_it_started_with_version_address_store_schools_and_policy(tmp_path, pg_url):  # noqa: F811
    with_password = pg_url.replace("postgres@", "postgres:pw-not-shown@")  # trust authentication ignores it
    port = free_port()
    config = config_with(tmp_path, store_url=with_password, port=port)
    config.write_text(config.read_text() + '\n[validation.operations.Zoeken]\nwl1_request = "report"\n')
    server = Server(["serve", "--config", str(config)], port, "/healthz", log=tmp_path / "adapter.log")
    try:
        assert requests.get(f"{server.url}/readyz", timeout=5).json()["checks"]["store"] == "ok"
        database = pg_url.rsplit("/", 1)[1]
        started = [line for line in server.output().splitlines() if " started: " in line]
        assert started == [f"wl-adapter {__version__} started: listening on http://127.0.0.1:{port}, 1 gevent worker "
                           f"x up to 1000 calls; store postgresql 127.0.0.1:5432/{database}; 2 schools; validation enforce; "
                           "Zoeken: wl1_request=report"]
        assert "pw-not-shown" not in server.output()
    finally:
        server.stop()
