"""The JSON admin API under /admin: events, pushes, messages, scenarios, the register, health."""
from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qs

from adapter.simulator.events import apply_event
from adapter.simulator.model import Address, Company, status_on
from adapter.simulator.operations import OPERATIONS
from adapter.simulator.register import RegisterError
from adapter.simulator.scenarios import Scenario
from adapter.simulator.state import Simulator
from adapter.simulator.tables import QUALIFICATIONS

MAX_LIMIT = 1000


class AdminError(Exception):
    def __init__(self, status: int, field: str | None, message: str):
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def _address(a: Address | None) -> dict | None:
    if a is None:
        return None
    return {"straat": a.straat, "huisnummer": a.huisnummer, "huisnummertoevoeging": a.toevoeging,
            "postcode": a.postcode, "plaats": a.plaats, "land": a.land}


def company_json(sim: Simulator, c: Company) -> dict:
    d = sim.register.details(c)
    today = sim.today()
    return {
        "leerbedrijfId": c.leerbedrijf_id, "naam": c.naam, "codeLeerbedrijf": c.old_code, "kvkNummer": d.kvk,
        "vestigingsadres": _address(c.adres), "correspondentieadres": _address(d.correspondentie),
        "contactpersoon": None if d.contact is None else {
            "naam": d.contact.naam, "email": d.contact.email, "telefoonnummer": d.contact.telefoon},
        "website": d.website, "email": d.email, "telefoonnummer": d.telefoon, "branche": d.branche,
        "erkenningen": [{
            "crebonummer": r.crebo, "omschrijving": QUALIFICATIONS[r.crebo], "leerweg": r.leerweg,
            "status": status_on(r, today), "begindatum": r.begindatum.isoformat(),
            "einddatum": r.einddatum and r.einddatum.isoformat(), "reden": r.reden} for r in c.erkenningen],
        "leerplaatsen": [{
            "leerplaatsId": p.leerplaats_id, "crebonummer": p.crebo, "omschrijving": p.omschrijving,
            "leerweg": p.leerweg, "aantal": p.aantal, "vacaturetekst": p.vacaturetekst, "open": p.open_on(today),
            "startdatum": p.startdatum and p.startdatum.isoformat(),
            "einddatum": p.einddatum and p.einddatum.isoformat()} for p in c.leerplaatsen],
    }


def _int_param(query: dict, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name, [str(default)])[0]
    try:
        value = int(raw)
    except ValueError:
        raise AdminError(400, name, f"'{raw}' is not a whole number") from None
    if not low <= value <= high:
        raise AdminError(400, name, f"must be between {low} and {high}")
    return value


def health(sim: Simulator, query: dict, body) -> tuple[int, object]:
    return 200, {"status": "ok", "leerbedrijven": len(sim.register.companies), "oin": sim.oin,
                 "today": sim.today().isoformat()}


def leerbedrijven(sim: Simulator, query: dict, body) -> tuple[int, object]:
    offset = _int_param(query, "offset", 0, 0, 10 ** 9)
    limit = _int_param(query, "limit", 50, 1, MAX_LIMIT)
    with sim.register.lock:
        if "leerbedrijfId" in query:
            c = sim.register.company(query["leerbedrijfId"][0])
            if c is None:
                raise AdminError(404, "leerbedrijfId", f"{query['leerbedrijfId'][0]} is not a known LeerbedrijfId")
            return 200, company_json(sim, c)
        page = sim.register.companies[offset: offset + limit]
        return 200, {"total": len(sim.register.companies), "offset": offset,
                     "leerbedrijven": [company_json(sim, c) for c in page]}


def post_event(sim: Simulator, query: dict, body) -> tuple[int, object]:
    try:
        pushes = apply_event(sim, body)
    except RegisterError as exc:
        raise AdminError(400, exc.field, exc.message) from None
    return 200, {"mutaties": [p.as_json() for p in pushes]}


def pushes(sim: Simulator, query: dict, body) -> tuple[int, object]:
    return 200, {"pushes": sim.pushes.listing()}


def messages(sim: Simulator, query: dict, body) -> tuple[int, object]:
    return 200, {"messages": sim.messages.newest(_int_param(query, "limit", 50, 1, MAX_LIMIT))}


def subscriptions(sim: Simulator, query: dict, body) -> tuple[int, object]:
    with sim.register.lock:
        return 200, {"abonnementen": [{
            "abonnementId": s.abonnement_id, "schoolOin": s.school_oin, "leerbedrijfId": s.leerbedrijf_id,
            "crebonummer": s.crebo, "afleveradres": s.afleveradres, "sinds": s.sinds.isoformat()}
            for s in sim.subscriptions.by_id.values()]}


def voordrachten(sim: Simulator, query: dict, body) -> tuple[int, object]:
    with sim.register.lock:
        return 200, {"voordrachten": [{
            "voordrachtId": v.voordracht_id, "schoolOin": v.school_oin, "ontvangen": v.ontvangen.isoformat(),
            "bedrijfsnaam": v.bedrijfsnaam, "kvkNummer": v.kvk, "crebonummer": v.crebo, "leerweg": v.leerweg,
            "toelichting": v.toelichting} for v in sim.voordrachten]}


SCENARIO_FIELDS = ("operation", "latency_ms", "error_rate", "signaalcode", "malformed")


def post_scenario(sim: Simulator, query: dict, body) -> tuple[int, object]:
    if not isinstance(body, dict):
        raise AdminError(400, "(body)", "must be a JSON object")
    unknown = sorted(set(body) - set(SCENARIO_FIELDS))
    if unknown:
        raise AdminError(400, unknown[0], f"unknown field; known are {', '.join(SCENARIO_FIELDS)}")
    operation = body.get("operation")
    if operation != "*" and operation not in OPERATIONS:
        raise AdminError(400, "operation", f"'{operation}' is not '*' or one of {', '.join(OPERATIONS)}")
    latency = body.get("latency_ms", 0)
    rate = body.get("error_rate", 0.0)
    code = body.get("signaalcode")
    malformed = body.get("malformed", False)
    if isinstance(latency, bool) or not isinstance(latency, int) or not 0 <= latency <= 120_000:
        raise AdminError(400, "latency_ms", "must be a whole number of milliseconds, 0..120000")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise AdminError(400, "error_rate", "must be a number from 0 to 1")
    if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
        raise AdminError(400, "signaalcode", "must be a whole number")
    if not isinstance(malformed, bool):
        raise AdminError(400, "malformed", "must be true or false")
    sim.scenarios.set(operation, Scenario(latency, float(rate), code, malformed))
    return 200, {"scenarios": sim.scenarios.as_json()}


def get_scenario(sim: Simulator, query: dict, body) -> tuple[int, object]:
    return 200, {"scenarios": sim.scenarios.as_json()}


def delete_scenario(sim: Simulator, query: dict, body) -> tuple[int, object]:
    sim.scenarios.clear()
    return 200, {"scenarios": {}}


Route = Callable[[Simulator, dict, object], tuple[int, object]]
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/admin/health"): health,
    ("GET", "/admin/leerbedrijven"): leerbedrijven,
    ("POST", "/admin/events"): post_event,
    ("GET", "/admin/pushes"): pushes,
    ("GET", "/admin/messages"): messages,
    ("GET", "/admin/abonnementen"): subscriptions,
    ("GET", "/admin/voordrachten"): voordrachten,
    ("GET", "/admin/scenario"): get_scenario,
    ("POST", "/admin/scenario"): post_scenario,
    ("DELETE", "/admin/scenario"): delete_scenario,
}


def handle(sim: Simulator, method: str, path: str, query_string: str, body: bytes) -> tuple[int, bytes]:
    route = ROUTES.get((method, path))
    try:
        if route is None:
            allowed = [m for (m, p) in ROUTES if p == path]
            if allowed:
                raise AdminError(405, None, f"{method} is not allowed on {path}; use {', '.join(allowed)}")
            raise AdminError(404, None, f"no admin endpoint {path}")
        payload = None
        if method == "POST":
            try:
                payload = json.loads(body or b"null")
            except ValueError as exc:
                raise AdminError(400, "(body)", f"not valid JSON: {exc}") from None
        status, result = route(sim, parse_qs(query_string), payload)
    except AdminError as exc:
        status, result = exc.status, {"error": exc.message, "field": exc.field}
    return status, json.dumps(result, ensure_ascii=False, indent=1).encode()
