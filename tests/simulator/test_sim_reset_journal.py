"""POST /admin/reset and the journal: between test runs both sides return to a known state (the simulator to its
seed, the adapter's subscriptions re-made by ``subscriptions sync`` so withdrawals arrive again), and the journal
shows the calls and the pushes with their acknowledgements, filtered by operation, school and time."""
from __future__ import annotations

import datetime as dt

import pytest
import requests

from tests.support.mutations import (
    CompanyPool,
    School,
    fire,
    geef_mutaties,
    mutaties_of,
    schools_config,
    sim_companies,
    subscribe,
    subscriptions_at_sbb,
    wait_acknowledged,
    wait_until,
)
from tests.support.servers import AdapterServer, start_simulator_process

SCHOOL = School(913)
COUNT = 60


@pytest.fixture
def pair(tmp_path):
    sim = start_simulator_process(tmp_path / "sim.log", count=COUNT)
    adapter = None
    try:
        adapter = AdapterServer(tmp_path / "adapter", f"{sim.url}/wl2", extra=schools_config(SCHOOL))
        yield sim, adapter
    finally:
        if adapter is not None:
            adapter.stop()
        sim.stop()


def get(sim, path: str, **params):
    r = requests.get(f"{sim.url}/admin/{path}", params=params, timeout=10)
    return r


def journal(sim, **params) -> list[dict]:
    r = get(sim, "journal", **params)
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def status_of(sim, leerbedrijf_id: str, crebo: str) -> set[str]:
    company = get(sim, "leerbedrijven", leerbedrijfId=leerbedrijf_id).json()
    return {e["status"] for e in company["erkenningen"] if e["crebonummer"] == crebo}


def active_ids(adapter) -> set[str]:
    run = adapter.cli("subscriptions", "list", "--tenant", SCHOOL.oin)
    assert run.returncode == 0, run.stderr
    return {line.split()[4] for line in run.stdout.splitlines()[1:] if " active " in line}


def test_reset_cleans_both_sides_and_withdrawals_arrive_again_after_sync(pair):
    sim, adapter = pair
    company, (crebo, *_) = CompanyPool(sim_companies(sim, COUNT)).take()
    lb = company["leerbedrijfId"]
    sub = subscribe(sim, adapter, SCHOOL, lb, lb, crebo)
    first = fire(sim, soort="GEGEVENS_GEWIJZIGD", leerbedrijfId=lb, toelichting="Nieuw adres")
    wait_acknowledged(sim, [p["mutatieId"] for p in first])

    # the journal: the push and the school's acknowledgement, by school and operation
    [push] = journal(sim, kind="push", oin=SCHOOL.oin)
    assert push["operation"] == "MutatieLeerbedrijf" and push["httpStatus"] == 200
    assert push["push"]["mutatieId"] == first[0]["mutatieId"] and push["push"]["outcome"] == "acknowledged"
    assert "MutatieLeerbedrijfRequest" in push["request"] and "MutatieLeerbedrijfResponse" in push["response"]
    calls = journal(sim, operation="VerzoekAbonnementMutaties", oin=SCHOOL.oin)
    assert len(calls) == 1 and calls[0]["kind"] == "call" and sub["abonnementId"] in calls[0]["response"]
    everything = journal(sim, limit=1000)
    assert [e["id"] for e in everything] == sorted((e["id"] for e in everything), reverse=True)  # newest first
    assert len(journal(sim, limit=1)) == 1
    assert journal(sim, oin="00000007000XXXX00000") == []
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)).isoformat()
    assert journal(sim, since=later) == []
    assert {e["id"] for e in journal(sim, since=push["time"])} >= {push["id"]}
    bad = get(sim, "journal", since="gisteren")
    assert bad.status_code == 400 and bad.json()["field"] == "since"

    # a withdrawal changes the data; reset brings the seed's data back and forgets everything else
    fire(sim, soort="ERKENNING_INGETROKKEN", leerbedrijfId=lb, crebonummer=crebo, ingangsdatum="2026-01-01")
    assert status_of(sim, lb, crebo) == {"INGETROKKEN"}
    requests.post(f"{sim.url}/admin/scenario", json={"operation": "*", "latency_ms": 1}, timeout=5)
    r = requests.post(f"{sim.url}/admin/reset", timeout=30)
    assert r.status_code == 200 and r.json()["leerbedrijven"] == COUNT and r.json()["seed"] == 1, r.text
    assert "ERKEND" in status_of(sim, lb, crebo)
    assert get(sim, "abonnementen").json()["abonnementen"] == []
    assert get(sim, "pushes").json()["pushes"] == []
    assert get(sim, "scenario").json()["scenarios"] == {}
    assert journal(sim, limit=1000) == [e for e in journal(sim, limit=1000) if e["id"] > everything[0]["id"]]

    # the adapter still holds the subscription the simulator forgot: stale, withdrawals would never arrive
    assert sub["abonnementId"].lower() in active_ids(adapter)
    run = adapter.cli("subscriptions", "sync")
    assert run.returncode == 0 and "re-subscribe" in run.stdout, run.stdout + run.stderr
    renewed = wait_until(lambda: next(iter(subscriptions_at_sbb(sim, SCHOOL.oin)), None), timeout=15, interval=0.2,
                         what="the subscription made again at the simulator")
    assert renewed["leerbedrijfId"] == lb and renewed["crebonummer"] == crebo
    wait_until(lambda: active_ids(adapter) == {renewed["abonnementId"].lower()}, timeout=10, interval=0.2,
               what="the store holding only the renewed subscription")

    pushes = fire(sim, soort="ERKENNING_INGETROKKEN", leerbedrijfId=lb, crebonummer=crebo, ingangsdatum="2026-12-01")
    wait_acknowledged(sim, [p["mutatieId"] for p in pushes])
    feed = mutaties_of(geef_mutaties(adapter, SCHOOL.licence, 0))
    assert (feed[0]["Soort"], feed[-1]["Soort"], str(feed[-1]["Ingangsdatum"])) == (
        "WIJZIGING_GEGEVENS", "INTREKKING", "2026-12-01")


def test_reset_to_another_seed_and_size_and_bad_input(tmp_path):
    sim = start_simulator_process(tmp_path / "sim.log", count=20)
    try:
        before = get(sim, "leerbedrijven", limit=1).json()["leerbedrijven"][0]
        r = requests.post(f"{sim.url}/admin/reset", json={"seed": 7, "leerbedrijven": 30}, timeout=30)
        assert r.status_code == 200 and (r.json()["seed"], r.json()["leerbedrijven"]) == (7, 30), r.text
        after = get(sim, "leerbedrijven", limit=1).json()
        assert after["total"] == 30 and after["leerbedrijven"][0]["naam"] != before["naam"]
        assert get(sim, "health").json()["seed"] == 7
        for body, field in (({"seed": -1}, "seed"), ({"leerbedrijven": 0}, "leerbedrijven"),
                            ({"zaad": 1}, "zaad"), ([], "(body)")):
            r = requests.post(f"{sim.url}/admin/reset", json=body, timeout=10)
            assert r.status_code == 400 and r.json()["field"] == field, r.text
        assert get(sim, "health").json()["leerbedrijven"] == 30  # a refused reset changed nothing
    finally:
        sim.stop()
