"""Turns the wish that a school be subscribed into a WL 2.0 subscription, in the background, after the answer went out.

No write on the request path: ``want`` costs a dict look-up for a wish this worker has seen in the last hour, and
queues a new one, which this worker's thread writes to the store as an intent (insert-if-absent) before it claims
intents with a lease. A worker that dies mid-way loses nothing it had written: its claims come back once the lease
runs out. What it loses is a wish it had not yet written (milliseconds): the next verification of that company
by that school records it again, and ``wl-adapter subscriptions sync`` reconciles what is left.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import timedelta

from adapter.errors import UpstreamError, UpstreamUnavailable
from adapter.tenants import Tenants

log = logging.getLogger("wl_adapter.subscriber")

FINAL_CODES = {10, 11, 20, 90}  # the upstream will not change its mind soon: try again tomorrow
RETRY_FINAL = timedelta(days=1)
KNOWN_FOR_S = 3600.0  # a wish seen this long ago is written again (insert-if-absent): a subscription ended since
KNOWN_MAX = 100_000  # wishes remembered per worker; the oldest are forgotten first


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
        self._lock = threading.Lock()
        self._known: dict[tuple, float] = {}  # wish -> when this worker last wrote (or queued) it
        self._pending: deque[tuple] = deque()
        self._running = False

    def start(self) -> None:
        self._running = True
        threading.Thread(target=self._run, name="wl-subscriber", daemon=True).start()

    def want(self, tenant_oin: str, leerbedrijf_id: str, crebo: str | None) -> None:
        """The school should be subscribed to this company (and crebo). Returns at once."""
        key = (tenant_oin, leerbedrijf_id, crebo)
        now = time.monotonic()
        with self._lock:
            seen = self._known.get(key)
            if seen is not None and now - seen < KNOWN_FOR_S:
                return
            self._known.pop(key, None)
            self._known[key] = now  # (re)inserted last: the dict's order is oldest first
            while len(self._known) > KNOWN_MAX:
                del self._known[next(iter(self._known))]
            self._pending.append(key)
        if self._running:
            self._wake.set()
        else:  # no background thread in this process (a command, a test): write it now
            self.record_wishes()

    def record_wishes(self) -> None:
        """Write the queued wishes as intents; one the store refuses is forgotten, so the next verification retries."""
        while True:
            with self._lock:
                if not self._pending:
                    return
                key = self._pending.popleft()
            try:
                self.store.record_subscription_intent(*key)
            except Exception:
                with self._lock:
                    self._known.pop(key, None)
                raise

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while True:
            try:
                self.record_wishes()
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
