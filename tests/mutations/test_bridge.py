"""The mutations bridge end to end: VerifieerAccreditatie → WL 2.0 subscription → SBB pushes MutatieLeerbedrijf to the
adapter's /wl2/mutaties → a legacy client reads them through GeefMutaties; the push receiver with raw envelopes;
``wl-adapter subscriptions sync``.

Real processes on loopback: this module's own simulator (events change its data) and adapter (several schools,
one per test, so every test starts from Volgnummer 0); zeep clients from the served WSDLs; raw HTTP for pushes.
Its helpers are in tests/support/mutations.py.
"""
from __future__ import annotations

import time
import uuid

import pytest
import requests
from lxml import etree

from adapter.simulator import DEFAULT_OIN as SBB_OIN
from tests.support.mutations import (
    SCHOOLS,
    CompanyPool,
    School,
    admin,
    assert_acknowledgement,
    find_subscription,
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
    subscriptions_at_sbb,
    verify,
    wait_acknowledged,
    wait_until,
    wl2_as_school,
)
from tests.support.servers import (
    OTHER_LICENCE,
    TODAY,
    AdapterServer,
    free_port,
    start_simulator_process,
    wl_adapter,
    write_config,
)
from tests.support.soap import SOAP_NS, WL2_NS, WSA_NS, post, push_envelope


# -- fixtures ---------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    server = start_simulator_process(tmp_path_factory.mktemp("mutations-sim") / "simulator.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pool(sim) -> CompanyPool:
    return CompanyPool(sim_companies(sim))


@pytest.fixture(scope="module")
def bridge(sim, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("mutations-adapter")
    server = AdapterServer(workdir, f"{sim.url}/wl2", extra=schools_config(*SCHOOLS.values()))
    import_sim_mapping(server, workdir)
    yield server
    server.stop()


# -- subscribing after VerifieerAccreditatie ------------------------------------------------------------------------
def test_recognised_verification_subscribes_in_the_background(sim, bridge, pool):
    school = SCHOOLS["subscribe"]
    company, (crebo, *_) = pool.take()
    lb_id = company["leerbedrijfId"]
    # SBB is slow to subscribe: the answer to the legacy client must not wait for it
    requests.post(f"{sim.url}/admin/scenario", json={"operation": "VerzoekAbonnementMutaties", "latency_ms": 1500},
                  timeout=5).raise_for_status()
    try:
        started = time.monotonic()
        result = verify(bridge, school.licence, lb_id, crebo)
        answered_in = time.monotonic() - started
        assert result["Signaalcode"] == 0, result
        assert answered_in < 1.2, f"VerifieerAccreditatie waited for the subscription ({answered_in:.2f}s)"
        assert find_subscription(sim, school.oin, lb_id, crebo) is None  # not yet: it happens afterwards
        sub = wait_until(lambda: find_subscription(sim, school.oin, lb_id, crebo), 6.0, what="subscription at SBB")
    finally:
        requests.delete(f"{sim.url}/admin/scenario", timeout=5)
    assert sub["afleveradres"] == f"{bridge.url}/wl2/mutaties"

    # the school's own view at SBB: OverzichtLopendeAbonnementen
    answer = wl2_as_school(sim).call("OverzichtLopendeAbonnementen", school.oin, {})
    assert answer["Signalering"]["Signaalcode"] == 0
    running = answer["Abonnementen"]["Abonnement"]
    assert [(a["AbonnementId"].lower(), a["LeerbedrijfId"], a["Crebonummer"]) for a in running] == [
        (sub["abonnementId"].lower(), lb_id, crebo)]

    # and the adapter's store, as the operator sees it
    def listed():
        run = bridge.cli("subscriptions", "list", "--tenant", school.oin)
        assert run.returncode == 0, run.stderr
        rows = [line.split() for line in run.stdout.splitlines()[1:]]
        return rows if rows and rows[0][3] == "active" else None
    rows = wait_until(listed, what="the subscription listed as active")
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        (school.oin, lb_id, crebo, "active", sub["abonnementId"].lower())]

    # asking again does not subscribe twice
    assert verify(bridge, school.licence, lb_id, crebo)["Signaalcode"] == 0
    time.sleep(0.3)
    assert len(subscriptions_at_sbb(sim, school.oin)) == 1


def test_negative_or_failed_verification_does_not_subscribe(sim, bridge, companies_not_recognised):
    school = SCHOOLS["subscribe"]
    before = len(subscriptions_at_sbb(sim, school.oin))
    lb_id, crebo = companies_not_recognised
    assert verify(bridge, school.licence, lb_id, crebo)["Signaalcode"] == 2
    assert verify(bridge, school.licence, "999999999999", "25171")["Signaalcode"] == 3
    time.sleep(0.5)
    assert len(subscriptions_at_sbb(sim, school.oin)) == before
    run = bridge.cli("subscriptions", "list", "--tenant", school.oin)
    assert lb_id not in run.stdout and "999999999999" not in run.stdout


@pytest.fixture(scope="module")
def companies_not_recognised(sim) -> tuple[str, str]:
    """A (LeerbedrijfId, crebo) that the register knows but that is not recognised today: VerifieerAccreditatie 2."""
    for c in sim_companies(sim):
        erkend = {e["crebonummer"] for e in c["erkenningen"] if e["status"] == "ERKEND"}
        for e in c["erkenningen"]:
            if e["status"] != "ERKEND" and e["crebonummer"] not in erkend:
                return c["leerbedrijfId"], e["crebonummer"]
    pytest.fail("the simulator's data set has no recognition that is not ERKEND today")


# -- pushes to GeefMutaties ---------------------------------------------------------------------------------------
def test_withdrawal_reaches_the_legacy_client_as_intrekking(sim, bridge, pool):
    school, other = SCHOOLS["withdraw"], SCHOOLS["withdraw_other"]
    company, (crebo, *_) = pool.take()
    other_company, (other_crebo, *_) = pool.take()
    lb_id = company["leerbedrijfId"]
    subscribe(sim, bridge, school, lb_id, lb_id, crebo)
    subscribe(sim, bridge, other, other_company["leerbedrijfId"], other_company["leerbedrijfId"], other_crebo)

    pushes = fire(sim, soort="ERKENNING_INGETROKKEN", leerbedrijfId=lb_id, crebonummer=crebo,
                  ingangsdatum="2026-12-01", toelichting="Erkenning ingetrokken op verzoek van het bedrijf")
    assert [p["schoolOin"] for p in pushes] == [school.oin]
    wait_acknowledged(sim, [p["mutatieId"] for p in pushes])

    result = geef_mutaties(bridge, school.licence, 0)
    assert result["Signaalcode"] == 0 and result["LaatsteVolgnummer"] == 1
    [m] = mutaties_of(result)
    assert m["Volgnummer"] == 1
    assert m["Soort"] == "INTREKKING"
    assert m["CodeLeerbedrijf"] == lb_id and m["OudeCodeLeerbedrijf"] is None
    assert m["Crebonummer"] == int(crebo)
    assert str(m["Ingangsdatum"]) == "2026-12-01"
    assert m["Omschrijving"] == "Erkenning ingetrokken op verzoek van het bedrijf"

    # the other school (subscribed to another company) and a school with no subscriptions see none of it
    for licence in (other.licence, OTHER_LICENCE):
        for vanaf in (0, 5):
            result = geef_mutaties(bridge, licence, vanaf)
            assert result["Signaalcode"] == 0 and result["Mutaties"] is None, result
            assert result["LaatsteVolgnummer"] == vanaf

    # an event for the other school's company reaches only that school, numbered from 1 there
    pushes = fire(sim, soort="GEGEVENS_GEWIJZIGD", leerbedrijfId=other_company["leerbedrijfId"],
                  toelichting="Nieuw adres")
    wait_acknowledged(sim, [p["mutatieId"] for p in pushes])
    [m] = mutaties_of(geef_mutaties(bridge, other.licence, 0))
    assert (m["Volgnummer"], m["Soort"], m["CodeLeerbedrijf"], m["Crebonummer"], m["Omschrijving"]) == (
        1, "WIJZIGING_GEGEVENS", other_company["leerbedrijfId"], None, "Nieuw adres")
    assert [x["Volgnummer"] for x in read_all(bridge, school.licence)] == [1]


def test_every_soort_is_translated(sim, bridge, pool):
    school = SCHOOLS["crebos"]
    company, crebos = pool.take(recognitions=2)
    lb_id, crebo = company["leerbedrijfId"], crebos[0]
    subscribe(sim, bridge, school, lb_id, lb_id, crebo)
    events = [dict(soort="ERKENNING_GEWIJZIGD", crebonummer=crebo, toelichting="Leerweg gewijzigd"),
              dict(soort="GEGEVENS_GEWIJZIGD"),
              dict(soort="ERKENNING_VERLEEND", crebonummer=crebo, ingangsdatum="2026-12-15", leerweg="BBL"),
              dict(soort="ERKENNING_INGETROKKEN", crebonummer=crebos[1]),  # another crebo: not subscribed
              dict(soort="ERKENNING_INGETROKKEN", crebonummer=crebo, ingangsdatum="2027-01-01")]
    pushed = []
    for event in events:
        pushed += fire(sim, leerbedrijfId=lb_id, **event)
    assert len(pushed) == 4
    acknowledged = wait_acknowledged(sim, [p["mutatieId"] for p in pushed])
    by_id = {p["mutatieId"]: p for p in acknowledged}
    served = read_all(bridge, school.licence)
    assert [m["Volgnummer"] for m in served] == [1, 2, 3, 4]
    assert [signature(m) for m in served] == [push_signature(by_id[p["mutatieId"]]) for p in pushed]
    assert [m["Soort"] for m in served] == ["WIJZIGING_ERKENNING", "WIJZIGING_GEGEVENS", "ERKENNING", "INTREKKING"]


def test_id_change_arrives_as_wijziging_code_and_old_codes_keep_resolving(sim, bridge, pool):
    school = SCHOOLS["id_change"]
    company, (crebo, *_) = pool.take(old_code=True)
    old_id, old_code = company["leerbedrijfId"], company["codeLeerbedrijf"]
    new_id = "770000000001"
    subscribe(sim, bridge, school, old_code, old_id, crebo)  # subscribed through the old-style code

    pushes = fire(sim, soort="LEERBEDRIJFID_GEWIJZIGD", leerbedrijfId=old_id, nieuwLeerbedrijfId=new_id,
                  toelichting="Fusie")
    assert len(pushes) == 1
    wait_acknowledged(sim, [pushes[0]["mutatieId"]])
    [m] = mutaties_of(geef_mutaties(bridge, school.licence, 0))
    assert m["Soort"] == "WIJZIGING_CODE"
    assert m["CodeLeerbedrijf"] == new_id and m["OudeCodeLeerbedrijf"] == old_id
    assert m["Omschrijving"] == "Fusie"
    assert admin(sim, f"leerbedrijven?leerbedrijfId={new_id}")["leerbedrijfId"] == new_id
    assert requests.get(f"{sim.url}/admin/leerbedrijven", params={"leerbedrijfId": old_id}).status_code == 404

    # WL 2.0 no longer knows the old id (it would answer 10 → 3): both old keys must now resolve to the new id
    for code in (old_id, old_code, new_id):
        result = verify(bridge, school.licence, code, crebo)
        assert result["Signaalcode"] == 0, (code, result)
    assert verify(bridge, OTHER_LICENCE, old_code, crebo)["Signaalcode"] == 0  # the mapping is not per school

    # the store's subscription moved along with the id (and SBB's too: a later event still arrives, once)
    run = bridge.cli("subscriptions", "list", "--tenant", school.oin)
    assert [line.split()[1:3] for line in run.stdout.splitlines()[1:]] == [[new_id, crebo]], run.stdout
    time.sleep(0.3)
    assert [s["leerbedrijfId"] for s in subscriptions_at_sbb(sim, school.oin)] == [new_id]
    pushes = fire(sim, soort="ERKENNING_GEWIJZIGD", leerbedrijfId=new_id, crebonummer=crebo)
    wait_acknowledged(sim, [p["mutatieId"] for p in pushes])
    served = read_all(bridge, school.licence)
    assert [(m["Volgnummer"], m["Soort"], m["CodeLeerbedrijf"]) for m in served] == [
        (1, "WIJZIGING_CODE", new_id), (2, "WIJZIGING_ERKENNING", new_id)]


def test_late_copy_of_an_earlier_id_change_keeps_the_newest_id(sim, bridge, pool):
    school = SCHOOLS["id_chain"]
    company, (crebo, *_) = pool.take(old_code=True)
    a, code = company["leerbedrijfId"], company["codeLeerbedrijf"]
    b, c = "770000000002", "770000000003"
    subscribe(sim, bridge, school, a, a, crebo)
    first = fire(sim, soort="LEERBEDRIJFID_GEWIJZIGD", leerbedrijfId=a, nieuwLeerbedrijfId=b)
    wait_acknowledged(sim, [p["mutatieId"] for p in first])
    second = fire(sim, soort="LEERBEDRIJFID_GEWIJZIGD", leerbedrijfId=b, nieuwLeerbedrijfId=c)
    wait_acknowledged(sim, [p["mutatieId"] for p in second])
    assert verify(bridge, school.licence, a, crebo)["Signaalcode"] == 0  # A → C: fine so far
    # SBB pushes each mutation once per subscription, each queue on its own: a second subscription's copy of
    # A→B (its own MutatieId) can arrive after B→C
    data, message_id = push_envelope(f"{bridge.url}/wl2/mutaties", school.oin, push_body(
        soort="LEERBEDRIJFID_GEWIJZIGD", leerbedrijf_id=b, oud=a, crebo=None, toelichting=None))
    assert_acknowledgement(post_push(bridge, data), message_id, 0)
    for key in (a, code, b, c):
        assert verify(bridge, school.licence, key, crebo)["Signaalcode"] == 0, key


def test_cursor_never_repeats_or_skips(sim, bridge, pool):
    school = SCHOOLS["cursor"]
    company, (crebo, *_) = pool.take()
    lb_id = company["leerbedrijfId"]
    subscribe(sim, bridge, school, lb_id, lb_id, crebo)

    def burst(first: int, count: int) -> list[dict]:
        pushed = []
        for i in range(first, first + count):
            pushed += fire(sim, soort="ERKENNING_GEWIJZIGD", leerbedrijfId=lb_id, crebonummer=crebo,
                           toelichting=f"wijziging {i}")
        wait_acknowledged(sim, [p["mutatieId"] for p in pushed])
        return pushed

    burst(1, 7)
    texts = {n: f"wijziging {n}" for n in range(1, 8)}

    # MaximumAantal 1 and 2 from every starting point, and past the end
    for maximum in (1, 2, 3, 7, 100):
        for vanaf in range(0, 10):
            result = geef_mutaties(bridge, school.licence, vanaf, maximum)
            assert result["Signaalcode"] == 0 and result["Melding"] is None
            expected = list(range(vanaf + 1, min(7, vanaf + maximum) + 1))
            batch = mutaties_of(result)
            assert [m["Volgnummer"] for m in batch] == expected, (maximum, vanaf)
            assert [m["Omschrijving"] for m in batch] == [texts[n] for n in expected]
            assert result["LaatsteVolgnummer"] == (expected[-1] if expected else vanaf)
            assert (result["Mutaties"] is None) == (not expected)
    default = geef_mutaties(bridge, school.licence, 0)  # MaximumAantal absent: 100
    assert [m["Volgnummer"] for m in mutaties_of(default)] == list(range(1, 8))

    # a client walking with MaximumAantal 2 while more arrive misses nothing and sees nothing twice
    seen, vanaf = [], 0
    for step in range(3):
        result = geef_mutaties(bridge, school.licence, vanaf, 2)
        seen += mutaties_of(result)
        vanaf = result["LaatsteVolgnummer"]
    assert vanaf == 6
    burst(8, 4)
    seen += read_all(bridge, school.licence, vanaf, maximum=2)
    assert [m["Volgnummer"] for m in seen] == list(range(1, 12))
    assert [m["Omschrijving"] for m in seen] == [f"wijziging {n}" for n in range(1, 12)]
    # delivered ones stay readable (until retention) and keep their numbers
    assert [m["Volgnummer"] for m in read_all(bridge, school.licence, 0, 1)] == list(range(1, 12))
    assert geef_mutaties(bridge, school.licence, 11, 1)["LaatsteVolgnummer"] == 11
    assert geef_mutaties(bridge, school.licence, 10 ** 12, 5)["LaatsteVolgnummer"] == 10 ** 12


# -- the push receiver with raw envelopes -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raw(bridge):
    return SCHOOLS["raw"]


def stored_for(bridge, school: School) -> list[dict]:
    return read_all(bridge, school.licence)


def test_push_is_acknowledged_valid_and_stored(bridge, raw):
    mutatie_id = str(uuid.uuid4())
    data, message_id = push_envelope(f"{bridge.url}/wl2/mutaties", raw.oin, push_body(
        mutatie_id, soort="ERKENNING_VERLEEND", leerbedrijf_id="123456", crebo="25171", ingangsdatum="2027-02-01",
        toelichting="Nieuw erkend", abonnement_id=str(uuid.uuid4())))
    assert_acknowledgement(post_push(bridge, data), message_id, 0)
    stored = stored_for(bridge, raw)
    assert [signature(m) for m in stored][-1] == ("ERKENNING", "123456", None, 25171, "2027-02-01", "Nieuw erkend")


@pytest.mark.parametrize("case", ["from_not_sbb", "from_a_school", "to_unknown_school", "to_sbb"])
def test_push_from_or_to_the_wrong_party_answers_90(bridge, raw, case):
    to_oin, from_oin = raw.oin, SBB_OIN
    if case == "from_not_sbb":
        from_oin = "00000001234567890000"
    elif case == "from_a_school":
        from_oin = SCHOOLS["withdraw"].oin
    elif case == "to_unknown_school":
        to_oin = "0000000700099ZZ00000"  # a school OIN, but not one served here
    else:
        to_oin = SBB_OIN
    before = len(stored_for(bridge, raw))
    data, message_id = push_envelope(f"{bridge.url}/wl2/mutaties", to_oin, push_body(), from_oin=from_oin)
    answer = post_push(bridge, data)
    assert_acknowledgement(answer, message_id, 90)
    assert ("wsa:From" if case.startswith("from") else "wsa:To") in answer.foutmelding
    assert len(stored_for(bridge, raw)) == before


@pytest.mark.parametrize("case", ["no_header", "no_message_id", "no_from", "to_without_oin", "wrong_action",
                                  "bad_message_id"])
def test_push_with_missing_or_malformed_addressing_is_a_client_fault(bridge, raw, case):
    url = f"{bridge.url}/wl2/mutaties"
    before = len(stored_for(bridge, raw))
    data, _ = push_envelope(url, raw.oin, push_body(), addressing=case != "no_header",
                            action=f"{WL2_NS}/VerifieerAccreditatie" if case == "wrong_action"
                            else f"{WL2_NS}/MutatieLeerbedrijf",
                            message_id="uuid-1234" if case == "bad_message_id" else None)
    root = etree.fromstring(data)
    header = root.find(f"{{{SOAP_NS}}}Header")
    if case == "no_message_id":
        header.remove(header.find(f"{{{WSA_NS}}}MessageID"))
    elif case == "no_from":
        header.remove(header.find(f"{{{WSA_NS}}}From"))
    elif case == "to_without_oin":
        header.find(f"{{{WSA_NS}}}To").text = url
    answer = post_push(bridge, etree.tostring(root))
    assert answer.status == 500
    code, string = answer.fault
    assert code.endswith(":Client"), (code, string)
    expected = {"no_header": "wsa:", "no_message_id": "wsa:MessageID", "no_from": "wsa:From",
                "to_without_oin": "wsa:To", "wrong_action": "MutatieLeerbedrijf", "bad_message_id": "MessageID"}
    assert expected[case] in string, string
    assert len(stored_for(bridge, raw)) == before


@pytest.mark.parametrize("element,fields", [
    ("LeerbedrijfId", push_body(leerbedrijf_id="12ab")),
    ("Crebonummer", push_body(crebo="123")),
    ("Soort", push_body(soort="ERKENNING_VERLOPEN")),
    ("MutatieId", push_body(mutatie_id="not-a-guid")),
    ("Ingangsdatum", push_body(ingangsdatum="29-11-2026")),
    ("Ingangsdatum", [f for f in push_body() if f[0] != "Ingangsdatum"]),
])
def test_push_violating_the_schema_is_a_client_fault_naming_the_element(bridge, raw, element, fields):
    before = len(stored_for(bridge, raw))
    data, _ = push_envelope(f"{bridge.url}/wl2/mutaties", raw.oin, fields)
    answer = post_push(bridge, data)
    assert answer.status == 500
    code, string = answer.fault
    assert code.endswith(":Client") and element in string, (code, string)
    assert len(stored_for(bridge, raw)) == before


def test_push_that_is_not_xml_is_a_client_fault(bridge):
    r = post(f"{bridge.url}/wl2/mutaties", b"<soap:Envelope", timeout=10)
    assert r.status_code == 500
    fault = etree.fromstring(r.content).find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault")
    assert fault.findtext("faultcode").endswith(":Client")


def test_client_fault_relates_to_the_push_when_its_message_id_was_readable(bridge, raw):
    data, message_id = push_envelope(f"{bridge.url}/wl2/mutaties", raw.oin, push_body(crebo="123"))
    answer = post_push(bridge, data)
    assert answer.fault is not None
    assert answer.header("RelatesTo") == message_id


def test_id_change_without_old_id_answers_20_and_is_not_stored(bridge, raw):
    before = len(stored_for(bridge, raw))
    data, message_id = push_envelope(f"{bridge.url}/wl2/mutaties", raw.oin, push_body(
        soort="LEERBEDRIJFID_GEWIJZIGD", leerbedrijf_id="880000000001", crebo=None))
    answer = post_push(bridge, data)
    assert_acknowledgement(answer, message_id, 20)
    assert "OudLeerbedrijfId" in answer.foutmelding
    assert len(stored_for(bridge, raw)) == before
    # and nothing was re-mapped: the new id is not reachable under any other key
    assert bridge.cli("subscriptions", "list").returncode == 0


def test_repeated_mutatie_id_is_acknowledged_again_and_stored_once(bridge, raw):
    before = stored_for(bridge, raw)
    mutatie_id = str(uuid.uuid4())
    for attempt, mid in enumerate([mutatie_id, mutatie_id, mutatie_id.upper()]):
        # a retry is a new message (new BerichtID and MessageID) with the same MutatieId
        data, message_id = push_envelope(f"{bridge.url}/wl2/mutaties", raw.oin, push_body(
            mid, soort="GEGEVENS_GEWIJZIGD", leerbedrijf_id="654321", crebo=None, toelichting=f"poging {attempt}"))
        assert_acknowledgement(post_push(bridge, data), message_id, 0)
    after = stored_for(bridge, raw)
    assert len(after) == len(before) + 1
    assert signature(after[-1]) == ("WIJZIGING_GEGEVENS", "654321", None, None, TODAY, "poging 0")
    assert after[-1]["Volgnummer"] == (before[-1]["Volgnummer"] if before else 0) + 1


def test_same_mutatie_id_for_two_schools_is_stored_for_each(bridge, raw):
    """A MutatieId is unique per school: SBB may push one mutation to several schools under the same id."""
    second = SCHOOLS["raw2"]
    before = len(stored_for(bridge, raw))
    mutatie_id = str(uuid.uuid4())
    for school in (raw, second):
        data, message_id = push_envelope(f"{bridge.url}/wl2/mutaties", school.oin, push_body(
            mutatie_id, soort="GEGEVENS_GEWIJZIGD", leerbedrijf_id="333333", crebo=None, toelichting="gedeeld"))
        assert_acknowledgement(post_push(bridge, data), message_id, 0)
    assert len(stored_for(bridge, raw)) == before + 1
    assert [signature(m) for m in stored_for(bridge, second)] == [
        ("WIJZIGING_GEGEVENS", "333333", None, None, TODAY, "gedeeld")]


# -- subscriptions sync -----------------------------------------------------------------------------------------
@pytest.fixture
def sync_setup(tmp_path):
    """A simulator and adapter of its own: the sync looks at every subscription the school has at SBB."""
    sim = start_simulator_process(tmp_path / "sync-sim.log", count=60)
    adapter = None
    try:
        adapter = AdapterServer(tmp_path / "sync-adapter", f"{sim.url}/wl2", extra=schools_config(SCHOOLS["subscribe"]))
        yield sim, adapter
    finally:
        if adapter is not None:
            adapter.stop()
        sim.stop()


def test_subscriptions_sync_ends_unknown_and_recreates_missing_subscriptions(sync_setup):
    sim, adapter = sync_setup
    school = SCHOOLS["subscribe"]
    pool = CompanyPool(sim_companies(sim, 60))
    kept_company, (kept_crebo, *_) = pool.take()
    lost_company, (lost_crebo, *_) = pool.take()
    stray_company, (stray_crebo, *_) = pool.take()
    foreign_company, (foreign_crebo, *_) = pool.take()
    kept = subscribe(sim, adapter, school, kept_company["leerbedrijfId"], kept_company["leerbedrijfId"], kept_crebo)
    lost = subscribe(sim, adapter, school, lost_company["leerbedrijfId"], lost_company["leerbedrijfId"], lost_crebo)
    wait_until(lambda: adapter.cli("subscriptions", "list").stdout.count(" active ") == 2, what="both stored")

    client = wl2_as_school(sim)
    # upstream drift: one of ours ended at SBB, and one SBB runs that the store does not know
    assert client.call("BeeindigAbonnement", school.oin, {"AbonnementId": lost["abonnementId"]})[
        "Signalering"]["Signaalcode"] == 0
    stray = client.call("VerzoekAbonnementMutaties", school.oin, {
        "LeerbedrijfId": stray_company["leerbedrijfId"], "Crebonummer": stray_crebo,
        "Afleveradres": f"{adapter.url}/wl2/mutaties"})["AbonnementId"].lower()
    # and one another system of the school runs under the same OIN, pushing elsewhere: not ours to end
    foreign = client.call("VerzoekAbonnementMutaties", school.oin, {
        "LeerbedrijfId": foreign_company["leerbedrijfId"], "Crebonummer": foreign_crebo,
        "Afleveradres": "https://ander-systeem.roc.example/wl2/mutaties"})["AbonnementId"].lower()

    run = adapter.cli("subscriptions", "sync")
    assert run.returncode == 0, run.stdout + run.stderr
    assert stray in run.stdout and "ended" in run.stdout
    assert lost["abonnementId"].lower() in run.stdout
    assert "in sync" in run.stdout  # the other configured schools

    ids_at_sbb = {s["abonnementId"].lower() for s in subscriptions_at_sbb(sim, school.oin)}
    assert stray not in ids_at_sbb and kept["abonnementId"].lower() in ids_at_sbb and foreign in ids_at_sbb
    assert foreign not in run.stdout
    # the missing one is an intent again; the running adapter's subscriber re-creates it at SBB
    renewed = wait_until(lambda: find_subscription(sim, school.oin, lost_company["leerbedrijfId"], lost_crebo),
                         timeout=15, interval=0.2, what="the lost subscription re-created")
    assert renewed["abonnementId"] != lost["abonnementId"]
    assert renewed["afleveradres"] == f"{adapter.url}/wl2/mutaties"

    def stored_ids():
        listing = adapter.cli("subscriptions", "list", "--tenant", school.oin).stdout
        return listing if renewed["abonnementId"].lower() in listing else None
    listing = wait_until(stored_ids, what="the re-created subscription stored")
    assert kept["abonnementId"].lower() in listing and stray not in listing
    assert lost["abonnementId"].lower() not in listing

    # now everything agrees: a second run changes nothing
    listing_after = adapter.cli("subscriptions", "list", "--tenant", school.oin).stdout
    again = adapter.cli("subscriptions", "sync")
    assert again.returncode == 0
    assert all(line.endswith(": in sync") for line in again.stdout.splitlines()), again.stdout
    assert len(subscriptions_at_sbb(sim, school.oin)) == 3  # kept, renewed, and the other system's

    # WL 2.0 answering a technical error: reported per school, exit 1, nothing changed
    requests.post(f"{sim.url}/admin/scenario", json={"operation": "OverzichtLopendeAbonnementen",
                                                     "signaalcode": 99}, timeout=5).raise_for_status()
    failed = adapter.cli("subscriptions", "sync")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "FAILED" in failed.stdout and "signaalcode 99" in failed.stdout and "Traceback" not in failed.stderr
    assert adapter.cli("subscriptions", "list", "--tenant", school.oin).stdout == listing_after


def test_subscriptions_sync_when_wl2_is_unreachable_exits_1(tmp_path):
    store_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    config = write_config(tmp_path / "adapter.toml", f"http://127.0.0.1:{free_port()}/wl2", store_url, free_port())
    run = wl_adapter("subscriptions", "sync", "--config", str(config))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "unreachable" in run.stderr and "Traceback" not in run.stderr
