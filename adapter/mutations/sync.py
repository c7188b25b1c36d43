"""``subscriptions sync``: reconcile the store's subscriptions with what WL 2.0 has running, school by school.

For each configured school: OverzichtLopendeAbonnementen, then the store's plan (``plan_subscription_sync``):
subscriptions running upstream that nobody here wants are ended (BeeindigAbonnement), upstream ones for a wanted
key are adopted, and subscriptions the store holds but WL 2.0 no longer runs are turned back into intents (the
adapter's background subscriber re-creates them). WL 2.0 being unreachable stops the run (``UpstreamUnavailable``);
what was already done stays done, and running it again is safe.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from adapter.config import Tenant
from adapter.errors import SyncError
from adapter.store.sync import SyncPlan, UpstreamSubscription, plan_subscription_sync

ENDED_ALREADY = 31  # BeeindigAbonnement: subscription unknown, i.e. it is gone already


@dataclass
class TenantSync:
    tenant: Tenant
    plan: SyncPlan | None = None
    ended: list[UpstreamSubscription] = field(default_factory=list)
    error: str | None = None

    def lines(self) -> list[str]:
        who = f"{self.tenant.name} ({self.tenant.oin})"
        if self.error:
            return [f"{who}: FAILED: {self.error}"]
        if self.plan is None or self.plan.empty:
            return [f"{who}: in sync"]
        out = [f"{who}:"]
        out += [f"  ended upstream   {u.abonnement_id}  {u.leerbedrijf_id}  {u.crebo or '(all)'}" for u in self.ended]
        out += [f"  adopted          {u.abonnement_id}  {u.leerbedrijf_id}  {u.crebo or '(all)'}"
                for u in self.plan.adopt]
        out += [f"  to re-subscribe  {s.abonnement_id}  {s.leerbedrijf_id}  {s.crebo or '(all)'}  "
                "(gone upstream; recorded as intent)" for s in self.plan.create]
        return out


def _since(value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _signaalcode(answer: dict) -> int:
    return int((answer.get("Signalering") or {}).get("Signaalcode"))


def running_upstream(client, tenant: Tenant, afleveradres: str) -> list[UpstreamSubscription]:
    """The school's subscriptions at SBB that push to this adapter (or name no Afleveradres): a subscription another
    system of the school made under the same OIN, pushing elsewhere, is not ours to end."""
    answer = client.call("OverzichtLopendeAbonnementen", tenant.oin, {})
    code = _signaalcode(answer)
    if code == 1:  # "nothing found": none running
        return []
    if code != 0:
        text = (answer.get("Signalering") or {}).get("Signaaltekst") or ""
        raise SyncError(f"OverzichtLopendeAbonnementen answered signaalcode {code} {text}".rstrip())
    wrapper = answer.get("Abonnementen") or {}
    items = (wrapper.get("Abonnement") or []) if isinstance(wrapper, dict) else wrapper
    return [UpstreamSubscription(abonnement_id=str(a["AbonnementId"]).lower(), leerbedrijf_id=str(a["LeerbedrijfId"]),
                                 crebo=a.get("Crebonummer") or None, since=_since(a["Sinds"]))
            for a in items if not a.get("Afleveradres") or a["Afleveradres"] == afleveradres]


def sync_tenant(store, upstream, tenant: Tenant, afleveradres: str) -> TenantSync:
    """Reconcile one school. Raises UpstreamUnavailable when WL 2.0 cannot be reached."""
    from adapter.errors import UpstreamError

    result = TenantSync(tenant)
    client = upstream.for_tenant(tenant)
    try:
        running = running_upstream(client, tenant, afleveradres)
        result.plan = plan = plan_subscription_sync(store.list_subscriptions(tenant.oin),
                                                    store.list_subscription_intents(tenant.oin), running)
        for u in plan.end:
            answer = client.call("BeeindigAbonnement", tenant.oin, {"AbonnementId": u.abonnement_id})
            code = _signaalcode(answer)
            if code not in (0, ENDED_ALREADY):
                raise SyncError(f"BeeindigAbonnement {u.abonnement_id} answered signaalcode {code}")
            result.ended.append(u)
        store.apply_subscription_sync(tenant.oin, plan)
    except (SyncError, UpstreamError) as exc:
        result.error = str(exc)
    return result


def sync_subscriptions(store, upstream, tenants: Iterable[Tenant], afleveradres: str) -> list[TenantSync]:
    """Reconcile every school's subscriptions that push to ``afleveradres`` (this adapter's); raises
    UpstreamUnavailable (WL 2.0 unreachable) and stops there."""
    return [sync_tenant(store, upstream, tenant, afleveradres) for tenant in tenants]
