"""The hook for ``subscriptions sync``: compare what the store holds for one school with WL 2.0's
OverzichtLopendeAbonnementen and decide what to change. Pure: the caller talks to WL 2.0 and applies the plan
(``Store.apply_subscription_sync`` for the local part, BeeindigAbonnement for ``end``)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from adapter.store.model import Intent, Subscription


@dataclass(frozen=True)
class UpstreamSubscription:
    """One Abonnement from OverzichtLopendeAbonnementen."""

    abonnement_id: str
    leerbedrijf_id: str
    crebo: str | None
    since: datetime


@dataclass(frozen=True)
class SyncPlan:
    end: tuple[UpstreamSubscription, ...]    # running upstream, wanted by nobody here: BeeindigAbonnement
    adopt: tuple[UpstreamSubscription, ...]  # running upstream for a wanted key under an id the store lacks: keep it
    create: tuple[Subscription, ...]         # in the store but gone upstream: drop it and record a new intent

    @property
    def empty(self) -> bool:
        return not (self.end or self.adopt or self.create)


def plan_subscription_sync(local: Sequence[Subscription], pending: Sequence[Intent],
                           upstream: Sequence[UpstreamSubscription]) -> SyncPlan:
    """For one school: ``local`` subscriptions and ``pending`` intents against ``upstream``'s running ones."""
    upstream_ids = {u.abonnement_id.lower() for u in upstream}
    local_ids = {s.abonnement_id.lower() for s in local}
    create = tuple(s for s in local if s.abonnement_id.lower() not in upstream_ids)
    unmatched = {(s.leerbedrijf_id, s.crebo) for s in create} | {(i.leerbedrijf_id, i.crebo) for i in pending}
    end, adopt = [], []
    for u in upstream:
        key = (u.leerbedrijf_id, u.crebo)
        if u.abonnement_id.lower() in local_ids:
            continue
        if key in unmatched:
            unmatched.discard(key)  # a second upstream one for the same key is a duplicate: ended
            adopt.append(u)
        else:
            end.append(u)
    adopted = {(u.leerbedrijf_id, u.crebo) for u in adopt}
    return SyncPlan(end=tuple(end), adopt=tuple(adopt),
                    create=tuple(s for s in create if (s.leerbedrijf_id, s.crebo) not in adopted))
