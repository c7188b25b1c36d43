"""Recognition proposals in the store (SQLite and PostgreSQL): a repeat within 24 hours finds the first
VoordrachtId; a proposal being sent is claimed once; a released claim lets a retry send it; old ones are forgotten."""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from adapter.store import Store
from adapter.store.engine import read_transaction
from adapter.store.schema import voordracht
from adapter.store.voordrachten import proposal_key
from tests.support.store import OTHER_SCHOOL, SCHOOL

LEASE = timedelta(seconds=20)
VID = "7d1f0b52-3c8e-4a9f-b6d2-5e4a1c9f0b37"


def key(**overrides) -> str:
    fields = {"kvk": None, "naam": "Kapsalon Knipwerk", "postcode": "3572BK", "crebo": "25394", "leerweg": "BBL"}
    fields.update(overrides)
    return proposal_key(**fields)


def test_the_key_ignores_case_and_spacing_of_the_name_and_prefers_the_kvk_number():
    assert key() == key(naam="  kapsalon   KNIPWERK ") == key(postcode="3572 bk")
    assert key() != key(naam="Kapsalon Knipwerk B.V.")
    assert key() != key(postcode="3572BL") and key() != key(crebo="25395") and key() != key(leerweg="BOL")
    assert key(kvk="61234987") == key(kvk="61234987", naam="Andere naam", postcode="1234AB")
    assert key(kvk="61234987") != key(kvk="61234988")
    assert len(key()) == 64 and "Knipwerk" not in key()  # only a hash is kept


def test_first_claim_is_mine_then_the_repeat_finds_the_first_voordracht_id(store, clock):
    assert store.claim_voordracht(SCHOOL, key(), LEASE).mine
    store.complete_voordracht(SCHOOL, key(), VID)
    clock.advance(hours=23, minutes=59)
    again = store.claim_voordracht(SCHOOL, key(), LEASE)
    assert (again.voordracht_id, again.mine) == (VID, False)
    # another school proposing the same company makes its own proposal
    assert store.claim_voordracht(OTHER_SCHOOL, key(), LEASE).mine


def test_after_24_hours_the_same_proposal_is_new(store, clock):
    assert store.claim_voordracht(SCHOOL, key(), LEASE).mine
    store.complete_voordracht(SCHOOL, key(), VID)
    clock.advance(hours=24, seconds=1)
    assert store.claim_voordracht(SCHOOL, key(), LEASE).mine
    store.complete_voordracht(SCHOOL, key(), "0c6a9e41-58d2-4f7b-9e13-2a8b7c4d6f90")
    clock.advance(hours=1)
    assert store.claim_voordracht(SCHOOL, key(), LEASE).voordracht_id == "0c6a9e41-58d2-4f7b-9e13-2a8b7c4d6f90"


def test_a_proposal_being_sent_is_neither_repeated_nor_answered_until_its_lease_ends(store, clock):
    assert store.claim_voordracht(SCHOOL, key(), LEASE).mine
    waiting = store.claim_voordracht(SCHOOL, key(), LEASE)
    assert (waiting.voordracht_id, waiting.mine) == (None, False)
    clock.advance(seconds=21)  # the sender died: its claim expires
    assert store.claim_voordracht(SCHOOL, key(), LEASE).mine


def test_a_released_claim_lets_a_retry_send_it(store):
    assert store.claim_voordracht(SCHOOL, key(), LEASE).mine
    store.release_voordracht(SCHOOL, key())
    assert store.claim_voordracht(SCHOOL, key(), LEASE).mine
    store.complete_voordracht(SCHOOL, key(), VID)
    store.release_voordracht(SCHOOL, key())  # a completed proposal is never released
    assert store.claim_voordracht(SCHOOL, key(), LEASE).voordracht_id == VID


def test_purge_forgets_proposals_older_than_24_hours(store, clock):
    store.claim_voordracht(SCHOOL, key(), LEASE)
    store.complete_voordracht(SCHOOL, key(), VID)
    clock.advance(hours=12)
    store.claim_voordracht(SCHOOL, key(leerweg="BOL"), LEASE)
    clock.advance(hours=13)
    assert store.purge_voordrachten() == 1
    with read_transaction(store.engine) as c:
        left = c.execute(select(voordracht.c.proposal_key)).scalars().all()
    assert left == [key(leerweg="BOL")]


def test_concurrent_identical_proposals_get_one_claim(store_url, clock):
    stores = [Store(store_url, clock=clock) for _ in range(8)]
    stores[0].migrate()
    start = threading.Barrier(len(stores))
    outcomes = []

    def claim(s: Store) -> None:
        start.wait()
        outcomes.append(s.claim_voordracht(SCHOOL, key(), LEASE).mine)

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for s in stores:
        s.close()
    assert sorted(outcomes) == [False] * 7 + [True]
