"""The JSON admin API under /admin: events, pushes, the journal, scenarios, reset, the register, health; described
by the OpenAPI document it serves at /admin/openapi.json (openapi.py)."""
from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from urllib.parse import parse_qs

from adapter.simulator.events import apply_event
from adapter.simulator.model import Address, Company, status_on
from adapter.simulator.operations import OPERATIONS
from adapter.simulator.register import RegisterError
from adapter.simulator.scenarios import ALL, NETWORK_FAULTS, Scenario
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
    return 200, {"status": "ok", "leerbedrijven": len(sim.register.companies), "seed": sim.seed, "oin": sim.oin,
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


def _since(query: dict) -> dt.datetime | None:
    raw = query.get("since", [""])[0].strip()
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise AdminError(400, "since", f"'{raw}' is not a date-time like 2026-11-29T10:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


JOURNAL_KINDS = ("call", "push")


def journal(sim: Simulator, query: dict, body) -> tuple[int, object]:
    kind = query.get("kind", [""])[0] or None
    if kind is not None and kind not in JOURNAL_KINDS:
        raise AdminError(400, "kind", f"'{kind}' is not one of {', '.join(JOURNAL_KINDS)}")
    entries = sim.messages.query(limit=_int_param(query, "limit", 50, 1, MAX_LIMIT),
                                 operation=query.get("operation", [""])[0] or None,
                                 oin=query.get("oin", [""])[0] or None, since=_since(query), kind=kind)
    return 200, {"entries": entries}


RESET_FIELDS = ("seed", "leerbedrijven")
MAX_LEERBEDRIJVEN = 500_000


def _whole(payload: dict, name: str, low: int, high: int) -> int | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise AdminError(400, name, f"must be a whole number from {low} to {high}")
    return value


def reset(sim: Simulator, query: dict, body) -> tuple[int, object]:
    payload = {} if body is None else body
    if not isinstance(payload, dict):
        raise AdminError(400, "(body)", "must be a JSON object (or empty)")
    unknown = sorted(set(payload) - set(RESET_FIELDS))
    if unknown:
        raise AdminError(400, unknown[0], f"unknown field; known are {', '.join(RESET_FIELDS)}")
    sim.reset(_whole(payload, "seed", 0, 2 ** 31 - 1), _whole(payload, "leerbedrijven", 1, MAX_LEERBEDRIJVEN))
    return health(sim, query, None)


def openapi_document(sim: Simulator, query: dict, body) -> tuple[int, object]:
    from adapter.simulator.openapi import document

    return 200, document()


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
            "toelichting": v.toelichting, "vestigingsadres": v.vestigingsadres, "contactpersoon": v.contactpersoon}
            for v in sim.voordrachten if _for_school(v, query)]}


def _for_school(v, query: dict) -> bool:
    """``?schoolOin=`` limits the listing to one school's proposals."""
    wanted = query.get("schoolOin")
    return not wanted or v.school_oin == wanted[0]


SCENARIO_FIELDS = ("operation", "latency_ms", "error_rate", "signaalcode", "malformed", "fault", "count",
                   "duration_ms")


def _network_fields(sim: Simulator, body: dict, operation: str) -> tuple[str | None, int | None, int | None]:
    fault = body.get("fault")
    count = body.get("count")
    duration = body.get("duration_ms")
    if fault is not None and fault not in NETWORK_FAULTS:
        raise AdminError(400, "fault", f"'{fault}' is not one of {', '.join(NETWORK_FAULTS)}")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1_000_000):
        raise AdminError(400, "count", "must be a whole number of calls, 1..1000000")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int)
                                 or not 1 <= duration <= 600_000):
        raise AdminError(400, "duration_ms", "must be a whole number of milliseconds, 1..600000")
    if duration is not None and fault not in ("refuse", "hang"):
        raise AdminError(400, "duration_ms", "belongs to fault refuse (reopen after) or hang (give up after)")
    if fault == "refuse":
        if operation != ALL:
            raise AdminError(400, "operation", "refuse closes the whole port: it is only for operation '*'")
        if count is not None:
            raise AdminError(400, "count", "a refused connection never reaches the simulator, so it cannot be "
                                           "counted: use duration_ms")
        if sim.sockets is None or not sim.sockets.attached:
            raise AdminError(400, "fault", "refuse needs the simulator served by `wl-adapter simulate`")
        if duration is None and sim.admin_port is None:
            raise AdminError(400, "duration_ms", "refuse closes the port the admin API is on: give duration_ms "
                                                 "(the port reopens after it), or start the simulator with "
                                                 "--admin-port to clear it with DELETE /admin/scenario")
    return fault, count, duration


def _apply_port(sim: Simulator) -> None:
    """The SOAP port refuses connections exactly while the '*' scenario is a refuse."""
    if sim.sockets is None or not sim.sockets.attached:
        return
    current = sim.scenarios.get(ALL)
    if current is not None and current.fault == "refuse":
        sim.sockets.refuse()
        if current.duration_ms:
            timer = threading.Timer(current.duration_ms / 1000, _end_refuse, (sim, current))
            timer.daemon = True
            timer.start()
    else:
        sim.sockets.reopen()


def _end_refuse(sim: Simulator, scenario: Scenario) -> None:
    if sim.scenarios.remove(ALL, scenario):
        _apply_port(sim)


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
    fault, count, duration = _network_fields(sim, body, operation)
    sim.scenarios.set(operation, Scenario(latency, float(rate), code, malformed, fault, count, duration))
    _apply_port(sim)
    return 200, {"scenarios": sim.scenarios.as_json()}


def get_scenario(sim: Simulator, query: dict, body) -> tuple[int, object]:
    return 200, {"scenarios": sim.scenarios.as_json()}


def delete_scenario(sim: Simulator, query: dict, body) -> tuple[int, object]:
    sim.scenarios.clear()
    _apply_port(sim)
    return 200, {"scenarios": {}}


Route = Callable[[Simulator, dict, object], tuple[int, object]]
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/admin/health"): health,
    ("GET", "/admin/leerbedrijven"): leerbedrijven,
    ("POST", "/admin/events"): post_event,
    ("GET", "/admin/pushes"): pushes,
    ("GET", "/admin/messages"): messages,
    ("GET", "/admin/journal"): journal,
    ("POST", "/admin/reset"): reset,
    ("GET", "/admin/openapi.json"): openapi_document,
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
