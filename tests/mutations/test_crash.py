"""The adapter is killed (SIGKILL, the whole process group) in the middle of a burst of pushes and restarted on the
same port and store. SBB retries what was not acknowledged; afterwards every mutation SBB pushed is served through
GeefMutaties exactly once, numbered 1..N without gaps, in the order SBB pushed it per subscription."""
from __future__ import annotations

import threading
import time

from tests.support.mutations import (
    CompanyPool,
    admin,
    fire,
    push_signature,
    read_all,
    signature,
    sim_companies,
    subscribe,
    wait_until,
)
from tests.support.servers import LICENCE, SCHOOL_OIN, AdapterServer, start_simulator_process

KILLS = 2
AFTER_LAST_KILL = 8  # events the burst still fires once the adapter was killed for the last time
MAX_EVENTS = 200  # (on a loaded machine a restart is slow: the burst lasts as long as the kills need)


class School:  # the configured default school, in the shape the bridge helpers expect
    oin = SCHOOL_OIN
    licence = LICENCE


def test_kill_mid_burst_then_every_push_is_served_exactly_once(tmp_path):
    sim = start_simulator_process(tmp_path / "simulator.log", count=60)
    adapter = None
    try:
        adapter = AdapterServer(tmp_path / "adapter", f"{sim.url}/wl2", workers=2)
        port, store_url = adapter.port, adapter.store_url
        pool = CompanyPool(sim_companies(sim, 60))
        subjects = []
        for _ in range(2):  # two subscriptions: two push queues at SBB, interleaved at the adapter
            company, (crebo, *_) = pool.take()
            subscribe(sim, adapter, School, company["leerbedrijfId"], company["leerbedrijfId"], crebo)
            subjects.append((company["leerbedrijfId"], crebo))

        fired: list[dict] = []
        errors: list[BaseException] = []
        last_kill_done = threading.Event()

        def burst():
            try:
                after = 0
                for i in range(MAX_EVENTS):
                    if last_kill_done.is_set():
                        after += 1
                        if after > AFTER_LAST_KILL and i % 2 == 0:  # an even number: as many per subscription
                            break
                    lb_id, crebo = subjects[i % 2]
                    fired.extend(fire(sim, soort="ERKENNING_GEWIJZIGD", leerbedrijfId=lb_id, crebonummer=crebo,
                                      toelichting=f"event {i:03d}"))
                    time.sleep(0.08)
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        def acknowledged() -> int:
            return sum(p["state"] == "acknowledged" for p in admin(sim, "pushes")["pushes"])

        sender = threading.Thread(target=burst, daemon=True)
        sender.start()
        acked_at_start = 0
        for kill in range(KILLS):
            wait_until(lambda: len(fired) >= 8 + 14 * kill and acknowledged() >= acked_at_start + 3, timeout=20,
                       interval=0.01, what="a few more pushes acknowledged before the kill")
            adapter.kill()  # SIGKILL: no clean shutdown, pushes may be in flight or half-stored
            adapter.stop()  # (only closes its log: the process is gone)
            killed_at = len(fired)
            time.sleep(0.4)  # SBB meanwhile fails to deliver and backs off
            adapter = AdapterServer(tmp_path / "adapter", f"{sim.url}/wl2", store_url=store_url, workers=2,
                                    port=port)
            acked_at_start = acknowledged()
        last_kill_done.set()
        sender.join(30)
        assert not sender.is_alive() and not errors, errors
        events = len(fired)
        assert killed_at < events < MAX_EVENTS, "the burst should still be running at the last kill"

        def all_final():
            pushes = admin(sim, "pushes")["pushes"]
            return pushes if all(p["state"] != "pending" for p in pushes) else None
        pushes = wait_until(all_final, timeout=40, interval=0.1, what="every push final")
        ours = [p for p in pushes if p["soort"] == "ERKENNING_GEWIJZIGD"]
        assert len(ours) == events
        assert [p["state"] for p in ours] == ["acknowledged"] * events, [p for p in ours if p["state"] != "acknowledged"]
        assert any(p["attempts"] > 1 for p in ours), "no push was ever retried: the kill hit nothing"

        served = read_all(adapter, LICENCE, 0, maximum=7)
        assert [m["Volgnummer"] for m in served] == list(range(1, events + 1)), "gaps or repeats in Volgnummer"
        texts = [m["Omschrijving"] for m in served]
        assert sorted(texts) == sorted(p["toelichting"] for p in ours), "a push missing or served twice"
        by_text = {p["toelichting"]: p for p in ours}
        assert [signature(m) for m in served] == [push_signature(by_text[t]) for t in texts]
        for lb_id, _ in subjects:  # per subscription, in the order SBB pushed them
            order = [m["Omschrijving"] for m in served if m["CodeLeerbedrijf"] == lb_id]
            assert order == sorted(order) and len(order) == events // 2
    finally:
        if adapter is not None:
            adapter.stop()
        sim.stop()
