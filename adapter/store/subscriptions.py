"""Subscriptions (school → LeerbedrijfId + crebo at SBB) and the durable intents to subscribe (an outbox).

An intent is written on the request path, before the VerifieerAccreditatie answer goes out; a worker claims it
with a lease, calls WL 2.0 and completes (or fails) it. A crashed worker's claim simply expires. Functions here
work inside a transaction the caller owns.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, literal, or_, select, update

from adapter.errors import SubscriptionImportError
from adapter.store.engine import insert_for
from adapter.store.fields import crebo_from_key, crebo_key, crebo_problem, oin_problem
from adapter.store.model import Intent, LineProblem, Subscription
from adapter.store.schema import subscription, subscription_intent

SUBSCRIPTION_COLUMNS = ("tenant_oin", "code_leerbedrijf", "crebonummer")
_ERROR_MAX = 2000


def record_intent(connection: Connection, tenant_oin: str, leerbedrijf_id: str, crebo: str | int | None,
                  now: datetime) -> bool:
    """One statement: insert the intent unless the school has that subscription or intent already."""
    key = {"tenant_oin": tenant_oin, "leerbedrijf_id": leerbedrijf_id, "crebo": crebo_key(crebo)}
    subscribed = select(subscription.c.abonnement_id).where(
        *(subscription.c[name] == value for name, value in key.items())).exists()
    values = {**key, "created_at": now, "not_before": now, "attempts": 0}
    row = select(*(literal(v, subscription_intent.c[k].type).label(k) for k, v in values.items())).where(~subscribed)
    stmt = insert_for(connection)(subscription_intent).from_select(list(values), row).on_conflict_do_nothing(
        index_elements=[subscription_intent.c.tenant_oin, subscription_intent.c.leerbedrijf_id,
                        subscription_intent.c.crebo]).returning(subscription_intent.c.id)
    return connection.execute(stmt).first() is not None  # (psycopg reports no rowcount for INSERT ... SELECT)


def _intent(row) -> Intent:
    return Intent(id=row.id, tenant_oin=row.tenant_oin, leerbedrijf_id=row.leerbedrijf_id,
                  crebo=crebo_from_key(row.crebo), created_at=row.created_at, attempts=row.attempts,
                  last_error=row.last_error)


def claim_intents(connection: Connection, limit: int, lease: timedelta, now: datetime) -> list[Intent]:
    """Up to ``limit`` due intents that nobody holds, leased until now + lease (row locks skip others' claims)."""
    t = subscription_intent.c
    due = (select(t.id).where(t.not_before <= now, or_(t.claimed_until.is_(None), t.claimed_until <= now))
           .order_by(t.not_before, t.id).limit(limit).with_for_update(skip_locked=True))
    ids: list[int] = list(connection.execute(due).scalars().all())
    if not ids:
        return []
    rows = connection.execute(update(subscription_intent).where(t.id.in_(ids))
                              .values(claimed_until=now + lease, attempts=t.attempts + 1)
                              .returning(*subscription_intent.c)).all()
    return sorted((_intent(r) for r in rows), key=lambda i: i.id)


def complete_intent(connection: Connection, intent_id: int, abonnement_id: str, now: datetime) -> bool:
    """The subscription exists upstream: keep it and drop the intent. False when the intent is already gone."""
    row = connection.execute(select(subscription_intent).where(subscription_intent.c.id == intent_id)).first()
    if row is None:
        return False
    upsert(connection, row.tenant_oin, row.leerbedrijf_id, row.crebo, abonnement_id, now)
    return True


def fail_intent(connection: Connection, intent_id: int, error: str, retry_at: datetime) -> bool:
    return connection.execute(update(subscription_intent).where(subscription_intent.c.id == intent_id).values(
        not_before=retry_at, claimed_until=None, last_error=error[:_ERROR_MAX])).rowcount == 1


def upsert(connection: Connection, tenant_oin: str, leerbedrijf_id: str, crebo: str | int | None,
           abonnement_id: str, since: datetime) -> None:
    """Keep this subscription (one per school, company and crebo); a pending intent for it is satisfied."""
    key = {"tenant_oin": tenant_oin, "leerbedrijf_id": leerbedrijf_id, "crebo": crebo_key(crebo)}
    abonnement_id = abonnement_id.lower()
    connection.execute(subscription.delete().where(
        *(subscription.c[k] == v for k, v in key.items()), subscription.c.abonnement_id != abonnement_id))
    stmt = insert_for(connection)(subscription).values(**key, abonnement_id=abonnement_id, since=since)
    connection.execute(stmt.on_conflict_do_update(
        index_elements=[subscription.c.abonnement_id],
        set_={k: stmt.excluded[k] for k in (*key, "since")}))
    connection.execute(subscription_intent.delete().where(*(subscription_intent.c[k] == v for k, v in key.items())))


def remove(connection: Connection, abonnement_id: str) -> bool:
    return connection.execute(
        subscription.delete().where(subscription.c.abonnement_id == abonnement_id.lower())).rowcount == 1


def list_subscriptions(connection: Connection, tenant_oin: str | None) -> list[Subscription]:
    t = subscription.c
    query = select(subscription).order_by(t.tenant_oin, t.leerbedrijf_id, t.crebo)
    if tenant_oin is not None:
        query = query.where(t.tenant_oin == tenant_oin)
    return [Subscription(tenant_oin=r.tenant_oin, leerbedrijf_id=r.leerbedrijf_id, crebo=crebo_from_key(r.crebo),
                         abonnement_id=r.abonnement_id, since=r.since) for r in connection.execute(query)]


def list_intents(connection: Connection, tenant_oin: str | None) -> list[Intent]:
    t = subscription_intent.c
    query = select(subscription_intent).order_by(t.tenant_oin, t.leerbedrijf_id, t.crebo)
    if tenant_oin is not None:
        query = query.where(t.tenant_oin == tenant_oin)
    return [_intent(r) for r in connection.execute(query)]


def parse_intent_rows(rows: Iterable[Sequence],
                      resolve: Callable[[str], str | None]) -> list[tuple[str, str, str]]:
    """Rows of (line_no, tenant_oin, code_or_id, crebo) → [(oin, leerbedrijf_id, crebo)]; every bad line reported."""
    problems: list[LineProblem] = []
    wanted: list[tuple[str, str, str]] = []
    for line_no, *fields in rows:
        if len(fields) != len(SUBSCRIPTION_COLUMNS):
            problems.append(LineProblem(line_no, f"expected {len(SUBSCRIPTION_COLUMNS)} columns "
                                                 f"({', '.join(SUBSCRIPTION_COLUMNS)}), got {len(fields)}"))
            continue
        oin, code, crebo = (str(f).strip() for f in fields)
        reasons = [r for r in (oin_problem(oin), crebo_problem(crebo)) if r]
        leerbedrijf_id = resolve(code) if code else None
        if leerbedrijf_id is None:
            reasons.append(f"code_leerbedrijf {code!r} does not resolve to a LeerbedrijfId "
                           "(not in the mapping table and not 1 to 12 digits)")
        if reasons:
            problems.append(LineProblem(line_no, "; ".join(reasons)))
        else:
            wanted.append((oin, leerbedrijf_id, crebo_key(crebo)))
    if problems:
        raise SubscriptionImportError(problems)
    return wanted
