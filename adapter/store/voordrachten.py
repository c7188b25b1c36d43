"""Recognition proposals a school made (DoeErkenningsvoordracht), remembered for 24 hours to answer repeats.

A proposal changes SBB's data, so the adapter never repeats one by itself; but a school system that times out and
sends the same proposal again, or a user who clicks twice, would make SBB handle it twice. The same proposal within
24 hours is answered with the first VoordrachtId and no second WL 2.0 call.

Only a SHA-256 of the proposal's key is kept (no company names: the adapter keeps no WL data), with the
VoordrachtId and when it was made. A row with no VoordrachtId yet is a claim: this proposal is being sent right now,
so an identical one arriving meanwhile waits for it instead of sending another. A claim whose sender died expires
after its lease. Functions here work inside a transaction the caller owns.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update

from adapter.store.engine import insert_for
from adapter.store.schema import voordracht

WINDOW = timedelta(hours=24)  # CONTRACTS.md: a repeat within 24 hours answers the first VoordrachtId
_SPACES = re.compile(r"\s+")


def proposal_key(kvk: str | None, naam: str, postcode: str, crebo: str, leerweg: str) -> str:
    """What makes two proposals the same (besides the school): the KvK number, or else the company name (case and
    spacing ignored) with the postcode; and the crebo and leerweg. Hashed: the store keeps no names."""
    if kvk:
        company = f"kvk:{kvk.strip()}"
    else:
        company = f"naam:{_SPACES.sub(' ', naam).strip().casefold()}|{_SPACES.sub('', postcode).upper()}"
    return hashlib.sha256(f"{company}|{crebo}|{leerweg}".encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """The outcome of ``claim``: ``voordracht_id`` of an earlier proposal, ``mine`` when this call is to send it,
    neither when an identical proposal is being sent by another call right now."""

    voordracht_id: str | None = None
    mine: bool = False


def claim(connection: Connection, tenant_oin: str, key: str, now: datetime, lease: timedelta) -> Claim:
    t = voordracht.c
    row = connection.execute(select(t.voordracht_id, t.made_at).where(
        t.tenant_oin == tenant_oin, t.proposal_key == key).with_for_update()).first()
    if row is not None:
        if row.voordracht_id and row.made_at > now - WINDOW:
            return Claim(voordracht_id=row.voordracht_id)
        if not row.voordracht_id and row.made_at > now - lease:
            return Claim()
        connection.execute(update(voordracht).where(t.tenant_oin == tenant_oin, t.proposal_key == key)
                           .values(voordracht_id=None, made_at=now))
        return Claim(mine=True)
    inserted = connection.execute(insert_for(connection)(voordracht).values(
        tenant_oin=tenant_oin, proposal_key=key, voordracht_id=None, made_at=now)
        .on_conflict_do_nothing(index_elements=[t.tenant_oin, t.proposal_key]).returning(t.proposal_key)).first()
    return Claim(mine=inserted is not None)  # lost a race to an identical proposal: that one is being sent


def complete(connection: Connection, tenant_oin: str, key: str, voordracht_id: str) -> None:
    t = voordracht.c
    connection.execute(update(voordracht).where(t.tenant_oin == tenant_oin, t.proposal_key == key)
                       .values(voordracht_id=voordracht_id))


def release(connection: Connection, tenant_oin: str, key: str) -> None:
    """The proposal was not made (WL 2.0 unreachable, refused it): forget the claim, so a retry sends it."""
    t = voordracht.c
    connection.execute(delete(voordracht).where(t.tenant_oin == tenant_oin, t.proposal_key == key,
                                                t.voordracht_id.is_(None)))


def purge(connection: Connection, before: datetime) -> int:
    return connection.execute(delete(voordracht).where(voordracht.c.made_at < before)).rowcount
