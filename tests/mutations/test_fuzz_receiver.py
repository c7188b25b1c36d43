"""Property-based tests of the push receiver: random MutatieLeerbedrijf pushes to the adapter's /wl2/mutaties.

Valid pushes from SBB's OIN to a configured school are acknowledged 0 (20 for LEERBEDRIJFID_GEWIJZIGD without
OudLeerbedrijfId); pushes from or to the wrong party 90; XSD violations a soap:Client fault. Afterwards GeefMutaties
for that school returns exactly the distinct acknowledged MutatieIds once each, in order, numbered on from where the
school's cursor stood. Nothing is ever a soap:Server fault.

AbonnementId is absent or one fixed id per school: two different MutatieIds with the same content through two
different subscriptions may be folded into one mutation by the store (SBB's fan-out of one change), which is not
what this property is about.

This module starts its own adapter (a fresh store) against the session simulator, so the shared adapter is untouched.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapter.contracts import WL1, WL2
from adapter.simulator import DEFAULT_OIN as SBB_OIN
from tests.support.fuzzing import COMMON, event, note
from tests.support.mutations import WL1_SOORT
from tests.support.servers import LICENCE, OTHER_LICENCE, OTHER_SCHOOL_OIN, SCHOOL_OIN, AdapterServer
from tests.support.soap import SOAP_NS, WL1_NS, WL2_NS, SoapAnswer, post, push_envelope, wl1_request

W = f"{{{WL1_NS}}}"
SOORTEN = ["ERKENNING_INGETROKKEN", "ERKENNING_VERLEEND", "ERKENNING_GEWIJZIGD", "LEERBEDRIJFID_GEWIJZIGD",
           "GEGEVENS_GEWIJZIGD"]
SCHOOLS = {SCHOOL_OIN: LICENCE, OTHER_SCHOOL_OIN: OTHER_LICENCE}


@pytest.fixture(scope="module")
def receiver(simulator, tmp_path_factory):
    server = AdapterServer(tmp_path_factory.mktemp("fuzz-push"), f"{simulator.url}/wl2")
    yield server
    server.stop()


# -- pushes ---------------------------------------------------------------------------------------------------------
@dataclass
class Push:
    fields: list[tuple[str, str]]
    to_oin: str = SCHOOL_OIN
    from_oin: str = SBB_OIN

    def get(self, name: str) -> str | None:
        return next((v for n, v in self.fields if n == name), None)

    def envelope(self, url: str) -> tuple[bytes, str]:
        return push_envelope(url, self.to_oin, self.fields, self.from_oin)


class Ack(SoapAnswer):
    @property
    def signaalcode(self) -> int:
        return int(self.message.findtext(f"{{{WL2_NS}}}Signalering/{{{WL2_NS}}}Signaalcode"))


_session = requests.Session()


def send(receiver, push: Push) -> Ack:
    url = f"{receiver.url}/wl2/mutaties"
    data, message_id = push.envelope(url)
    note(data.decode())
    r = post(url, data, action=f"{WL2_NS}/MutatieLeerbedrijf", session=_session)
    ack = Ack(r.status_code, etree.fromstring(r.content), r.content)
    fault = ack.fault
    assert fault is None or fault[0] != f"{{{SOAP_NS}}}Server", f"soap:Server fault: {fault}"
    if fault is None:
        assert r.status_code == 200, r.content
        assert ack.message.tag == f"{{{WL2_NS}}}MutatieLeerbedrijfResponse", r.content
        assert WL2.validate(ack.message) == [], (WL2.validate(ack.message), r.content)
        assert ack.header("RelatesTo") == message_id
        event(f"signaalcode {ack.signaalcode}")
    else:
        assert r.status_code == 500
        event("soap:Client")
    return ack


# -- what a school sees through GeefMutaties --------------------------------------------------------------------------
def geef_mutaties(receiver, licence: str, vanaf: int, maximum: int = 500) -> etree._Element:
    request = wl1_request("GeefMutaties", f"<w:VanafVolgnummer>{vanaf}</w:VanafVolgnummer>"
                          f"<w:MaximumAantal>{maximum}</w:MaximumAantal>", licence, prolog="")
    answer = SoapAnswer.of(post(f"{receiver.url}/wl1", request, action=f"{WL1_NS}/GeefMutaties", session=_session))
    assert answer.fault is None, f"GeefMutaties from {vanaf} answered a fault: {answer.fault}"
    assert answer.status == 200
    assert WL1.validate(answer.message) == [], WL1.validate(answer.message)
    result = answer.result("GeefMutaties")
    assert int(result.findtext(f"{W}Signaalcode")) == 0, answer.raw
    return result


def read_from(receiver, licence: str, vanaf: int) -> tuple[list[dict], int]:
    seen: list[dict] = []
    while True:
        result = geef_mutaties(receiver, licence, vanaf)
        batch = [{local(c): (c.text or "") for c in m if isinstance(c.tag, str)}
                 for m in result.findall(f"{W}Mutaties/{W}Mutatie")]
        laatste = int(result.findtext(f"{W}LaatsteVolgnummer"))
        if not batch:
            assert laatste == vanaf
            return seen, vanaf
        assert laatste == int(batch[-1]["Volgnummer"])
        seen += batch
        vanaf = laatste


def local(el: etree._Element) -> str:
    return etree.QName(el).localname


class Model:
    """What the receiver has acknowledged and must serve: per school, the first version of each MutatieId."""

    def __init__(self):
        self.stored: dict[str, dict[str, dict]] = {oin: {} for oin in SCHOOLS}  # oin -> mutatie_id -> expected
        self.cursor: dict[str, int] = {oin: 0 for oin in SCHOOLS}

    def expected(self, push: Push) -> dict:
        toelichting = push.get("Toelichting") or ""  # passed on verbatim
        crebo = push.get("Crebonummer")
        return {k: v for k, v in {
            "Soort": WL1_SOORT[push.get("Soort")],
            "CodeLeerbedrijf": push.get("LeerbedrijfId"),
            "OudeCodeLeerbedrijf": push.get("OudLeerbedrijfId"),
            "Crebonummer": str(int(crebo)) if crebo is not None else None,
            "Ingangsdatum": push.get("Ingangsdatum")[:10],
            "Omschrijving": toelichting or None,
        }.items() if v is not None}


def seen_as(m: dict) -> dict:
    out = {k: v for k, v in m.items() if k != "Volgnummer"}
    if out.get("Omschrijving", None) == "":
        del out["Omschrijving"]
    return out


# -- strategies -------------------------------------------------------------------------------------------------------
XML_CHAR = st.characters(exclude_categories=("Cs", "Cc", "Cn", "Co")) | st.sampled_from(
    list(" \t\n&<>]'\"éëüßøł€中文🙂"))
leerbedrijf_id = st.from_regex(r"[0-9]{1,12}", fullmatch=True)
ordinary_date = st.one_of(st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)),
                          st.sampled_from([dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2026, 11, 29)])
                          ).map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}")
xs_date = st.tuples(ordinary_date, st.sampled_from(["", "", "Z", "+02:00", "-14:00"])).map("".join)


EXTREME_DATES = ["10000-01-01", "-0001-01-01", "123456789-12-31"]  # xs:date allows them; no real date is one


def answered_20(push: Push) -> bool:
    """CONTRACTS.md: input the XSD allows but that makes no sense is answered 20 and not stored."""
    return ((push.get("Soort") == "LEERBEDRIJFID_GEWIJZIGD" and push.get("OudLeerbedrijfId") is None)
            or push.get("Crebonummer") == "00000" or push.get("Ingangsdatum") in EXTREME_DATES)


def guid_spelling(u: uuid.UUID) -> st.SearchStrategy[str]:
    return st.sampled_from([str(u), str(u).upper()])


@st.composite
def valid_push(draw, ids: list[uuid.UUID]):
    to_oin = draw(st.sampled_from(list(SCHOOLS)))
    # SBB makes one MutatieId per push, so per school: the same drawn id means a retry to that school
    mutatie_id = draw(st.sampled_from(ids).map(lambda u: uuid.uuid5(u, to_oin)).flatmap(guid_spelling))
    soort = draw(st.sampled_from(SOORTEN))
    fields = [("BerichtID", str(uuid.uuid4())), ("MutatieId", mutatie_id)]
    if draw(st.booleans()):
        fields.append(("AbonnementId", str(uuid.uuid5(uuid.NAMESPACE_URL, to_oin))))
    fields += [("Soort", soort), ("LeerbedrijfId", draw(leerbedrijf_id))]
    if draw(st.booleans()) if soort == "LEERBEDRIJFID_GEWIJZIGD" else draw(st.integers(0, 4)) == 0:
        fields.append(("OudLeerbedrijfId", draw(leerbedrijf_id)))
    if draw(st.booleans()):
        fields.append(("Crebonummer", draw(st.one_of(st.integers(1, 99999).map("{:05d}".format),
                                                      st.just("00000")))))
    fields.append(("Ingangsdatum", draw(st.one_of(xs_date, xs_date, xs_date, st.sampled_from(EXTREME_DATES)))))
    toelichting = draw(st.one_of(st.none(), st.text(XML_CHAR, max_size=80), st.just(" "),
                                 st.text(XML_CHAR, min_size=1, max_size=3).map(lambda t: t * 700)))
    if toelichting is not None:
        fields.append(("Toelichting", toelichting))
    return Push(fields, to_oin)


WRONG_PARTY = [("from", "00000001234567890000"), ("from", SCHOOL_OIN), ("to", "0000000700099ZZ00000"),
               ("to", SBB_OIN)]


@st.composite
def invalid_push(draw, ids: list[uuid.UUID]):
    push = draw(valid_push(ids))
    names = [n for n, _ in push.fields]
    kind = draw(st.sampled_from(["value", "drop", "duplicate", "swap"]))
    if kind == "value":
        broken = {"MutatieId": ["not-a-guid", "", "{" + str(uuid.uuid4()) + "}"], "Soort": ["ERKENNING_VERLOPEN", ""],
                  "LeerbedrijfId": ["12ab", "", "1234567890123"], "OudLeerbedrijfId": ["x", ""],
                  "Crebonummer": ["123", "123456", "abcde"], "Ingangsdatum": ["29-11-2026", "2026-02-30", ""],
                  "AbonnementId": ["abc"], "BerichtID": ["nope"]}
        candidates = [n for n in names if n in broken]
        name = draw(st.sampled_from(candidates))
        push.fields = [(n, draw(st.sampled_from(broken[n])) if n == name else v) for n, v in push.fields]
    elif kind == "drop":
        name = draw(st.sampled_from([n for n in names if n in {"BerichtID", "MutatieId", "Soort", "LeerbedrijfId",
                                                              "Ingangsdatum"}]))
        push.fields = [f for f in push.fields if f[0] != name]
    elif kind == "duplicate":
        i = draw(st.integers(0, len(push.fields) - 1))
        push.fields.insert(i + 1, push.fields[i])
    else:
        i = draw(st.integers(0, len(push.fields) - 2))
        push.fields[i], push.fields[i + 1] = push.fields[i + 1], push.fields[i]
    return push


# -- the property -----------------------------------------------------------------------------------------------------
@settings(COMMON, max_examples=100)
@given(hd=st.data())
def test_random_pushes_are_acknowledged_stored_once_and_served_in_order(receiver, hd):
    model = _model(receiver)
    ids = hd.draw(st.lists(st.uuids(), min_size=1, max_size=4, unique=True))
    steps = hd.draw(st.lists(st.sampled_from(["valid", "valid", "valid", "invalid", "wrong_party"]),
                             min_size=1, max_size=8))
    for step in steps:
        if step == "valid":
            push = hd.draw(valid_push(ids))
        elif step == "invalid":
            push = hd.draw(invalid_push(ids))
        else:
            push = hd.draw(valid_push(ids))
            side, oin = hd.draw(st.sampled_from(WRONG_PARTY))
            if side == "from":
                push.from_oin = oin
            else:
                push.to_oin = oin
        local_problems = WL2.validate(etree.fromstring(push.envelope("http://x/")[0])
                                      .find(f"{{{SOAP_NS}}}Body")[0])
        ack = send(receiver, push)
        if step == "invalid":
            assert local_problems, "the mutation left the push valid (a bug in this test)"
            code, string = ack.fault
            assert code == f"{{{SOAP_NS}}}Client" and string, ack.raw
            continue
        assert not local_problems, local_problems
        assert ack.fault is None, ack.raw
        if step == "wrong_party":
            assert ack.signaalcode == 90, ack.raw
            continue
        mutatie_id = push.get("MutatieId").lower()
        known = model.stored[push.to_oin]
        if answered_20(push):
            assert ack.signaalcode in ({0, 20} if mutatie_id in known else {20}), ack.raw
            continue
        assert ack.signaalcode == 0, ack.raw
        known.setdefault(mutatie_id, model.expected(push))
        if mutatie_id not in model.order[push.to_oin]:
            model.order[push.to_oin].append(mutatie_id)
    # what each school now reads from where its cursor stood: exactly the new distinct MutatieIds, once each
    for oin, licence in SCHOOLS.items():
        start = model.cursor[oin]
        seen, end = read_from(receiver, licence, start)
        new = model.order[oin][model.delivered[oin]:]
        assert [int(m["Volgnummer"]) for m in seen] == list(range(start + 1, start + 1 + len(new))), seen
        assert [seen_as(m) for m in seen] == [model.stored[oin][i] for i in new], (seen, new)
        model.cursor[oin] = end
        model.delivered[oin] = len(model.order[oin])


_MODELS: dict[str, Model] = {}


def _model(receiver) -> Model:
    model = _MODELS.get(receiver.url)
    if model is None:
        model = _MODELS[receiver.url] = Model()
        model.order = {oin: [] for oin in SCHOOLS}
        model.delivered = {oin: 0 for oin in SCHOOLS}
    return model


# -- pushes the XSD allows but the receiver must refuse with 20 (CONTRACTS.md: crebo 00000 is answered 20) ---------
def _one_push(receiver, oin: str, **fields) -> tuple[Ack, Model]:
    base = {"BerichtID": str(uuid.uuid4()), "MutatieId": str(uuid.uuid4()), "Soort": "ERKENNING_GEWIJZIGD",
            "LeerbedrijfId": "770000000001", "Crebonummer": "25171", "Ingangsdatum": "2026-12-01"}
    base.update(fields)
    return send(receiver, Push(list(base.items()), oin))


@pytest.fixture(scope="module")
def probe(simulator, tmp_path_factory):
    """A second fresh adapter: a probe that stores something must not disturb the property's model."""
    server = AdapterServer(tmp_path_factory.mktemp("fuzz-push-probe"), f"{simulator.url}/wl2")
    yield server
    server.stop()


def test_push_with_crebo_00000_is_answered_20_and_geefmutaties_stays_valid(probe):
    ack = _one_push(probe, SCHOOL_OIN, Crebonummer="00000")
    assert ack.fault is None and ack.signaalcode == 20, ack.raw
    # found by this module: it was stored and acknowledged 0, and GeefMutaties then rendered Crebonummer 0
    # (WL 1.0 minimum 1): the answer failed the XSD, so every GeefMutaties from below it was a soap:Server fault
    geef_mutaties(probe, LICENCE, 0)


@pytest.mark.parametrize("ingangsdatum", ["10000-01-01", "-0001-01-01"])
def test_push_with_ingangsdatum_outside_python_years_is_answered_20(probe, ingangsdatum):
    ack = _one_push(probe, OTHER_SCHOOL_OIN, Ingangsdatum=ingangsdatum)
    # found by this module: date.fromisoformat(text[:10]) raised, and the push was answered soap:Server
    # ('could not be stored; please retry'), so SBB would retry it forever
    assert ack.fault is None and ack.signaalcode == 20, ack.raw
