"""What the mutations tests share (the bridge, crash, PostgreSQL and retention tests, the review edge cases):
schools configured per test, the simulator's admin API (events, pushes, subscriptions at SBB), a legacy client
reading GeefMutaties, and raw MutatieLeerbedrijf pushes with their acknowledgements."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
from lxml import etree
from zeep.helpers import serialize_object

from adapter.config import UpstreamConfig
from adapter.simulator import DEFAULT_OIN as SBB_OIN
from adapter.tenants import licence_hash
from adapter.wl2.clients import Wl2Clients
from tests.support.servers import ROOT, SIM_COMPANIES, TODAY, wl_adapter
from tests.support.soap import SOAP_NS, WL2_NS, WSA_NS, post, wl1_client

WL2_SCHEMA = etree.XMLSchema(file=str(ROOT / "adapter" / "xsd" / "wl2.xsd"))
WAIT_S = 10.0


@dataclass(frozen=True)
class School:
    number: int

    @property
    def oin(self) -> str:
        return f"00000007000T{self.number:03d}00000"

    @property
    def licence(self) -> str:
        return f"mutaties-licentie-{self.number}"

    def toml(self) -> str:
        return (f'\n[[tenants]]\nname = "Mutatieschool {self.number}"\noin = "{self.oin}"\n'
                f'licence_sha256 = "{licence_hash(self.licence)}"\n')


# the schools of tests/mutations/test_bridge.py, one per test; other modules number theirs after these
SCHOOLS = {name: School(n) for n, name in enumerate(
    ["subscribe", "withdraw", "withdraw_other", "id_change", "id_chain", "cursor", "raw", "crebos", "raw2"], start=1)}


def schools_config(*schools: School) -> str:
    return "".join(s.toml() for s in schools)


def wait_until(check, timeout: float = WAIT_S, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def admin(sim, path: str) -> dict:
    r = requests.get(f"{sim.url}/admin/{path}", timeout=10, verify=sim.verify, cert=sim.cert)
    r.raise_for_status()
    return r.json()


def sim_companies(sim, count: int = SIM_COMPANIES) -> list[dict]:
    return admin(sim, f"leerbedrijven?offset=0&limit={count}")["leerbedrijven"]


class CompanyPool:
    """Hands out companies with a recognition that is ERKEND today, each one once (tests change their data)."""

    def __init__(self, companies: list[dict]):
        self._free = [c for c in companies if any(e["status"] == "ERKEND" for e in c["erkenningen"])]

    def take(self, old_code: bool = False, recognitions: int = 1) -> tuple[dict, list[str]]:
        for c in self._free:
            crebos = sorted({e["crebonummer"] for e in c["erkenningen"] if e["status"] == "ERKEND"})
            if len(crebos) >= recognitions and (c["codeLeerbedrijf"] or not old_code):
                self._free.remove(c)
                return c, crebos
        raise LookupError("no suitable company left in the simulator's data set")


def subscriptions_at_sbb(sim, school_oin: str | None = None) -> list[dict]:
    subs = admin(sim, "abonnementen")["abonnementen"]
    return [s for s in subs if school_oin is None or s["schoolOin"] == school_oin]


def find_subscription(sim, school_oin: str, leerbedrijf_id: str, crebo: str | None) -> dict | None:
    return next((s for s in subscriptions_at_sbb(sim, school_oin)
                 if s["leerbedrijfId"] == leerbedrijf_id and s["crebonummer"] == crebo), None)


def verify(adapter, licence: str, code: str, crebo: str, peildatum: str = TODAY) -> dict:
    service = wl1_client(adapter).service
    return serialize_object(service.VerifieerAccreditatie(request={
        "Licentie": licence, "CodeLeerbedrijf": code, "Crebonummer": int(crebo), "Peildatum": peildatum}), dict)


def subscribe(sim, adapter, school: School, code: str, leerbedrijf_id: str, crebo: str) -> dict:
    """VerifieerAccreditatie answering 0, then wait for the school's subscription at SBB."""
    result = verify(adapter, school.licence, code, crebo)
    assert result["Signaalcode"] == 0, result
    return wait_until(lambda: find_subscription(sim, school.oin, leerbedrijf_id, crebo),
                      what=f"subscription of {school.oin} to {leerbedrijf_id}/{crebo} at SBB")


def fire(sim, **event) -> list[dict]:
    """POST /admin/events; returns the pushes it queued (one per matching subscription)."""
    r = requests.post(f"{sim.url}/admin/events", json=event, timeout=10, verify=sim.verify, cert=sim.cert)
    assert r.status_code == 200, r.text
    return r.json()["mutaties"]


def wait_acknowledged(sim, mutatie_ids, timeout: float = WAIT_S) -> list[dict]:
    wanted = set(mutatie_ids)

    def done():
        pushes = [p for p in admin(sim, "pushes")["pushes"] if p["mutatieId"] in wanted]
        failed = [p for p in pushes if p["state"] == "failed"]
        assert not failed, failed
        return pushes if len(pushes) == len(wanted) and all(p["state"] == "acknowledged" for p in pushes) else None
    return wait_until(done, timeout, 0.05, f"{len(wanted)} push(es) acknowledged")


def geef_mutaties(adapter, licence: str, vanaf: int, maximum: int | None = None) -> dict:
    request = {"Licentie": licence, "VanafVolgnummer": vanaf}
    if maximum is not None:
        request["MaximumAantal"] = maximum
    return serialize_object(wl1_client(adapter).service.GeefMutaties(request=request), dict)


def mutaties_of(result: dict) -> list[dict]:
    return (result.get("Mutaties") or {}).get("Mutatie") or []


def read_all(adapter, licence: str, vanaf: int = 0, maximum: int = 500) -> list[dict]:
    """Walk the cursor from ``vanaf`` to the end, as a legacy client would."""
    seen = []
    while True:
        result = geef_mutaties(adapter, licence, vanaf, maximum)
        assert result["Signaalcode"] == 0, result
        batch = mutaties_of(result)
        if not batch:
            assert result["LaatsteVolgnummer"] == vanaf
            return seen
        assert result["LaatsteVolgnummer"] == batch[-1]["Volgnummer"]
        seen += batch
        vanaf = result["LaatsteVolgnummer"]


def signature(m: dict) -> tuple:
    """What a WL 1.0 Mutatie says, to compare with what the simulator pushed."""
    return (m["Soort"], m["CodeLeerbedrijf"], m["OudeCodeLeerbedrijf"],
            None if m["Crebonummer"] is None else int(m["Crebonummer"]), str(m["Ingangsdatum"]), m["Omschrijving"])


WL1_SOORT = {"ERKENNING_INGETROKKEN": "INTREKKING", "ERKENNING_VERLEEND": "ERKENNING",
             "ERKENNING_GEWIJZIGD": "WIJZIGING_ERKENNING", "LEERBEDRIJFID_GEWIJZIGD": "WIJZIGING_CODE",
             "GEGEVENS_GEWIJZIGD": "WIJZIGING_GEGEVENS"}


def push_signature(p: dict) -> tuple:
    return (WL1_SOORT[p["soort"]], p["leerbedrijfId"], p["oudLeerbedrijfId"],
            None if p["crebonummer"] is None else int(p["crebonummer"]), p["ingangsdatum"], p["toelichting"])


def import_sim_mapping(adapter, workdir: Path) -> None:
    mapping = workdir / "sim-mapping.csv"
    run = wl_adapter("simulate", "--seed", "1", "--leerbedrijven", str(SIM_COMPANIES), "--export-mapping", str(mapping))
    assert run.returncode == 0, run.stderr
    run = adapter.cli("mapping", "import", str(mapping))
    assert run.returncode == 0, run.stdout + run.stderr


def wl2_as_school(sim):
    """A WL 2.0 client as a school would use it (the adapter's own zeep client): .call(op, school_oin, body)."""
    return Wl2Clients(UpstreamConfig(url=f"{sim.url}/wl2", oin=SBB_OIN, timeout_s=5.0)).default()


# -- raw pushes ---------------------------------------------------------------------------------------------------
def push_body(mutatie_id: str | None = None, soort: str = "ERKENNING_GEWIJZIGD", leerbedrijf_id: str = "100001",
              oud: str | None = None, crebo: str | None = "25171", ingangsdatum: str = TODAY,
              toelichting: str | None = "raw", abonnement_id: str | None = None) -> list[tuple[str, str]]:
    fields = [("BerichtID", str(uuid.uuid4())), ("MutatieId", mutatie_id or str(uuid.uuid4()))]
    if abonnement_id:
        fields.append(("AbonnementId", abonnement_id))
    fields += [("Soort", soort), ("LeerbedrijfId", leerbedrijf_id)]
    if oud is not None:
        fields.append(("OudLeerbedrijfId", oud))
    if crebo is not None:
        fields.append(("Crebonummer", crebo))
    fields.append(("Ingangsdatum", ingangsdatum))
    if toelichting is not None:
        fields.append(("Toelichting", toelichting))
    return fields


@dataclass
class PushAnswer:
    status: int
    root: etree._Element

    @property
    def body(self) -> etree._Element:
        return [c for c in self.root.find(f"{{{SOAP_NS}}}Body") if isinstance(c.tag, str)][0]

    def header(self, name: str) -> str | None:
        header = self.root.find(f"{{{SOAP_NS}}}Header")
        el = header.find(f"{{{WSA_NS}}}{name}") if header is not None else None
        return None if el is None else (el.text or "").strip()

    @property
    def signaalcode(self) -> int:
        return int(self.body.findtext(f"{{{WL2_NS}}}Signalering/{{{WL2_NS}}}Signaalcode"))

    @property
    def foutmelding(self) -> str:
        return self.body.findtext(f"{{{WL2_NS}}}Signalering/{{{WL2_NS}}}Foutmelding") or ""

    @property
    def fault(self) -> tuple[str, str] | None:
        if self.body.tag != f"{{{SOAP_NS}}}Fault":
            return None
        return (self.body.findtext("faultcode") or "").strip(), (self.body.findtext("faultstring") or "").strip()


def post_push(adapter, data: bytes) -> PushAnswer:
    r = post(f"{adapter.url}/wl2/mutaties", data, action=f"{WL2_NS}/MutatieLeerbedrijf", timeout=10)
    return PushAnswer(r.status_code, etree.fromstring(r.content))


def assert_acknowledgement(answer: PushAnswer, request_message_id: str, code: int) -> None:
    """A MutatieLeerbedrijfResponse (not a fault), valid against the WL 2.0 XSD, with the addressing answers."""
    assert answer.status == 200 and answer.fault is None, etree.tostring(answer.root)
    assert answer.body.tag == f"{{{WL2_NS}}}MutatieLeerbedrijfResponse"
    WL2_SCHEMA.assertValid(answer.body)
    assert answer.signaalcode == code, etree.tostring(answer.body)
    assert answer.header("RelatesTo") == request_message_id
    assert answer.header("Action") == f"{WL2_NS}/MutatieLeerbedrijfResponse"
    assert (answer.header("MessageID") or "").startswith("urn:uuid:")
    assert answer.header("MessageID") != request_message_id
