"""The simulator's data set: deterministic per seed (also across processes with other hash seeds), realistic in
shape and proportions, with the deliberate address collisions; the CSV export of old codes; the status rule.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from adapter.simulator import DEFAULT_OIN
from adapter.simulator.generate import details, generate
from adapter.simulator.model import ERKEND, INGETROKKEN, NIET_ERKEND, Recognition, verdict
from adapter.simulator.tables import QUALIFICATIONS, TOWNS
from adapter.soap.oin import is_school_oin
from tests.support.servers import ROOT

COUNT = 2000


@pytest.fixture(scope="module")
def data():
    return generate(1, COUNT)


def _snapshot(companies, seed=1):
    return [(dataclasses.astuple(c), dataclasses.astuple(details(seed, c))) for c in companies]


def test_same_seed_same_data_different_seed_different_data(data):
    assert _snapshot(generate(1, COUNT)) == _snapshot(data)
    assert [c.naam for c in generate(2, 50)] != [c.naam for c in data[:50]]
    assert _snapshot(generate(1, 100)) == _snapshot(data[:100])  # a smaller set is a prefix


def _export(tmp_path, name: str, hash_seed: str):
    path = tmp_path / name
    subprocess.run([sys.executable, "-m", "adapter", "simulate", "--seed", "1", "--leerbedrijven", str(COUNT),
                    "--export-mapping", str(path)], cwd=ROOT, check=True, capture_output=True, timeout=60,
                   env={**os.environ, "PYTHONHASHSEED": hash_seed})
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_export_mapping_is_the_same_in_every_process(tmp_path, data):
    first = _export(tmp_path, "a.csv", "0")
    assert first == _export(tmp_path, "b.csv", "12345")
    assert first[0] == ["code_leerbedrijf", "leerbedrijf_id"]
    assert first[1:] == [[c.old_code, c.leerbedrijf_id] for c in data if c.old_code]


def test_addresses_are_valid_and_consistent_with_their_town(data):
    towns = {t.name: t for t in TOWNS}
    for c in data:
        a = c.adres
        assert re.fullmatch(r"[1-9][0-9]{3}[A-Z]{2}", a.postcode), a
        assert towns[a.plaats].pc4_from <= int(a.postcode[:4]) <= towns[a.plaats].pc4_to, a
        assert a.huisnummer >= 1 and a.land == "NL"
    assert 0.05 < sum(c.adres.toevoeging is not None for c in data) / COUNT < 0.25
    assert len({c.adres.plaats for c in data}) == len(TOWNS) >= 30


def test_company_details_look_real(data):
    all_details = [details(1, c) for c in data[:300]]
    assert all(d.kvk is None or re.fullmatch(r"[0-9]{8}", d.kvk) for d in all_details)
    assert any(d.correspondentie for d in all_details) and any(d.contact for d in all_details)
    assert all("@" in d.contact.email for d in all_details if d.contact)
    assert len({c.naam for c in data}) > COUNT * 0.6
    assert any(re.fullmatch(r"\w+( \w+)* (B\.V\.|V\.O\.F\.)", c.naam) for c in data)


def test_recognitions_and_placements_in_proportion(data):
    assert len(QUALIFICATIONS) >= 40 and all(re.fullmatch(r"[0-9]{5}", k) for k in QUALIFICATIONS)
    recognitions = [r for c in data for r in c.erkenningen]
    assert all(1 <= len(c.erkenningen) <= 5 for c in data)
    assert {r.leerweg for r in recognitions} == {"BOL", "BBL"}
    assert 0.05 < sum(r.einddatum is not None for r in recognitions) / len(recognitions) < 0.15
    assert all((r.einddatum is None) == (r.reden is None) for r in recognitions)
    with_placements = [c for c in data if c.leerplaatsen]
    assert 0.25 < len(with_placements) / COUNT < 0.35
    ids = [p.leerplaats_id for c in with_placements for p in c.leerplaatsen]
    assert len(ids) == len(set(ids))
    assert all(p.crebo in {r.crebo for r in c.erkenningen} for c in with_placements for p in c.leerplaatsen)


def test_old_codes_embed_postcode_and_house_number(data):
    coded = [c for c in data if c.old_code]
    assert 0.65 < len(coded) / COUNT < 0.8
    for c in coded:
        m = re.fullmatch(r"([0-9]{2}[A-Z]{2})([1-9][0-9]{3}[A-Z]{2})([0-9]{5})([0-9]{2})", c.old_code)
        assert m and m.group(2) == c.adres.postcode and int(m.group(3)) == c.adres.huisnummer, c.old_code
    assert len({c.old_code for c in coded}) == len(coded)


def test_some_companies_share_postcode_and_house_number(data):
    shared = Counter((c.adres.postcode, c.adres.huisnummer) for c in data if c.old_code)
    assert sum(n > 1 for n in shared.values()) >= COUNT // 50 - 1


D = dt.date


@pytest.mark.parametrize("recognitions, startdatum, status, deciding", [
    ([Recognition("25180", "BOL", D(2020, 1, 1))], D(2020, 1, 1), ERKEND, 0),
    ([Recognition("25180", "BOL", D(2020, 1, 1))], D(2019, 12, 31), NIET_ERKEND, None),
    ([Recognition("25180", "BOL", D(2020, 1, 1), D(2022, 5, 31))], D(2022, 5, 31), ERKEND, 0),
    ([Recognition("25180", "BOL", D(2020, 1, 1), D(2022, 5, 31))], D(2022, 6, 1), INGETROKKEN, 0),
    ([Recognition("25180", "BOL", D(2020, 1, 1), D(2022, 5, 31)), Recognition("25180", "BBL", D(2021, 1, 1))],
     D(2023, 1, 1), ERKEND, 1),  # any leerweg
    ([Recognition("25180", "BOL", D(2010, 1, 1), D(2012, 1, 1)), Recognition("25180", "BBL", D(2013, 1, 1),
                                                                               D(2015, 1, 1))],
     D(2016, 1, 1), INGETROKKEN, 1),  # the latest end decides
    ([Recognition("25181", "BOL", D(2020, 1, 1))], D(2021, 1, 1), NIET_ERKEND, None),  # another crebo
])
def test_status_rule(recognitions, startdatum, status, deciding):
    v = verdict(recognitions, "25180", startdatum)
    assert v.status == status
    assert v.deciding is (None if deciding is None else recognitions[deciding])


def test_oin_rules():
    assert is_school_oin("0000000700025BE00000") and not is_school_oin(DEFAULT_OIN)
    assert not is_school_oin("0000000700025BE0000") and not is_school_oin("0000000800025BE00000")
