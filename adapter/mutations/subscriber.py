"""Turns recorded subscription intents into WL 2.0 subscriptions, in the background, after the answer went out.

The intent is committed on the request path (one insert); this worker claims intents with a lease, so a worker
that dies mid-way loses nothing: its claims come back once the lease runs out.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from adapter.errors import UpstreamError, UpstreamUnavailable
from adapter.tenants import Tenants

log = logging.getLogger("wl_adapter.subscriber")

FINAL_CODES = {10, 11, 20, 90}  # the upstream will not change its mind soon: try again tomorrow
RETRY_FINAL = timedelta(days=1)


class Subscriber:
    def __init__(self, store, upstream, tenants: Tenants, afleveradres: str,
                 poll_s: float = 5.0, lease_s: float = 60.0, batch: int = 20):
        self.store = store
        self.upstream = upstream
        self.tenants = tenants
        self.afleveradres = afleveradres
        self.poll_s = poll_s
        self.lease_s = lease_s
        self.batch = batch
        self._wake = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="wl-subscriber", daemon=True).start()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while True:
            try:
                while self.process_once():
                    pass
            except Exception:  # noqa: BLE001 - keep the worker alive; the intents stay in the store
                log.exception("subscriber pass failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def process_once(self) -> int:
        """Claim and process one batch; returns how many intents it handled."""
        intents = self.store.claim_subscription_intents(self.batch, self.lease_s)
        for intent in intents:
            self._subscribe(intent)
        return len(intents)

    def _subscribe(self, intent) -> None:
        tenant = self.tenants.by_oin(intent.tenant_oin)
        now = self.store.clock()
        if tenant is None:
            self.store.fail_subscription_intent(intent.id, "school no longer configured", now + RETRY_FINAL)
            return
        body = {"LeerbedrijfId": intent.leerbedrijf_id, "Crebonummer": intent.crebo, "Afleveradres": self.afleveradres}
        try:
            answer = self.upstream.for_tenant(tenant).call("VerzoekAbonnementMutaties", tenant.oin,
                                                           {k: v for k, v in body.items() if v is not None})
        except (UpstreamUnavailable, UpstreamError) as exc:
            backoff = min(3600, 5 * 2 ** min(intent.attempts, 10))
            self.store.fail_subscription_intent(intent.id, str(exc), now + timedelta(seconds=backoff))
            return
        code = answer["Signalering"]["Signaalcode"]
        if code in (0, 30) and answer.get("AbonnementId"):
            self.store.complete_subscription_intent(intent.id, answer["AbonnementId"])
        elif code in FINAL_CODES:
            self.store.fail_subscription_intent(intent.id, f"signaalcode {code}", now + RETRY_FINAL)
        else:
            self.store.fail_subscription_intent(intent.id, f"signaalcode {code}", now + timedelta(seconds=60))
