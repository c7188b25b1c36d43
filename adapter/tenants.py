"""Tenants (schools) by licence: licence keys are known only as SHA-256 hashes, compared in constant time."""
from __future__ import annotations

import hashlib
import hmac

from adapter.config import Tenant


def licence_hash(licence: str) -> str:
    return hashlib.sha256(licence.encode("utf-8")).hexdigest()


class Tenants:
    def __init__(self, tenants: tuple[Tenant, ...]):
        self._by_hash = {t.licence_sha256.lower(): t for t in tenants}
        self._by_oin = {t.oin: t for t in tenants}

    def by_licence(self, licence: str | None) -> Tenant | None:
        if not licence:
            return None
        digest = licence_hash(licence)
        tenant = self._by_hash.get(digest)
        # the lookup is by hash, so timing says nothing about the licence; confirm in constant time anyway
        if tenant is not None and hmac.compare_digest(tenant.licence_sha256.lower(), digest):
            return tenant
        return None

    def by_oin(self, oin: str | None) -> Tenant | None:
        return self._by_oin.get(oin or "")

    def __iter__(self):
        return iter(self._by_oin.values())
