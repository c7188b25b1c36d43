"""Mutations: stored once per MutatieId, numbered per school without gaps even with several writing processes,
delivered when the school asks past them, purged after the retention, and nothing half-written after a crash."""
from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest

from adapter.store import Mutation, Store
from tests.support.servers import ROOT
from tests.support.store import OTHER_SCHOOL, SCHOOL, guid


def _mutation(n, soort="ERKENNING_INGETROKKEN", **kw) -> Mutation:
    return Mutation(mutatie_id=guid(n), soort=soort, leerbedrijf_id="100", ingangsdatum=date(2026, 2, 1), **kw)


def test_a_repeated_mutation_is_stored_once(store):
    first = store.store_mutation(SCHOOL, _mutation(1, crebo="25180", toelichting="ingetrokken",
                                                   abonnement_id=guid("a")))
    again = store.store_mutation(SCHOOL, Mutation(**{**_mutation(1).__dict__, "mutatie_id": guid(1).upper()}))
    assert (first.volgnummer, first.created, again.volgnummer, again.created) == (1, True, 1, False)
    assert store.store_mutation(SCHOOL, _mutation(2)).volgnummer == 2
    [row, _] = store.mutations_after(SCHOOL, 0, 10)
    assert row.mutation == _mutation(1, crebo="25180", toelichting="ingetrokken", abonnement_id=guid("a"))
    assert row.delivered_at is None and row.received_at == store.clock()


def test_a_mutation_as_a_dict_is_what_asdict_gives_in_its_order():
    for m in (_mutation(1), _mutation(2, soort="LEERBEDRIJFID_GEWIJZIGD", oud_leerbedrijf_id="99", crebo="25180",
                                      toelichting="t", abonnement_id=guid("a"))):
        assert list(m.as_dict().items()) == list(dataclasses.asdict(m).items())


def test_each_school_has_its_own_numbers_and_sees_only_its_own(store):
    store.store_mutation(SCHOOL, _mutation(1))
    other = store.store_mutation(OTHER_SCHOOL, _mutation(1))  # the same push for another school
    store.store_mutation(SCHOOL, _mutation(2))
    assert (other.volgnummer, other.created) == (1, True)
    assert [r.volgnummer for r in store.mutations_after(OTHER_SCHOOL, 0, 10)] == [1]
    assert [r.mutation.mutatie_id for r in store.mutations_after(SCHOOL, 0, 10)] == [guid(1), guid(2)]


def test_an_id_change_updates_the_mapping_with_the_mutation(store):
    store.add_mapping("OLD-CODE", "100")
    store.store_mutation(SCHOOL, Mutation(guid(1), "LEERBEDRIJFID_GEWIJZIGD", "900", date(2026, 2, 1),
                                          oud_leerbedrijf_id="100"))
    assert (store.resolve_code("OLD-CODE"), store.resolve_code("100")) == ("900", "900")
    with pytest.raises(ValueError, match="oud_leerbedrijf_id: required"):
        Mutation(guid(2), "LEERBEDRIJFID_GEWIJZIGD", "900", date(2026, 2, 1))


def test_cursor_paging_marks_delivered_and_purge_keeps_undelivered(store, clock):
    for n in range(1, 6):
        store.store_mutation(SCHOOL, _mutation(n))
    store.store_mutation(OTHER_SCHOOL, _mutation(1))
    assert [r.volgnummer for r in store.mutations_after(SCHOOL, 0, 2)] == [1, 2]
    page = store.mutations_after(SCHOOL, 2, 2)  # asking from 2: 1 and 2 are delivered
    assert [r.volgnummer for r in page] == [3, 4]
    assert store.mutations_after(SCHOOL, 5, 100) == []
    assert store.mutations_after(SCHOOL, 0, 100)[0].delivered_at == clock()

    clock.advance(days=30)
    assert store.purge_delivered() == 0  # delivered exactly 30 days ago: still within the retention
    clock.advance(seconds=1)
    assert store.purge_delivered(timedelta(days=30)) == 5
    assert store.mutations_after(SCHOOL, 0, 100) == []
    assert [r.volgnummer for r in store.mutations_after(OTHER_SCHOOL, 0, 100)] == [1]  # never asked for: kept
    clock.advance(days=3650)
    assert store.purge_delivered(timedelta(0)) == 0
    assert store.store_mutation(SCHOOL, _mutation(6)).volgnummer == 6  # numbers go on after a purge


_WRITER = """
import sys, time, uuid
from datetime import date
from adapter.store import Mutation, Store
url, tenant, worker, count, start = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
s = Store(url)
def push(name):
    m = Mutation(str(uuid.uuid5(uuid.NAMESPACE_URL, name)), "ERKENNING_GEWIJZIGD", "100", date(2026, 2, 1))
    s.store_mutation(tenant, m)
time.sleep(max(0.0, start - time.time()))
for i in range(count):
    push(f"{worker}/{i}")
    if i % 5 == 0:
        push(f"shared/{i}")  # every writer pushes these too: each must be stored exactly once
"""
WRITERS, PER_WRITER = 4, 30


def test_concurrent_writers_never_show_a_gap(store, store_url):
    start = time.time() + 2.0
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, store_url, SCHOOL, f"w{w}", str(PER_WRITER),
                                 str(start)], cwd=ROOT, stderr=subprocess.PIPE, text=True) for w in range(WRITERS)]
    reader = Store(store_url)
    cursor, polls, seen_max = 0, 0, 0
    try:
        while any(w.poll() is None for w in writers) or polls == 0:
            everything = [r.volgnummer for r in reader.mutations_after(SCHOOL, 0, 100_000)]
            assert everything == list(range(1, len(everything) + 1)), f"gap seen: {everything}"
            seen_max = max(seen_max, len(everything))
            batch = [r.volgnummer for r in reader.mutations_after(SCHOOL, cursor, 7)]
            assert batch == list(range(cursor + 1, cursor + 1 + len(batch))), f"after {cursor}: {batch}"
            cursor = batch[-1] if batch else cursor
            polls += 1
    finally:
        for w in writers:
            w.wait(60)
    assert [w.returncode for w in writers] == [0] * WRITERS, [w.stderr.read() for w in writers]

    rows = reader.mutations_after(SCHOOL, 0, 100_000)
    shared = len(range(0, PER_WRITER, 5))
    expected = WRITERS * PER_WRITER + shared
    assert [r.volgnummer for r in rows] == list(range(1, expected + 1))
    assert len({r.mutation.mutatie_id for r in rows}) == expected
    assert seen_max > 0 and polls > 3, (polls, seen_max)  # the reader really ran alongside the writers
    reader.close()


_DIE_MID_TRANSACTION = """
import sys, time
from datetime import date
from adapter.store import Mutation, Store
from adapter.store.engine import write_transaction
from adapter.store.mutations import store_mutation
s = Store(sys.argv[1])
with write_transaction(s.engine) as c:
    store_mutation(c, sys.argv[2], Mutation(sys.argv[3], "LEERBEDRIJFID_GEWIJZIGD", "900", date(2026, 2, 1),
                                            oud_leerbedrijf_id="100"), s.clock())
    print("written, not committed", flush=True)
    time.sleep(60)
"""


def test_a_process_killed_mid_transaction_leaves_nothing_behind(store, store_url):
    proc = subprocess.Popen([sys.executable, "-c", _DIE_MID_TRANSACTION, store_url, SCHOOL, guid(1)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "written, not committed", proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert store.mutations_after(SCHOOL, 0, 10) == []
    assert store.resolve_code("100") is None
    stored = store.store_mutation(SCHOOL, _mutation(1))
    assert (stored.volgnummer, stored.created) == (1, True)
    assert [r.volgnummer for r in store.mutations_after(SCHOOL, 0, 10)] == [1]
