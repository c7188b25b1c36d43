"""Read-only views of the store for the console: recent pushes with their delivery state, and per school what is
subscribed, pending and waiting. Kept apart from the write paths: nothing here changes a row."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from adapter.store.model import MUTATION_FIELDS, Mutation, StoredMutationRow
from adapter.store.schema import mutation, subscription, subscription_intent


@dataclass(frozen=True)
class SchoolCounts:
    subscriptions: int = 0
    pending_intents: int = 0
    waiting_mutations: int = 0  # received, not yet read past by the school's GeefMutaties
    delivered_mutations: int = 0


def recent_mutations(connection: Connection, limit: int, tenant_oin: str | None = None
                     ) -> list[tuple[str, StoredMutationRow]]:
    """The newest received mutations of every school (or one): (tenant_oin, row), newest first."""
    t = mutation.c
    query = select(mutation).order_by(t.received_at.desc(), t.volgnummer.desc()).limit(limit)
    if tenant_oin is not None:
        query = query.where(t.tenant_oin == tenant_oin)
    return [(r.tenant_oin, StoredMutationRow(volgnummer=r.volgnummer, received_at=r.received_at,
                                             delivered_at=r.delivered_at,
                                             mutation=Mutation(**{n: getattr(r, n) for n in MUTATION_FIELDS})))
            for r in connection.execute(query)]


def school_counts(connection: Connection) -> dict[str, SchoolCounts]:
    counts: dict[str, dict] = {}

    def add(tenant_oin: str, key: str, value: int) -> None:
        counts.setdefault(tenant_oin, {})[key] = value

    for oin, n in connection.execute(select(subscription.c.tenant_oin, func.count()).group_by(
            subscription.c.tenant_oin)):
        add(oin, "subscriptions", n)
    for oin, n in connection.execute(select(subscription_intent.c.tenant_oin, func.count()).group_by(
            subscription_intent.c.tenant_oin)):
        add(oin, "pending_intents", n)
    t = mutation.c
    delivered = t.delivered_at.is_not(None)
    for oin, is_delivered, n in connection.execute(select(t.tenant_oin, delivered, func.count()).group_by(
            t.tenant_oin, delivered)):
        add(oin, "delivered_mutations" if is_delivered else "waiting_mutations", n)
    return {oin: SchoolCounts(**values) for oin, values in counts.items()}
