"""``Wl2Clients.prepare`` makes every WL 2.0 client before workers fork: a worker's first call then finds its
client made (loading and compiling the WSDL took ~25 ms of that call before)."""
from __future__ import annotations

import pytest

from adapter.config import Tenant, UpstreamConfig
from adapter.wl2 import clients as clients_module
from adapter.wl2.clients import Wl2Clients

PLAIN = Tenant("ROC Plain", "00000001111111111000", "0" * 64)
OWN_CERT = Tenant("ROC Own", "00000001222222222000", "0" * 64, client_cert="/etc/roc/own.pem",
                  client_key="/etc/roc/own.key")  # not read until a connection is made


@pytest.fixture
def no_new_clients(monkeypatch):
    """From here on, making a client fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a WL 2.0 client was made after prepare()")
    return lambda: monkeypatch.setattr(clients_module, "Wl2Client", refuse)


@pytest.mark.parametrize("cert", [("", ""), ("/etc/wl/adapter.pem", "/etc/wl/adapter.key")])
def test_after_prepare_every_tenant_finds_its_client_made(no_new_clients, cert):
    upstream = Wl2Clients(UpstreamConfig(client_cert=cert[0], client_key=cert[1]))
    upstream.prepare([PLAIN, OWN_CERT])
    made = {id(upstream.default()), id(upstream.for_tenant(PLAIN)), id(upstream.for_tenant(OWN_CERT))}
    no_new_clients()
    assert {id(upstream.default()), id(upstream.for_tenant(PLAIN)), id(upstream.for_tenant(OWN_CERT)),
            id(upstream.for_tenant(None))} == made
    assert len(made) == 2  # the school with a certificate of its own has its own client; the other shares the default


def test_without_prepare_a_client_is_made_on_first_use(no_new_clients):
    """The negative control: the refusal above does catch a client made late."""
    upstream = Wl2Clients(UpstreamConfig())
    upstream.prepare([PLAIN])
    no_new_clients()
    with pytest.raises(AssertionError, match="made after prepare"):
        upstream.for_tenant(OWN_CERT)
