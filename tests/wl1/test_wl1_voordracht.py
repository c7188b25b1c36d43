"""DoeErkenningsvoordracht end to end (raw envelopes): translated to WL 2.0 with the address split, never sent
twice: a repeat within 24 hours answers the first VoordrachtId without a WL 2.0 call, identical proposals sent at
once make one, and a proposal that could not be sent (WL 2.0 down: 998) is sent once when the school retries.
The WL 2.0 calls are counted where they arrive: the simulator's /admin/voordrachten."""
from __future__ import annotations

import threading
import uuid
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import requests
from lxml import etree

from tests.support.servers import (
    LICENCE,
    OTHER_LICENCE,
    OTHER_SCHOOL_OIN,
    SCHOOL_OIN,
    SIM_COMPANIES,
    TODAY,
    Server,
    free_port,
)
from tests.support.soap import SOAP_NS

SOAP11 = SOAP_NS
WL1 = "urn:sbb:whitelabel:1.0"


def proposal(naam: str, straat: str = "Biltstraat 140-2", kvk: str | None = None, crebo: int = 25180,
             leerweg: str = "BBL", postcode: str = "3572 bk", licence: str = LICENCE) -> bytes:
    kvk_xml = f"<w:KvkNummer>{kvk}</w:KvkNummer>" if kvk else ""
    return (f'<soap:Envelope xmlns:soap="{SOAP11}" xmlns:w="{WL1}"><soap:Body><w:DoeErkenningsvoordracht>'
            f"<w:request><w:Licentie>{licence}</w:Licentie><w:Bedrijfsnaam>{escape(naam)}</w:Bedrijfsnaam>{kvk_xml}"
            f"<w:Vestigingsadres><w:Straat>{escape(straat)}</w:Straat><w:Postcode>{postcode}</w:Postcode>"
            f"<w:Plaats>Utrecht</w:Plaats><w:Land>Nederland</w:Land></w:Vestigingsadres>"
            f"<w:Crebonummer>{crebo}</w:Crebonummer><w:Leerweg>{leerweg}</w:Leerweg>"
            f"</w:request></w:DoeErkenningsvoordracht></soap:Body></soap:Envelope>").encode()


def propose(adapter, data: bytes) -> dict:
    r = requests.post(adapter.wl1_url, data=data, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=60)
    assert r.status_code == 200, r.text
    result = etree.fromstring(r.content).find(f".//{{{WL1}}}DoeErkenningsvoordrachtResult")
    return {etree.QName(c).localname: c.text for c in result}


def received(simulator, naam: str) -> list[dict]:
    listing = requests.get(f"{simulator.url}/admin/voordrachten", timeout=10).json()["voordrachten"]
    return [v for v in listing if v["bedrijfsnaam"] == naam]


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:10]}"


def test_a_proposal_reaches_wl2_with_the_address_split(adapter, simulator):
    naam = unique("Kapsalon Knipwerk")
    r = propose(adapter, proposal(naam, kvk="61234987"))
    assert r["Signaalcode"] == "0" and "Melding" not in r
    (v,) = received(simulator, naam)
    assert v["voordrachtId"] == r["VoordrachtId"] and v["schoolOin"] == SCHOOL_OIN and v["kvkNummer"] == "61234987"
    assert (v["crebonummer"], v["leerweg"]) == ("25180", "BBL")
    assert v["vestigingsadres"] == {"straat": "Biltstraat", "huisnummer": "140", "huisnummertoevoeging": "2",
                                    "postcode": "3572BK", "plaats": "Utrecht", "land": "NL"}


def test_a_repeat_within_24_hours_answers_the_first_voordracht_id_with_one_wl2_call(adapter, simulator):
    naam = unique("Bakkerij Herhaling")
    first = propose(adapter, proposal(naam))
    # the same proposal, spelled differently where that does not matter
    again = propose(adapter, proposal(f"  {naam.upper()} ", postcode="3572BK"))
    assert first["Signaalcode"] == again["Signaalcode"] == "0"
    assert again["VoordrachtId"] == first["VoordrachtId"]
    assert len(received(simulator, naam)) == 1
    # the audit shows no WL 2.0 leg for the repeat
    repeat = [r for r in adapter.audit_records() if r["operation"] == "DoeErkenningsvoordracht"][-1]
    assert repeat["signaalcode"] == 0 and repeat["wl2"] == []
    # another leerweg, another crebo, another school: other proposals
    for variant in (proposal(naam, leerweg="BOL"), proposal(naam, crebo=25181),
                    proposal(naam, licence=OTHER_LICENCE)):
        assert propose(adapter, variant)["VoordrachtId"] != first["VoordrachtId"]
    assert len(received(simulator, naam)) == 4
    assert {v["schoolOin"] for v in received(simulator, naam)} == {SCHOOL_OIN, OTHER_SCHOOL_OIN}
    # a tester can list one school's proposals
    other = requests.get(f"{simulator.url}/admin/voordrachten", params={"schoolOin": OTHER_SCHOOL_OIN},
                         timeout=10).json()["voordrachten"]
    assert [v["bedrijfsnaam"] for v in other].count(naam) == 1 and {v["schoolOin"] for v in other} == {OTHER_SCHOOL_OIN}


def test_with_a_kvk_number_the_name_does_not_matter(adapter, simulator):
    kvk = f"{uuid.uuid4().int % 10 ** 8:08d}"
    first = propose(adapter, proposal(unique("Eerste naam"), kvk=kvk))
    again = propose(adapter, proposal(unique("Andere naam"), kvk=kvk, postcode="1234AB"))
    assert again["VoordrachtId"] == first["VoordrachtId"]


def test_an_address_that_cannot_be_split_is_4_naming_it_and_nothing_is_sent(adapter, simulator):
    naam = unique("Zonder Huisnummer")
    r = propose(adapter, proposal(naam, straat="Biltstraat"))
    assert r["Signaalcode"] == "4" and r["Melding"].startswith("Vestigingsadres/Straat: 'Biltstraat'")
    assert received(simulator, naam) == []


def test_an_unknown_country_is_4_naming_it_and_nothing_is_sent(adapter, simulator):
    naam = unique("Buitenland")
    data = proposal(naam).replace(b"<w:Land>Nederland</w:Land>", b"<w:Land>Atlantis</w:Land>")
    r = propose(adapter, data)
    assert r["Signaalcode"] == "4" and r["Melding"].startswith("Vestigingsadres/Land:"), r
    assert received(simulator, naam) == []


def test_a_refused_proposal_is_not_remembered(adapter, simulator):
    naam = unique("Onbekend Crebo")
    for _ in range(2):
        r = propose(adapter, proposal(naam, crebo=99998))
        assert r["Signaalcode"] == "5" and "VoordrachtId" not in r
    records = [r for r in adapter.audit_records() if r["operation"] == "DoeErkenningsvoordracht"][-2:]
    assert [len(r["wl2"]) for r in records] == [1, 1]  # each asked WL 2.0: a refusal is no proposal to repeat


# -- with a simulator of its own, that goes down and comes back --------------------------------------------------------
def _simulator(port: int, log: Path) -> Server:
    return Server(["simulate", "--port", str(port), "--seed", "1", "--leerbedrijven", str(SIM_COMPANIES),
                   "--today", TODAY], port, "/admin/health", log=log)


@pytest.fixture
def own(tmp_path, start_adapter):
    port = free_port()
    state = {"sim": _simulator(port, tmp_path / "sim1.log")}
    state["adapter"] = start_adapter(f"http://127.0.0.1:{port}/wl2", timeout_s=2.0)
    state["port"] = port
    yield state
    state["sim"].stop()


def test_simulator_down_answers_998_and_the_retry_makes_exactly_one_proposal(own, tmp_path):
    adapter, naam = own["adapter"], unique("Storing B.V.")
    own["sim"].stop()
    down = propose(adapter, proposal(naam))
    assert down["Signaalcode"] == "998" and "VoordrachtId" not in down
    own["sim"] = sim = _simulator(own["port"], tmp_path / "sim2.log")
    retry = propose(adapter, proposal(naam))
    assert retry["Signaalcode"] == "0"
    assert [v["voordrachtId"] for v in received(sim, naam)] == [retry["VoordrachtId"]]
    # and the school asking once more (it never saw the answer) still makes no second one
    assert propose(adapter, proposal(naam))["VoordrachtId"] == retry["VoordrachtId"]
    assert len(received(sim, naam)) == 1


def test_identical_proposals_at_once_make_one(own):
    adapter, sim, naam = own["adapter"], own["sim"], unique("Dubbelklik B.V.")
    requests.post(f"{sim.url}/admin/scenario", json={"operation": "DoeErkenningsvoordracht", "latency_ms": 600},
                  timeout=10).raise_for_status()
    answers: list[dict] = []
    start = threading.Barrier(4)

    def send() -> None:
        start.wait()
        answers.append(propose(adapter, proposal(naam)))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [a["Signaalcode"] for a in answers] == ["0"] * 4
    assert len({a["VoordrachtId"] for a in answers}) == 1
    assert len(received(sim, naam)) == 1
