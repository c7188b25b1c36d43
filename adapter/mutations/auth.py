"""Who sent this push? A push is accepted only from an authenticated SBB, checked on every request.

SBB's OIN in ``wsa:From`` is public, so it proves nothing: anyone who reaches /wl2/mutaties could write it. The
proof is SBB's client certificate, checked in one of the ways of ``[pushes]`` (docs/configuration.md):

- ``listen``: the push listener's TLS handshake already required a certificate issued by ``client_ca``; here its
  subject must be ``sbb_subject`` (a CA such as PKIoverheid issues certificates to many organisations);
- ``trusted_proxies``: a reverse proxy verified the certificate and passes its subject in ``subject_header``; only
  a peer (REMOTE_ADDR, the TCP peer, never X-Forwarded-For) in ``trusted_proxies`` may say so;
- ``allow_unauthenticated``: anyone (demo and tests on loopback);
- nothing configured: no one.

A refused push is not parsed at all: the caller answers HTTP 403 with a SOAP fault giving the reason.
"""
from __future__ import annotations

import ipaddress
import logging

from cryptography import x509

from adapter.config import PushesConfig
from adapter.errors import InvalidSubject, PushRefused
from adapter.soap import dn

log = logging.getLogger("wl_adapter.receiver")

UNAUTHENTICATED = "unauthenticated (pushes.allow_unauthenticated)"
NOT_CONFIGURED = ("pushes are refused: this adapter has no [pushes] configuration saying how SBB's pushes are "
                  "authenticated (pushes.listen, pushes.trusted_proxies or pushes.allow_unauthenticated)")
PEER_SOCKET = "gunicorn.socket"  # gunicorn puts the connection's socket in the environ: the TLS peer certificate


class PushAuthenticator:
    """``authenticate(environ)`` is the sender's subject, for the logs; PushRefused when it is not SBB.

    ``tls`` says whether this is the push listener (mutual TLS); on the WL 1.0 listener a configured ``listen``
    way is never accepted (that listener has no client certificates)."""

    def __init__(self, pushes: PushesConfig, tls: bool = False):
        self.way = pushes.way
        self.tls = tls
        self.header = pushes.subject_header
        self.environ_key = "HTTP_" + pushes.subject_header.upper().replace("-", "_")
        self.networks = pushes.networks if self.way == "trusted_proxies" else ()
        self.expected = dn.key(dn.parse(pushes.sbb_subject)) if pushes.sbb_subject else None

    def authenticate(self, environ: dict) -> str:
        if self.tls:
            return self._certificate(environ)
        if self.way == "trusted_proxies":
            return self._proxy(environ)
        if self.way == "allow_unauthenticated":
            return UNAUTHENTICATED
        if self.way == "listen":
            raise PushRefused("pushes are accepted only on the push listener (pushes.listen), with SBB's certificate")
        raise PushRefused(NOT_CONFIGURED)

    def _certificate(self, environ: dict) -> str:
        sock = environ.get(PEER_SOCKET)
        der = sock.getpeercert(binary_form=True) if hasattr(sock, "getpeercert") else None
        if not der:  # cannot happen with CERT_REQUIRED; refuse rather than assume
            raise PushRefused("no client certificate")
        return self._matching(x509.load_der_x509_certificate(der).subject, "the client certificate's subject")

    def _proxy(self, environ: dict) -> str:
        peer = environ.get("REMOTE_ADDR", "")
        asserted = environ.get(self.environ_key)
        if not self._trusted(peer):
            if asserted is not None:
                log.warning("push from %s: its %s header ignored, the peer is not one of pushes.trusted_proxies "
                            "(asserted %r)", peer, self.header, asserted[:300])
            raise PushRefused(f"push not authenticated: {peer} is not a trusted proxy (pushes.trusted_proxies)")
        if not asserted:
            raise PushRefused(f"push not authenticated: the proxy passed no verified subject ({self.header})")
        try:
            name = dn.parse(asserted)
        except InvalidSubject as exc:
            raise PushRefused(f"push not authenticated: {self.header} is not a distinguished name: {exc}") from None
        return self._matching(name, f"the subject in {self.header}")

    def _trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return False
        if address.version == 6 and address.ipv4_mapped is not None:  # ::ffff:127.0.0.1 on a dual-stack socket
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def _matching(self, name: x509.Name, what: str) -> str:
        if dn.key(name) != self.expected:
            raise PushRefused(f"push not authenticated: {what} {dn.text(name)!r} is not pushes.sbb_subject")
        return dn.text(name)
