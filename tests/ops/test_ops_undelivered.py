"""Undelivered withdrawals reach people: a school whose system never calls GeefMutaties gets a withdrawal and a
code change pushed by SBB; the gauge shows them waiting, ``mutations list`` lists them, and ``mutations digest``
mails its BPV office once a day, naming the placements of its last check that they affect.

Real processes on loopback: this module's own simulator (events change its data), an adapter with two workers
(the gauge must be right whichever worker answers /metrics), and a local SMTP server (aiosmtpd).
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from email import message_from_bytes, policy

import pytest
import requests
from aiosmtpd.controller import Controller
from zeep.helpers import serialize_object

from adapter.tenants import licence_hash
from tests.support.servers import ROOT, AdapterServer, free_port, start_simulator_process
from tests.support.soap import wl1_client

COMPANIES = 40
LICENCE = "digest-licentie-1"
OIN = "00000007000D1GE00000"
SCHOOL = "ROC Digest"
BPV_OFFICE = "bpv@roc-digest.example"
TODAY = "2026-11-29"


class Inbox:
    """aiosmtpd handler: keeps every message it is given."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    server = start_simulator_process(tmp_path_factory.mktemp("digest-sim") / "simulator.log", count=COMPANIES)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def adapter(sim, smtp, tmp_path_factory):
    work = tmp_path_factory.mktemp("digest-adapter")
    check_dir = work / "bpv-check"
    controller, _ = smtp
    extra = f"""
[[tenants]]
name = "{SCHOOL}"
oin = "{OIN}"
licence_sha256 = "{licence_hash(LICENCE)}"
bpv_email = "{BPV_OFFICE}"
placement_check = "{check_dir}"

[notify]
smtp_host = "127.0.0.1"
smtp_port = {controller.port}
from_address = "wl-adapter@roc-digest.example"
"""
    server = AdapterServer(work, f"{sim.url}/wl2", extra=extra, workers=2)
    server.check_dir = check_dir
    yield server
    server.stop()


def wait_until(check, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def gauges(adapter) -> dict[str, float]:
    """This school's two gauges, from whichever worker answers."""
    text = requests.get(f"{adapter.url}/metrics", timeout=10).text
    found = {}
    for name in ("wl_adapter_mutations_undelivered", "wl_adapter_mutations_undelivered_oldest_age_seconds"):
        m = re.search(rf'^{name}{{school="{SCHOOL}"}} (\S+)$', text, re.M)
        if m:
            found[name] = float(m.group(1))
    return found


def cli(adapter, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "adapter", *args, "--config", str(adapter.config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def fire(sim, **event) -> None:
    r = requests.post(f"{sim.url}/admin/events", json=event, timeout=10)
    assert r.status_code == 200, r.text


def subscribed(sim, leerbedrijf_id: str, crebo: str) -> bool:
    subs = requests.get(f"{sim.url}/admin/abonnementen", timeout=10).json()["abonnementen"]
    return any(s["schoolOin"] == OIN and s["leerbedrijfId"] == leerbedrijf_id and s["crebonummer"] == crebo
               and s["afleveradres"] for s in subs)


def test_withdrawal_for_a_school_that_never_calls_geef_mutaties(sim, adapter, smtp, tmp_path):
    _, inbox = smtp
    companies = requests.get(f"{sim.url}/admin/leerbedrijven", params={"limit": COMPANIES}, timeout=10).json()
    erkend = [(c, e) for c in companies["leerbedrijven"] for e in c["erkenningen"]
              if e["status"] == "ERKEND" and e["einddatum"] is None and e["begindatum"] < "2026-01-01"]
    (gone, gone_rec), (moved, moved_rec) = erkend[0], next(x for x in erkend if x[0] is not erkend[0][0])
    assert gauges(adapter) == {"wl_adapter_mutations_undelivered": 0.0,
                               "wl_adapter_mutations_undelivered_oldest_age_seconds": 0.0}

    # the school's system verifies two placements, as it always did: the adapter subscribes it
    service = wl1_client(adapter).service
    for c, e in ((gone, gone_rec), (moved, moved_rec)):
        answer = serialize_object(service.VerifieerAccreditatie(request={
            "Licentie": LICENCE, "CodeLeerbedrijf": c["leerbedrijfId"], "Crebonummer": int(e["crebonummer"]),
            "Peildatum": TODAY}), dict)
        assert answer["Signaalcode"] == 0, answer
        wait_until(lambda: subscribed(sim, c["leerbedrijfId"], e["crebonummer"]), "the subscription at SBB")

    # the BPV office checked its placements earlier
    export = tmp_path / "plaatsingen.csv"
    export.write_text("Leerling;Bedrijf;Crebo;Leerweg;Begin;Einde\n"
                      f"Zoë Jansen;{gone['leerbedrijfId']};{gone_rec['crebonummer']};{gone_rec['leerweg']};"
                      "01-09-2026;30-06-2027\n"
                      f"Old Timer;{gone['leerbedrijfId']};{gone_rec['crebonummer']};{gone_rec['leerweg']};"
                      "01-09-2025;30-06-2026\n"
                      f"Mo Verhuisd;{moved['leerbedrijfId']};{moved_rec['crebonummer']};{moved_rec['leerweg']};"
                      "01-09-2026;\n", encoding="cp1252")
    check = subprocess.run([sys.executable, "-m", "adapter", "check-placements", str(export), "--config",
                            str(adapter.config), "--school", SCHOOL, "--out", str(adapter.check_dir), "--columns",
                            "student=Leerling,code_leerbedrijf=Bedrijf,crebonummer=Crebo,begindatum=Begin,"
                            "einddatum=Einde", "--date", TODAY], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr

    # SBB withdraws one recognition and gives the other company a new LeerbedrijfId; both are pushed and stored
    fire(sim, soort="ERKENNING_INGETROKKEN", leerbedrijfId=gone["leerbedrijfId"], crebonummer=gone_rec["crebonummer"],
         ingangsdatum="2027-01-01", toelichting="Bedrijf gestopt")
    fire(sim, soort="LEERBEDRIJFID_GEWIJZIGD", leerbedrijfId=moved["leerbedrijfId"], nieuwLeerbedrijfId="987654")
    waiting = wait_until(lambda: (g := gauges(adapter)) and g["wl_adapter_mutations_undelivered"] == 2 and g,
                         "the gauge to show two undelivered mutations")
    assert waiting["wl_adapter_mutations_undelivered_oldest_age_seconds"] >= 0
    time.sleep(1.1)
    assert gauges(adapter)["wl_adapter_mutations_undelivered_oldest_age_seconds"] >= 1  # computed at scrape time

    listing = cli(adapter, "mutations", "list", "--school", SCHOOL, "--undelivered")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert re.search(rf"^1\s+ERKENNING_INGETROKKEN\s+{gone['leerbedrijfId']}\s+{gone_rec['crebonummer']}\s+2027-01-01"
                     rf".*waiting .*Bedrijf gestopt$", lines[1]), lines
    assert re.search(rf"^2\s+LEERBEDRIJFID_GEWIJZIGD\s+987654\s+{moved['leerbedrijfId']}\s", lines[2]), lines
    assert "2 not yet fetched with GeefMutaties" in lines[-1]

    sent = cli(adapter, "mutations", "digest", "--day", TODAY)
    assert sent.returncode == 0, sent.stderr
    assert f"{SCHOOL}: digest of 2 mutation(s) sent to {BPV_OFFICE}" in sent.stdout
    (to, mail), = [m for m in inbox.messages if BPV_OFFICE in m[0]]
    assert to == [BPV_OFFICE] and mail["To"] == BPV_OFFICE and SCHOOL in mail["Subject"]
    body = mail.get_content()
    assert (f"Intrekking van een erkenning: LeerbedrijfId {gone['leerbedrijfId']}, crebo {gone_rec['crebonummer']}, "
            "ingangsdatum 2027-01-01 - Bedrijf gestopt") in body
    assert "plaatsing van Zoë Jansen" in body
    assert "Old Timer" not in body  # that placement ends before the withdrawal takes effect
    assert f"Nieuwe LeerbedrijfId: LeerbedrijfId 987654 (was {moved['leerbedrijfId']})" in body
    assert "plaatsing van Mo Verhuisd" in body
    assert LICENCE not in mail.as_string()

    again = cli(adapter, "mutations", "digest", "--day", TODAY)
    assert again.returncode == 0 and len([m for m in inbox.messages if BPV_OFFICE in m[0]]) == 1
    assert "nothing new" in again.stdout

    # once the school's system does fetch them, nothing waits any more
    service.GeefMutaties(request={"Licentie": LICENCE, "VanafVolgnummer": 2})
    assert gauges(adapter)["wl_adapter_mutations_undelivered"] == 0
    assert cli(adapter, "mutations", "list", "--school", SCHOOL, "--undelivered").stdout.splitlines()[1:] == [
        f"{SCHOOL}: 0 undelivered mutation(s)"]


def test_digest_is_one_mail_per_school_per_day(adapter, sim, smtp):
    """A second digest the same day sends nothing even when something new came in; the next day it does."""
    _, inbox = smtp
    before = len(inbox.messages)
    companies = requests.get(f"{sim.url}/admin/leerbedrijven", params={"limit": COMPANIES}, timeout=10).json()
    c, e = next((c, e) for c in reversed(companies["leerbedrijven"]) for e in c["erkenningen"]
                if e["status"] == "ERKEND" and e["einddatum"] is None)
    answer = serialize_object(wl1_client(adapter).service.VerifieerAccreditatie(request={
        "Licentie": LICENCE, "CodeLeerbedrijf": c["leerbedrijfId"], "Crebonummer": int(e["crebonummer"]),
        "Peildatum": TODAY}), dict)
    assert answer["Signaalcode"] == 0, answer
    wait_until(lambda: subscribed(sim, c["leerbedrijfId"], e["crebonummer"]), "the subscription at SBB")
    fire(sim, soort="ERKENNING_INGETROKKEN", leerbedrijfId=c["leerbedrijfId"], crebonummer=e["crebonummer"],
         ingangsdatum="2027-03-01")
    wait_until(lambda: gauges(adapter)["wl_adapter_mutations_undelivered"] == 1, "the new withdrawal stored")
    same_day = cli(adapter, "mutations", "digest", "--day", TODAY)
    assert same_day.returncode == 0 and "already sent" in same_day.stdout and len(inbox.messages) == before
    next_day = cli(adapter, "mutations", "digest", "--day", "2026-11-30")
    assert next_day.returncode == 0 and "digest of 1 mutation(s)" in next_day.stdout
    assert len(inbox.messages) == before + 1 and "2027-03-01" in inbox.messages[-1][1].get_content()
