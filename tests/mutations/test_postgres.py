"""The mutations bridge on PostgreSQL, with two adapter processes sharing one database.

Each run creates its own database ``wl_test_<random>`` and drops it afterwards; the module is skipped (with the
reason) only when PostgreSQL on 127.0.0.1:5432 cannot be reached. Both adapters serve the same schools: a school
subscribed to one company through adapter A and to another through adapter B gets pushes at both addresses, and
GeefMutaties through either adapter serves all of them, numbered without gaps, each exactly once.
"""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from adapter.store.store import DEFAULT_MAPPING_CHECK_S
from tests.support.mutations import (
    CompanyPool,
    School,
    admin,
    assert_acknowledgement,
    fire,
    geef_mutaties,
    import_sim_mapping,
    mutaties_of,
    post_push,
    push_body,
    push_signature,
    read_all,
    schools_config,
    signature,
    sim_companies,
    subscribe,
    verify,
    wait_acknowledged,
    wait_until,
)
from tests.support.servers import OTHER_LICENCE, AdapterServer, start_simulator_process
from tests.support.soap import push_envelope
from tests.support.store import PG_ADMIN

SCHOOLS = {name: School(n) for n, name in enumerate(["two_adapters", "id_change", "raw", "cursor", "down"], start=20)}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    server = start_simulator_process(tmp_path_factory.mktemp("pg-sim") / "simulator.log", count=120)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pool(sim) -> CompanyPool:
    return CompanyPool(sim_companies(sim, 120))


@pytest.fixture(scope="module")
def adapters(sim, pg_url, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("pg-adapters")
    extra = schools_config(*SCHOOLS.values())
    a = AdapterServer(workdir / "a", f"{sim.url}/wl2", store_url=pg_url, extra=extra, workers=2)
    b = None
    try:
        # a caches resolved codes as shipped ([store] mapping_check_s = 1); b reads the mapping on every call
        b = AdapterServer(workdir / "b", f"{sim.url}/wl2", store_url=pg_url, extra=extra, workers=2,
                          env={"WL_ADAPTER_STORE_MAPPING_CHECK_S": "0"})
        import_sim_mapping(a, workdir)  # one database: imported once, seen by both
        yield a, b
    finally:
        for server in (a, b):
            if server is not None:
                server.stop()


def test_two_adapters_one_database_every_push_served_once_through_either(sim, adapters, pool):
    a, b = adapters
    school = SCHOOLS["two_adapters"]
    (x, (x_crebo, *_)), (y, (y_crebo, *_)) = pool.take(), pool.take()
    x_id, y_id = x["leerbedrijfId"], y["leerbedrijfId"]
    sub_x = subscribe(sim, a, school, x_id, x_id, x_crebo)
    sub_y = subscribe(sim, b, school, y_id, y_id, y_crebo)
    assert sub_x["afleveradres"] == f"{a.url}/wl2/mutaties"
    assert sub_y["afleveradres"] == f"{b.url}/wl2/mutaties"
    for server in (a, b):  # one store: each adapter lists both
        listing = wait_until(lambda: (lambda out: out if out.count(" active ") == 2 else None)(
            server.cli("subscriptions", "list", "--tenant", school.oin).stdout), what="both subscriptions stored")
        assert sub_x["abonnementId"].lower() in listing and sub_y["abonnementId"].lower() in listing

    # events for both companies at once: two push queues, two adapters, storing concurrently
    pushed: list[dict] = []
    lock = threading.Lock()

    def burst(lb_id: str, crebo: str, tag: str):
        for i in range(12):
            got = fire(sim, soort="ERKENNING_GEWIJZIGD", leerbedrijfId=lb_id, crebonummer=crebo,
                       toelichting=f"{tag} {i:02d}")
            with lock:
                pushed.extend(got)
    threads = [threading.Thread(target=burst, args=args) for args in ((x_id, x_crebo, "x"), (y_id, y_crebo, "y"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    pushes = wait_acknowledged(sim, [p["mutatieId"] for p in pushed], timeout=30)
    assert {p["afleveradres"] for p in pushes} == {f"{a.url}/wl2/mutaties", f"{b.url}/wl2/mutaties"}

    by_text = {p["toelichting"]: p for p in pushes}
    for server in (a, b):
        served = read_all(server, school.licence, 0, maximum=5)
        assert [m["Volgnummer"] for m in served] == list(range(1, 25)), "gaps or repeats"
        texts = [m["Omschrijving"] for m in served]
        assert sorted(texts) == sorted(by_text), "a push missing or served twice"
        assert [signature(m) for m in served] == [push_signature(by_text[t]) for t in texts]
        for tag in ("x", "y"):  # per subscription in the order SBB pushed
            order = [t for t in texts if t.startswith(tag)]
            assert order == sorted(order)

    # a client alternating between the two adapters with a small page misses nothing and repeats nothing
    seen, vanaf, servers = [], 0, [a, b]
    for step in range(20):
        result = geef_mutaties(servers[step % 2], school.licence, vanaf, 2)
        assert result["Signaalcode"] == 0
        seen += mutaties_of(result)
        vanaf = result["LaatsteVolgnummer"]
    assert [m["Volgnummer"] for m in seen] == list(range(1, 25)) and vanaf == 24
    for server in (a, b):
        result = geef_mutaties(server, OTHER_LICENCE, 0)
        assert result["Mutaties"] is None and result["LaatsteVolgnummer"] == 0


def test_withdrawal_and_id_change_through_postgres(sim, adapters, pool):
    a, b = adapters
    school = SCHOOLS["id_change"]
    company, (crebo, *_) = pool.take(old_code=True)
    old_id, old_code, new_id = company["leerbedrijfId"], company["codeLeerbedrijf"], "660000000001"
    subscribe(sim, a, school, old_code, old_id, crebo)
    for server in (a, b):  # the workers (most likely all four) have resolved old_code -> old_id
        for _ in range(4):
            assert verify(server, school.licence, old_code, crebo)["Signaalcode"] == 0
    first = fire(sim, soort="LEERBEDRIJFID_GEWIJZIGD", leerbedrijfId=old_id, nieuwLeerbedrijfId=new_id)
    wait_acknowledged(sim, [p["mutatieId"] for p in first])  # stored by one of a's workers, committed
    acknowledged = time.monotonic()
    # old keys resolve through either adapter to the new id (the mapping lives in the shared store; WL 2.0 no
    # longer knows the old id). b reads the mapping on every call: at once, through both its workers.
    for _ in range(4):
        for code in (old_id, old_code):
            assert verify(b, school.licence, code, crebo)["Signaalcode"] == 0, (b.url, code)
    # a keeps the default: a worker that did not store the push may answer from its cache for up to
    # mapping_check_s (1 s) after the commit; after that, every worker of a has followed the change
    time.sleep(max(0.0, acknowledged + DEFAULT_MAPPING_CHECK_S + 0.5 - time.monotonic()))
    for _ in range(4):
        for code in (old_id, old_code):
            assert verify(a, school.licence, code, crebo)["Signaalcode"] == 0, (a.url, code)
    second = fire(sim, soort="ERKENNING_INGETROKKEN", leerbedrijfId=new_id, crebonummer=crebo,
                  ingangsdatum="2026-12-31", toelichting="Ingetrokken")
    wait_acknowledged(sim, [p["mutatieId"] for p in second])
    served = read_all(b, school.licence)
    assert [(m["Volgnummer"], m["Soort"], m["CodeLeerbedrijf"], m["OudeCodeLeerbedrijf"]) for m in served] == [
        (1, "WIJZIGING_CODE", new_id, old_id), (2, "INTREKKING", new_id, None)]
    assert (served[1]["Crebonummer"], str(served[1]["Ingangsdatum"]), served[1]["Omschrijving"]) == (
        int(crebo), "2026-12-31", "Ingetrokken")
    assert verify(b, school.licence, old_code, crebo, peildatum="2026-12-31")["Signaalcode"] == 2


def test_same_mutatie_id_at_both_adapters_concurrently_is_stored_once(adapters):
    a, b = adapters
    school = SCHOOLS["raw"]
    for round_ in range(3):
        mutatie_id = str(uuid.uuid4())
        answers, errors = [], []

        def send(server, n):
            try:
                data, message_id = push_envelope(f"{server.url}/wl2/mutaties", school.oin, push_body(
                    mutatie_id, soort="GEGEVENS_GEWIJZIGD", leerbedrijf_id="555555", crebo=None,
                    toelichting=f"ronde {round_}"))
                answers.append((post_push(server, data), message_id))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
        threads = [threading.Thread(target=send, args=(server, n)) for n in range(4) for server in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert not errors and len(answers) == 8
        for answer, message_id in answers:
            assert_acknowledgement(answer, message_id, 0)
    for server in (a, b):
        served = read_all(server, school.licence)
        assert [(m["Volgnummer"], m["Omschrijving"]) for m in served] == [(1, "ronde 0"), (2, "ronde 1"),
                                                                           (3, "ronde 2")]


def test_concurrent_distinct_pushes_at_both_adapters_are_numbered_without_gaps(adapters):
    a, b = adapters
    school = SCHOOLS["cursor"]
    errors = []

    def send(server, tag):
        try:
            for i in range(15):
                data, message_id = push_envelope(f"{server.url}/wl2/mutaties", school.oin, push_body(
                    soort="GEGEVENS_GEWIJZIGD", leerbedrijf_id="444444", crebo=None, toelichting=f"{tag} {i:02d}"))
                assert_acknowledgement(post_push(server, data), message_id, 0)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
    threads = [threading.Thread(target=send, args=(server, f"{name}{n}")) for n in range(2)
               for name, server in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    served = read_all(a, school.licence, 0, maximum=1)
    assert [m["Volgnummer"] for m in served] == list(range(1, 61))
    texts = [m["Omschrijving"] for m in served]
    assert len(set(texts)) == 60
    for tag in ("a0", "a1", "b0", "b1"):  # each sender's pushes in the order it sent them
        order = [t for t in texts if t.startswith(tag)]
        assert order == sorted(order) and len(order) == 15
    assert read_all(b, school.licence, 0, maximum=500) == served


def test_push_while_the_database_is_down_gets_a_server_fault_and_is_retried(sim, adapters, pool, pg_url):
    """Nothing is acknowledged that is not stored: with the database refusing connections a push gets soap:Server
    (no internals), SBB keeps retrying, and once the database is back the push is stored and served once."""
    psycopg = pytest.importorskip("psycopg")
    a, _ = adapters
    school = SCHOOLS["down"]
    company, (crebo, *_) = pool.take()
    lb_id = company["leerbedrijfId"]
    subscribe(sim, a, school, lb_id, lb_id, crebo)
    wait_until(lambda: "active" in a.cli("subscriptions", "list", "--tenant", school.oin).stdout,
               what="subscription stored")
    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            pushes = fire(sim, soort="ERKENNING_INGETROKKEN", leerbedrijfId=lb_id, crebonummer=crebo,
                          toelichting="tijdens storing")
            [push] = pushes

            def retried():
                p = next(p for p in admin(sim, "pushes")["pushes"] if p["mutatieId"] == push["mutatieId"])
                return p if p["attempts"] >= 2 else None
            seen = wait_until(retried, what="the push failing and being retried")
            assert seen["state"] == "pending" and "Server" in (seen["lastError"] or ""), seen
            data, _ = push_envelope(f"{a.url}/wl2/mutaties", school.oin, push_body(leerbedrijf_id=lb_id))
            answer = post_push(a, data)
            assert answer.status == 500
            code, string = answer.fault
            assert code.endswith(":Server") and "Traceback" not in string and "psycopg" not in string, string
        finally:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    wait_acknowledged(sim, [push["mutatieId"]], timeout=30)
    served = read_all(a, school.licence)
    assert [(m["Volgnummer"], m["Soort"], m["Omschrijving"]) for m in served] == [
        (1, "INTREKKING", "tijdens storing")]
