"""The store's tables as they are after the newest migration (used to build queries; migrations.py creates them).

Everything a school owns is keyed by ``tenant_oin``, so one licence only ever reaches its own school's rows.
No WL data is kept beyond what the adapter needs to work (see docs/store.md).
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import BigInteger, Column, Date, DateTime, Integer, MetaData, String, Table, Text, TypeDecorator


class UtcDateTime(TypeDecorator):
    """A point in time, stored as UTC; always read back timezone-aware (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store needs timezone-aware times")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


metadata = MetaData()

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True),
    Column("description", Text, nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
)

code_mapping = Table(
    "code_mapping", metadata,
    Column("code", String(40), primary_key=True),
    Column("leerbedrijf_id", String(12), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# One row: a number that every transaction changing code_mapping raises, in that transaction. Each Store caches
# resolved codes tagged with the generation they were read under and drops them when it sees a newer one
# (store/codecache.py), so a change made by another process is noticed with one small read.
mapping_generation = Table(
    "mapping_generation", metadata,
    Column("id", Integer, primary_key=True),
    Column("generation", BigInteger, nullable=False),
)

# crebo is '' for a subscription on the whole company (WL 2.0 allows subscriptions without Crebonummer), so that
# the (tenant_oin, leerbedrijf_id, crebo) unique keys hold on both databases (NULLs would never collide).
subscription = Table(
    "subscription", metadata,
    Column("abonnement_id", String(36), primary_key=True),
    Column("tenant_oin", String(20), nullable=False),
    Column("leerbedrijf_id", String(12), nullable=False),
    Column("crebo", String(5), nullable=False),
    Column("since", UtcDateTime, nullable=False),
)

subscription_intent = Table(
    "subscription_intent", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("tenant_oin", String(20), nullable=False),
    Column("leerbedrijf_id", String(12), nullable=False),
    Column("crebo", String(5), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("not_before", UtcDateTime, nullable=False),
    Column("claimed_until", UtcDateTime),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
)

tenant_sequence = Table(
    "tenant_sequence", metadata,
    Column("tenant_oin", String(20), primary_key=True),
    Column("last_volgnummer", BigInteger, nullable=False),
)

mutation = Table(
    "mutation", metadata,
    Column("tenant_oin", String(20), primary_key=True),
    Column("volgnummer", BigInteger, primary_key=True, autoincrement=False),
    Column("mutatie_id", String(36), nullable=False),
    Column("abonnement_id", String(36)),
    Column("soort", String(40), nullable=False),
    Column("leerbedrijf_id", String(12), nullable=False),
    Column("oud_leerbedrijf_id", String(12)),
    Column("crebo", String(5)),
    Column("ingangsdatum", Date, nullable=False),
    Column("toelichting", Text),
    Column("received_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
)

# One row per school and day a digest mail went out (wl-adapter mutations digest): the claim that keeps it to one a
# day, and the point from which the next digest lists new mutations.
digest_sent = Table(
    "digest_sent", metadata,
    Column("tenant_oin", String(20), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("sent_at", UtcDateTime, nullable=False),
    Column("mutations", Integer, nullable=False),
)

# Proposals made in the last 24 hours, to answer a repeat with the first VoordrachtId (store/voordrachten.py).
# proposal_key is a SHA-256 of what makes two proposals the same; voordracht_id is NULL while one is being sent.
voordracht = Table(
    "voordracht", metadata,
    Column("tenant_oin", String(20), primary_key=True),
    Column("proposal_key", String(64), primary_key=True),
    Column("voordracht_id", String(36)),
    Column("made_at", UtcDateTime, nullable=False),
)
