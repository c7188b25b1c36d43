"""Edge cases found in review: each was a real failure before its fix. Fan-out copies of one change, values the
XSD allows but a legacy client cannot be told, WL 2.0 refusing the search that resolves an old code, hostile Host
headers."""
from __future__ import annotations

from datetime import date

import pytest
import requests
from lxml import etree

from adapter.store import Mutation
from tests.support.mutations import (
    SCHOOLS,
    CompanyPool,
    School,
    fire,
    geef_mutaties,
    mutaties_of,
    post_push,
    push_body,
    schools_config,
    sim_companies,
    subscribe,
    wait_acknowledged,
)
from tests.support.servers import AdapterServer, start_simulator_process
from tests.support.soap import WL1_NS, post, push_envelope, wl1_request
from tests.support.store import SCHOOL, guid

FANOUT = School(len(SCHOOLS) + 1)


def _verify(adapter, code: str, crebo: int, peildatum: str) -> requests.Response:
    request = wl1_request("VerifieerAccreditatie", f"<w:CodeLeerbedrijf>{code}</w:CodeLeerbedrijf>"
                          f"<w:Crebonummer>{crebo}</w:Crebonummer><w:Peildatum>{peildatum}</w:Peildatum>", prolog="")
    return post(adapter.wl1_url, request, {"Content-Type": "text/xml"}, timeout=15)


def _signaalcode(r: requests.Response) -> int:
    return int(etree.fromstring(r.content).findtext(f".//{{{WL1_NS}}}Signaalcode"))


# -- the store: one change pushed once per subscription is one mutation for the school ---------------------------------
def _m(n, soort="GEGEVENS_GEWIJZIGD", abonnement="a", **kw) -> Mutation:
    return Mutation(mutatie_id=guid(n), soort=soort, leerbedrijf_id="100", ingangsdatum=date(2026, 2, 1),
                    abonnement_id=guid(abonnement), **kw)


def test_a_fan_out_copy_through_another_subscription_is_stored_once(store):
    first = store.store_mutation(SCHOOL, _m(1, abonnement="a"))
    copy = store.store_mutation(SCHOOL, _m(2, abonnement="b"))
    assert (first.volgnummer, first.created, copy.volgnummer, copy.created) == (1, True, 1, False)
    assert [r.volgnummer for r in store.mutations_after(SCHOOL, 0, 10)] == [1]


def test_the_same_news_again_through_the_same_subscription_or_after_other_news_is_kept(store):
    store.store_mutation(SCHOOL, _m(1, "ERKENNING_VERLEEND", crebo="25180"))
    store.store_mutation(SCHOOL, _m(2, "ERKENNING_INGETROKKEN", crebo="25180"))
    again = store.store_mutation(SCHOOL, _m(3, "ERKENNING_VERLEEND", abonnement="b", crebo="25180"))
    same_subscription = store.store_mutation(SCHOOL, _m(4, "ERKENNING_VERLEEND", abonnement="b", crebo="25180"))
    assert (again.created, same_subscription.created) == (True, True)
    assert [r.volgnummer for r in store.mutations_after(SCHOOL, 0, 10)] == [1, 2, 3, 4]


# -- end to end: a school subscribed to one company for two crebos hears of a company-wide change once ---------------
@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    server = start_simulator_process(tmp_path_factory.mktemp("edge-sim") / "simulator.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bridge(sim, tmp_path_factory):
    server = AdapterServer(tmp_path_factory.mktemp("edge-adapter"), f"{sim.url}/wl2", extra=schools_config(FANOUT))
    yield server
    server.stop()


def test_company_wide_change_reaches_a_school_with_two_subscriptions_once(sim, bridge):
    company, crebos = CompanyPool(sim_companies(sim)).take(recognitions=2)
    for crebo in crebos[:2]:
        subscribe(sim, bridge, FANOUT, company["leerbedrijfId"], company["leerbedrijfId"], crebo)
    pushes = fire(sim, soort="GEGEVENS_GEWIJZIGD", leerbedrijfId=company["leerbedrijfId"], toelichting="nieuw adres")
    assert len(pushes) == 2  # SBB pushes once per subscription
    wait_acknowledged(sim, [p["mutatieId"] for p in pushes])
    mutaties = mutaties_of(geef_mutaties(bridge, FANOUT.licence, 0))
    assert [(m["Soort"], m["CodeLeerbedrijf"], m["Omschrijving"]) for m in mutaties] == [
        ("WIJZIGING_GEGEVENS", company["leerbedrijfId"], "nieuw adres")]


# -- values the XSD allows that a legacy client cannot be told ----------------------------------------------------------
@pytest.mark.parametrize("fields, element", [
    (push_body(crebo="00000"), "Crebonummer"),
    (push_body(ingangsdatum="12026-01-01"), "Ingangsdatum"),
])
def test_push_with_a_value_no_legacy_client_can_be_told_is_answered_20_and_not_stored(bridge, fields, element):
    data, _ = push_envelope(f"{bridge.url}/wl2/mutaties", FANOUT.oin, fields)
    answer = post_push(bridge, data)
    assert answer.fault is None and answer.signaalcode == 20 and answer.foutmelding.startswith(element)
    before = mutaties_of(geef_mutaties(bridge, FANOUT.licence, 0))
    assert all(m.get("Crebonummer") != 0 for m in before)
    # and the school's feed keeps working
    assert geef_mutaties(bridge, FANOUT.licence, 0)["Signaalcode"] == 0


@pytest.mark.parametrize("peildatum", ["12026-01-01", "-0001-01-01"])
def test_a_peildatum_outside_the_calendar_answers_4_naming_it(adapter, companies, peildatum):
    r = _verify(adapter, companies[0]["leerbedrijfId"], 25180, peildatum)
    assert r.status_code == 200 and _signaalcode(r) == 4
    assert "Peildatum" in r.text


# -- WL 2.0 refusing the search that resolves an old code ---------------------------------------------------------------
@pytest.mark.parametrize("wl2_code, wl1_code", [(99, 999), (90, 996), (20, 4)])
def test_old_code_resolution_refused_by_wl2_maps_its_signaalcode(sim, start_adapter, wl2_code, wl1_code):
    company = next(c for c in sim_companies(sim) if c["codeLeerbedrijf"])
    adapter = start_adapter(f"{sim.url}/wl2")
    requests.post(f"{sim.url}/admin/scenario", json={"operation": "ZoekenLeerbedrijfOfLeerplaats",
                                                     "signaalcode": wl2_code}, timeout=5).raise_for_status()
    try:
        r = _verify(adapter, company["codeLeerbedrijf"], int(company["erkenningen"][0]["crebonummer"]), "2026-11-29")
    finally:
        requests.delete(f"{sim.url}/admin/scenario", timeout=5)
    assert _signaalcode(r) == wl1_code


# -- the WSDL stays well-formed whatever the Host headers say ----------------------------------------------------------
@pytest.mark.parametrize("headers", [{"X-Forwarded-Host": 'a<b>"c'}, {"Host": "x<y"}, {"X-Forwarded-Proto": "j<s"}])
def test_hostile_host_headers_cannot_break_the_wsdl(adapter, headers):
    r = requests.get(f"{adapter.wl1_url}?wsdl", headers=headers, timeout=5)
    root = etree.fromstring(r.content)  # well-formed
    location = root.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address").get("location")
    assert "<" not in location and '"' not in location and location.endswith("/wl1")
