"""Mutations waiting for a school, numbered per school by a strictly rising Volgnummer without visible gaps.

The number comes from the school's ``tenant_sequence`` row, locked (PostgreSQL: ``SELECT ... FOR UPDATE``; SQLite:
the write transaction holds the database's write lock) from before the number is read until the transaction that
inserts the mutation commits. So number n+1 can only be handed out after n is committed, and a reader can never see
n+1 without n. A transaction that fails takes its number back with it. Functions here work inside a transaction the
caller owns; ``store_mutation`` is the one that must be called in a write transaction.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, func, select, update

from adapter.store import mappings
from adapter.store.engine import insert_for
from adapter.store.model import MUTATION_FIELDS, Mutation, StoredMutation, StoredMutationRow, Undelivered
from adapter.store.schema import digest_sent, mutation, tenant_sequence
from adapter.translate.tables import ID_CHANGE


def find_volgnummer(connection: Connection, tenant_oin: str, mutatie_id: str) -> int | None:
    return connection.execute(select(mutation.c.volgnummer).where(
        mutation.c.tenant_oin == tenant_oin, mutation.c.mutatie_id == mutatie_id.lower())).scalar_one_or_none()


def _lock_sequence(connection: Connection, tenant_oin: str) -> int:
    """The school's last Volgnummer, with its counter row locked until the transaction ends."""
    query = select(tenant_sequence.c.last_volgnummer).where(
        tenant_sequence.c.tenant_oin == tenant_oin).with_for_update()
    last: int | None = connection.execute(query).scalar_one_or_none()
    if last is None:
        connection.execute(insert_for(connection)(tenant_sequence).values(tenant_oin=tenant_oin, last_volgnummer=0)
                           .on_conflict_do_nothing(index_elements=[tenant_sequence.c.tenant_oin]))
        last = connection.execute(query).scalar_one()
    return last


_CONTENT = ("soort", "oud_leerbedrijf_id", "ingangsdatum", "toelichting")


def fan_out_copy_of(connection: Connection, tenant_oin: str, m: Mutation) -> int | None:
    """SBB pushes a change once per subscription, so a school subscribed to a company for two crebos gets a
    company-wide change twice, under two MutatieIds. It is the same news: when the school's latest mutation about
    this company (and crebo) says exactly the same and came through another subscription, its Volgnummer."""
    t = mutation.c
    latest = connection.execute(
        select(mutation).where(t.tenant_oin == tenant_oin, t.leerbedrijf_id == m.leerbedrijf_id,
                               t.crebo.is_not_distinct_from(m.crebo))
        .order_by(t.volgnummer.desc()).limit(1)).first()
    if (latest is None or m.abonnement_id is None or latest.abonnement_id in (None, m.abonnement_id)
            or any(getattr(latest, name) != getattr(m, name) for name in _CONTENT)):
        return None
    return latest.volgnummer


def store_mutation(connection: Connection, tenant_oin: str, m: Mutation, now: datetime) -> StoredMutation:
    last = _lock_sequence(connection, tenant_oin)
    # after the lock, so a concurrent repeat is seen
    existing = find_volgnummer(connection, tenant_oin, m.mutatie_id) or fan_out_copy_of(connection, tenant_oin, m)
    if existing is not None:
        return StoredMutation(existing, created=False)
    volgnummer = last + 1
    connection.execute(update(tenant_sequence).where(tenant_sequence.c.tenant_oin == tenant_oin)
                       .values(last_volgnummer=volgnummer))
    connection.execute(mutation.insert().values(
        tenant_oin=tenant_oin, volgnummer=volgnummer, received_at=now,
        **{name: getattr(m, name) for name in MUTATION_FIELDS}))
    if m.soort == ID_CHANGE:
        mappings.follow_id_change(connection, m.oud_leerbedrijf_id, m.leerbedrijf_id, now)
    return StoredMutation(volgnummer, created=True)


# The two queries of every GeefMutaties poll, built once: building a statement costs more than running it
# (measured: about a third of a GeefMutaties call's CPU went to SQLAlchemy composing these two each time).
_AFTER = (select(mutation).where(mutation.c.tenant_oin == bindparam("oin"), mutation.c.volgnummer > bindparam("vanaf"))
          .order_by(mutation.c.volgnummer).limit(bindparam("limit")))
_UNDELIVERED_UP_TO = (select(mutation.c.volgnummer).where(
    mutation.c.tenant_oin == bindparam("oin"), mutation.c.volgnummer <= bindparam("vanaf"),
    mutation.c.delivered_at.is_(None)).limit(1))


def mutations_after(connection: Connection, tenant_oin: str, vanaf: int, limit: int) -> list[StoredMutationRow]:
    """The school's mutations with Volgnummer > vanaf, ascending."""
    rows = connection.execute(_AFTER, {"oin": tenant_oin, "vanaf": vanaf, "limit": limit})
    return [_row(r) for r in rows]


def _row(r) -> StoredMutationRow:
    return StoredMutationRow(volgnummer=r.volgnummer, received_at=r.received_at, delivered_at=r.delivered_at,
                             mutation=Mutation(**{name: getattr(r, name) for name in MUTATION_FIELDS}))


def list_mutations(connection: Connection, tenant_oin: str, undelivered_only: bool = False,
                   received_after: datetime | None = None) -> list[StoredMutationRow]:
    """The school's stored mutations by Volgnummer (reading them marks nothing delivered)."""
    t = mutation.c
    query = select(mutation).where(t.tenant_oin == tenant_oin).order_by(t.volgnummer)
    if undelivered_only:
        query = query.where(t.delivered_at.is_(None))
    if received_after is not None:
        query = query.where(t.received_at > received_after)
    return [_row(r) for r in connection.execute(query)]


def undelivered(connection: Connection) -> list[Undelivered]:
    """Per school with mutations waiting: how many, and when the oldest came in."""
    t = mutation.c
    rows = connection.execute(select(t.tenant_oin, func.count(), func.min(t.received_at))
                              .where(t.delivered_at.is_(None)).group_by(t.tenant_oin))
    return [Undelivered(oin, count, oldest) for oin, count, oldest in rows]


def last_digest(connection: Connection, tenant_oin: str) -> datetime | None:
    """When the school's last digest mail went out (None: never)."""
    return connection.execute(select(func.max(digest_sent.c.sent_at))
                              .where(digest_sent.c.tenant_oin == tenant_oin)).scalar_one_or_none()


def record_digest(connection: Connection, tenant_oin: str, day, sent_at: datetime, count: int) -> bool:
    """Claim the school's digest for ``day``; False when that day's digest was already sent."""
    result = connection.execute(insert_for(connection)(digest_sent).values(
        tenant_oin=tenant_oin, day=day, sent_at=sent_at, mutations=count)
        .on_conflict_do_nothing(index_elements=[digest_sent.c.tenant_oin, digest_sent.c.day]))
    return result.rowcount == 1


def undelivered_up_to(connection: Connection, tenant_oin: str, vanaf: int) -> bool:
    """Is any of the school's mutations with Volgnummer <= vanaf not yet marked delivered?"""
    return connection.execute(_UNDELIVERED_UP_TO, {"oin": tenant_oin, "vanaf": vanaf}).first() is not None


def mark_delivered(connection: Connection, tenant_oin: str, vanaf: int, now: datetime) -> None:
    """Those <= vanaf count as delivered: the school asked from a number at or past them."""
    t = mutation.c
    connection.execute(update(mutation).where(t.tenant_oin == tenant_oin, t.volgnummer <= vanaf,
                                              t.delivered_at.is_(None)).values(delivered_at=now))


def purge_delivered(connection: Connection, delivered_before: datetime) -> int:
    return connection.execute(mutation.delete().where(
        mutation.c.delivered_at.is_not(None), mutation.c.delivered_at < delivered_before)).rowcount
