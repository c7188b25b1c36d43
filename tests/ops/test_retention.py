"""Delivered mutations are purged by the running adapter after the retention; undelivered ones are kept."""
from __future__ import annotations

import time

from sqlalchemy import create_engine, text

from tests.support.mutations import geef_mutaties, mutaties_of, post_push, push_body
from tests.support.servers import LICENCE, OTHER_LICENCE, OTHER_SCHOOL_OIN, SCHOOL_OIN
from tests.support.soap import push_envelope


def test_delivered_mutations_are_purged_and_undelivered_kept(simulator, start_adapter):
    adapter = start_adapter(f"{simulator.url}/wl2",
                            extra="\n[mutations]\nretention_days = 0\npurge_interval_s = 0.3\n")
    for oin in (SCHOOL_OIN, SCHOOL_OIN, OTHER_SCHOOL_OIN):
        data, _ = push_envelope(f"{adapter.url}/wl2/mutaties", oin, push_body())
        assert post_push(adapter, data).signaalcode == 0

    assert [m["Volgnummer"] for m in mutaties_of(geef_mutaties(adapter, LICENCE, 0))] == [1, 2]
    geef_mutaties(adapter, LICENCE, 1)  # asking from 1: number 1 counts as delivered, 2 not yet
    engine = create_engine(adapter.store_url)

    def stored() -> list[tuple[str, int]]:
        with engine.connect() as c:
            return sorted(c.execute(text("SELECT tenant_oin, volgnummer FROM mutation")).all())

    deadline = time.monotonic() + 10
    while len(stored()) > 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stored() == sorted([(SCHOOL_OIN, 2), (OTHER_SCHOOL_OIN, 1)])
    # the cursor is unaffected: a client still gets what it has not confirmed
    assert [m["Volgnummer"] for m in mutaties_of(geef_mutaties(adapter, LICENCE, 1))] == [2]
    assert [m["Volgnummer"] for m in mutaties_of(geef_mutaties(adapter, OTHER_LICENCE, 0))] == [1]
