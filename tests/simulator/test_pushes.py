"""Admin events and MutatieLeerbedrijf pushes: applied to the register, pushed to matching subscriptions, retried
with back-off until a receiver that starts late acknowledges, in order per subscription, final on 20/90.

The receiver is a tiny http.server in a thread that checks every push against the XSD and answers a valid
MutatieLeerbedrijfResponse with the signaalcode the test chooses.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from adapter.contracts import WL2, WL2_NS
from adapter.simulator import DEFAULT_OIN
from adapter.soap.envelope import envelope, parse_envelope, to_bytes, wsa
from adapter.soap.xmlsafe import parse
from tests.support.servers import SCHOOL_OIN, TODAY, free_port
from tests.support.simulator import N, SimClient, W, code, start_simulator
from tests.support.soap import ANONYMOUS


class Receiver:
    """A school's push endpoint; ``signaalcode`` is what it answers."""

    def __init__(self, port: int, signaalcode: int = 0):
        self.received: list[dict] = []
        self.signaalcode = signaalcode
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers["Content-Length"]))
                _, header, message = parse_envelope(data)
                receiver.received.append({
                    "problems": WL2.validate(message), "message": message,
                    "to": header.findtext(f"{W}To"), "from": header.findtext(f"{W}From/{W}Address"),
                    "action": header.findtext(f"{W}Action"), "message_id": header.findtext(f"{W}MessageID")})
                body = (f'<wl2:MutatieLeerbedrijfResponse xmlns:wl2="{WL2_NS}"><wl2:BerichtID>{uuid.uuid4()}'
                        f"</wl2:BerichtID><wl2:Signalering><wl2:Signaalcode>{receiver.signaalcode}</wl2:Signaalcode>"
                        "<wl2:Signaaltekst>ok</wl2:Signaaltekst></wl2:Signalering></wl2:MutatieLeerbedrijfResponse>")
                reply = to_bytes(envelope(parse(body.encode()), [
                    wsa("Action", f"{WL2_NS}/MutatieLeerbedrijfResponse"), wsa("MessageID", f"urn:uuid:{uuid.uuid4()}"),
                    wsa("RelatesTo", header.findtext(f"{W}MessageID"))]))
                self.send_response(200)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def sim():
    server = start_simulator("--push-backoff-s", "0.05", "--push-max-attempts", "30")
    try:
        yield SimClient(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def companies(sim):
    return sim.companies()


def _wait(predicate, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {value}")


def _push(sim, mutatie_id):
    return next(p for p in sim.admin("pushes").json()["pushes"] if p["mutatieId"] == mutatie_id)


def _subscribe(sim, leerbedrijf_id, url, crebo=None):
    body = sim.call("VerzoekAbonnementMutaties", LeerbedrijfId=leerbedrijf_id, Crebonummer=crebo, Afleveradres=url)
    assert code(body) == 0
    return body.AbonnementId


def _erkend_crebo(c) -> str:
    return next(e["crebonummer"] for e in c["erkenningen"] if e["status"] == "ERKEND")


def test_withdrawal_is_retried_until_a_late_receiver_acknowledges(sim, companies):
    c = next(c for c in companies if any(e["status"] == "ERKEND" for e in c["erkenningen"]))
    crebo = _erkend_crebo(c)
    port = free_port()
    url = f"http://127.0.0.1:{port}/wl2/mutaties"
    abonnement = _subscribe(sim, c["leerbedrijfId"], url, crebo)
    other = _subscribe(sim, c["leerbedrijfId"], f"http://127.0.0.1:{port}/other",
                       next(e["crebonummer"] for e in c["erkenningen"] if e["crebonummer"] != crebo)
                       ) if len({e["crebonummer"] for e in c["erkenningen"]}) > 1 else None

    r = sim.admin("events", "POST", json={"soort": "ERKENNING_INGETROKKEN", "leerbedrijfId": c["leerbedrijfId"],
                                          "crebonummer": crebo, "ingangsdatum": TODAY, "toelichting": "test"})
    assert r.status_code == 200, r.text
    [queued] = r.json()["mutaties"]  # not the subscription on another crebo
    assert queued["abonnementId"] == abonnement and queued["afleveradres"] == url and other != abonnement

    # the withdrawal is visible at once: recognised until yesterday, withdrawn from today
    verify = sim.call("VerifieerAccreditatie", LeerbedrijfId=c["leerbedrijfId"], Crebonummer=crebo, Startdatum=TODAY)
    assert verify.Erkenning.Status == "INGETROKKEN"
    assert verify.Erkenning.Einddatum == dt.date.fromisoformat(TODAY) - dt.timedelta(days=1)

    _wait(lambda: _push(sim, queued["mutatieId"])["attempts"] >= 3, what="three failed attempts")
    assert _push(sim, queued["mutatieId"])["state"] == "pending"
    receiver = Receiver(port)
    try:
        done = _wait(lambda: (p := _push(sim, queued["mutatieId"]))["state"] != "pending" and p, what="ack")
    finally:
        receiver.stop()
    assert done["state"] == "acknowledged" and done["attempts"] >= 4
    [push] = receiver.received
    assert push["problems"] == []
    assert push["to"] == f"{url}?oin={SCHOOL_OIN}"
    assert push["from"] == f"{ANONYMOUS}?oin={DEFAULT_OIN}"
    assert push["action"] == "urn:sbb:whitelabel:2.0/MutatieLeerbedrijf"
    m = push["message"]
    assert (m.findtext(f"{N}MutatieId"), m.findtext(f"{N}AbonnementId"), m.findtext(f"{N}Soort"),
            m.findtext(f"{N}LeerbedrijfId"), m.findtext(f"{N}Crebonummer"), m.findtext(f"{N}Ingangsdatum")) == (
        queued["mutatieId"], abonnement, "ERKENNING_INGETROKKEN", c["leerbedrijfId"], crebo, TODAY)


def test_pushes_keep_their_order_per_subscription(sim, companies):
    c = companies[10]
    port = free_port()
    _subscribe(sim, c["leerbedrijfId"], f"http://127.0.0.1:{port}/m")
    ids = []
    for soort in ("GEGEVENS_GEWIJZIGD", "ERKENNING_VERLEEND", "GEGEVENS_GEWIJZIGD"):
        event = {"soort": soort, "leerbedrijfId": c["leerbedrijfId"]}
        if soort == "ERKENNING_VERLEEND":
            event.update(crebonummer="25655", leerweg="BBL")
        [queued] = sim.admin("events", "POST", json=event).json()["mutaties"]
        ids.append(queued["mutatieId"])
    _wait(lambda: _push(sim, ids[0])["attempts"] >= 2, what="retries")
    assert all(_push(sim, i)["attempts"] == 0 for i in ids[1:])  # later ones wait for the first
    receiver = Receiver(port)
    try:
        _wait(lambda: all(_push(sim, i)["state"] == "acknowledged" for i in ids), what="all acknowledged")
    finally:
        receiver.stop()
    assert [r["message"].findtext(f"{N}MutatieId") for r in receiver.received] == ids
    granted = sim.call("VerifieerAccreditatie", LeerbedrijfId=c["leerbedrijfId"], Crebonummer="25655",
                       Startdatum=TODAY).Erkenning
    assert (granted.Status, granted.Leerweg, granted.Begindatum.isoformat()) == ("ERKEND", "BBL", TODAY)


def test_id_change_moves_company_and_subscriptions(sim, companies):
    c = companies[20]
    receiver = Receiver(port := free_port())
    try:
        abonnement = _subscribe(sim, c["leerbedrijfId"], f"http://127.0.0.1:{port}/m")
        r = sim.admin("events", "POST", json={"soort": "LEERBEDRIJFID_GEWIJZIGD", "leerbedrijfId": c["leerbedrijfId"],
                                              "nieuwLeerbedrijfId": "987654321"})
        [queued] = r.json()["mutaties"]
        _wait(lambda: _push(sim, queued["mutatieId"])["state"] == "acknowledged", what="ack")
    finally:
        receiver.stop()
    m = receiver.received[0]["message"]
    assert (m.findtext(f"{N}LeerbedrijfId"), m.findtext(f"{N}OudLeerbedrijfId")) == ("987654321", c["leerbedrijfId"])
    subs = sim.call("OverzichtLopendeAbonnementen").Abonnementen.Abonnement
    assert next(s for s in subs if s.AbonnementId == abonnement).LeerbedrijfId == "987654321"
    assert sim.call("OpvragenDetailgegevensLeerbedrijf", LeerbedrijfId="987654321").Leerbedrijf.Naam == c["naam"]
    assert code(sim.call("OpvragenDetailgegevensLeerbedrijf", LeerbedrijfId=c["leerbedrijfId"])) == 10


def test_signaalcode_20_from_the_receiver_is_final(sim, companies):
    c = companies[30]
    receiver = Receiver(port := free_port(), signaalcode=20)
    try:
        _subscribe(sim, c["leerbedrijfId"], f"http://127.0.0.1:{port}/m")
        [queued] = sim.admin("events", "POST", json={"soort": "GEGEVENS_GEWIJZIGD",
                                                     "leerbedrijfId": c["leerbedrijfId"]}).json()["mutaties"]
        done = _wait(lambda: (p := _push(sim, queued["mutatieId"]))["state"] != "pending" and p, what="final")
    finally:
        receiver.stop()
    assert (done["state"], done["attempts"]) == ("failed", 1) and "20" in done["lastError"]


@pytest.mark.parametrize("event, field", [
    ({"soort": "ONZIN", "leerbedrijfId": "100001"}, "soort"),
    ({"soort": "GEGEVENS_GEWIJZIGD"}, "leerbedrijfId"),
    ({"soort": "GEGEVENS_GEWIJZIGD", "leerbedrijfId": "1"}, "leerbedrijfId"),
    ({"soort": "ERKENNING_INGETROKKEN", "leerbedrijfId": "100001"}, "crebonummer"),
    ({"soort": "ERKENNING_VERLEEND", "leerbedrijfId": "100001", "crebonummer": "99999"}, "crebonummer"),
    ({"soort": "GEGEVENS_GEWIJZIGD", "leerbedrijfId": "100001", "ingangsdatum": "29-11-2026"}, "ingangsdatum"),
    ({"soort": "LEERBEDRIJFID_GEWIJZIGD", "leerbedrijfId": "100001"}, "nieuwLeerbedrijfId"),
    ({"soort": "LEERBEDRIJFID_GEWIJZIGD", "leerbedrijfId": "100001", "nieuwLeerbedrijfId": "100002"},
     "nieuwLeerbedrijfId"),
    ({"soort": "GEGEVENS_GEWIJZIGD", "leerbedrijfId": "100001", "leerwegg": "BOL"}, "leerwegg"),
])
def test_bad_events_are_400_naming_the_field(sim, event, field):
    r = sim.admin("events", "POST", json=event)
    assert r.status_code == 400 and r.json()["field"] == field, r.text
