"""The console's WSGI application: authentication, routing of its read-only pages, and the data each page shows.

Pages: ``/console`` (recent calls, with filters), ``/console/call/<correlation id>`` (one call's four messages
side by side, validation problems marked), ``/console/pushes`` (received pushes and their delivery),
``/console/schools`` ("status aansluiting" per school), ``/console/status`` (upstream, circuit breaker, validation
policy in force).
"""
from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from importlib import resources
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape

from adapter.config import LEGS, Config
from adapter.console import auth, trail
from adapter.console.xmlview import lines, problem_elements

PREFIX = "/console"
WL1_OPERATIONS = ("GeefBedrijfsgegevens", "VerifieerAccreditatie", "Zoeken", "GeefDetails", "GeefMutaties")
_CALL_PATH = re.compile(r"^/call/([A-Za-z0-9._:-]{1,64})$")
_STATIC = {"console.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = [
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'"),
]


class Console:
    def __init__(self, config: Config, store, tenants, breaker_state, upstream_probe, breaker_gauge=None):
        self.config = config
        self.store = store
        self.tenants = tenants
        self.breaker_state = breaker_state  # () -> this worker's breaker state
        self.upstream_probe = upstream_probe  # () -> "ok" | "error: ..."
        self.breaker_gauge = breaker_gauge  # () -> the metrics gauge over all workers (1 open, 0 closed) or None
        self.env = Environment(loader=PackageLoader("adapter.console", "templates"),
                               autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
        self.env.filters["query"] = lambda params: urlencode({k: v for k, v in params.items() if v})

    # -- WSGI --------------------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        if not auth.authorised(environ.get("HTTP_AUTHORIZATION"), self.config.console):
            body = b"401 Unauthorized: send the console's credentials in the Authorization header\n"
            headers = [("WWW-Authenticate", c) for c in auth.challenges(self.config.console)]
            return self._send(start_response, "401 Unauthorized", body, "text/plain; charset=utf-8", headers)
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return self._send(start_response, "405 Method Not Allowed", b"the console is read-only\n",
                              "text/plain; charset=utf-8", [("Allow", "GET, HEAD")])
        path = (environ.get("PATH_INFO") or "")[len(PREFIX):].rstrip("/") or "/"
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if path.startswith("/static/") and path[8:] in _STATIC:
            data = resources.files("adapter.console").joinpath("static", path[8:]).read_bytes()
            return self._send(start_response, "200 OK", data, _STATIC[path[8:]])
        pages = {"/": ("calls", self.calls), "/pushes": ("pushes", self.pushes),
                 "/schools": ("schools", self.schools), "/status": ("status", self.status)}
        name, page = pages.get(path, ("calls", None))
        match = _CALL_PATH.match(path)
        if page is not None:
            template, context = page(query)
        elif match:
            template, context = self.call(match.group(1))
        else:
            template, context = "notfound.html", {"path": environ.get("PATH_INFO")}
        status = "404 Not Found" if template == "notfound.html" else "200 OK"
        html = self.env.get_template(template).render(prefix=PREFIX, page=name, **context).encode("utf-8")
        return self._send(start_response, status, html, "text/html; charset=utf-8")

    @staticmethod
    def _send(start_response, status: str, body: bytes, content_type: str, extra: list | None = None):
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))),
                                *SECURITY_HEADERS, *(extra or [])])
        return [body]

    # -- data ----------------------------------------------------------------------------------------------------
    def _recent(self) -> list[dict]:
        path = self.config.audit.file
        return trail.newest(path, self.config.console.recent_calls) if path else []

    def _base(self) -> dict:
        return {"trail_file": self.config.audit.file, "bodies": self.config.audit.bodies}

    def calls(self, query: dict) -> tuple[str, dict]:
        filters = trail.Filters(query.get("school", ""), query.get("operation", ""), query.get("signaalcode", ""),
                                query.get("problems") == "1")
        recent = self._recent()
        shown = [dict(rec, problems=trail.problems_of(rec)) for rec in recent if filters.match(rec)][:200]
        return "calls.html", {**self._base(), "calls": shown, "filters": filters, "read": len(recent),
                              "schools": [t.name for t in self.tenants], "operations": WL1_OPERATIONS}

    def call(self, correlation_id: str) -> tuple[str, dict]:
        rec = trail.find(self.config.audit.file, correlation_id, self._recent()) if self.config.audit.file else None
        if rec is None:
            return "notfound.html", {"path": f"{PREFIX}/call/{correlation_id}"}
        messages = rec.get("messages") or {}
        wl1_marks = problem_elements(rec.get("wl1_request_problems") or [])
        legs = []
        for leg, bodies in zip(rec.get("wl2") or [], messages.get("wl2") or [], strict=False):
            legs.append({"leg": leg, "request": lines(bodies.get("request"), set()),
                         "response": lines(bodies.get("response"), problem_elements(leg.get("response_problems")
                                                                                    or []))})
        return "call.html", {**self._base(), "rec": rec, "problems": trail.problems_of(rec), "legs": legs,
                             "wl1_request": lines(messages.get("wl1_request"), wl1_marks),
                             "wl1_response": lines(messages.get("wl1_response"),
                                                   problem_elements(rec.get("wl1_response_problems") or [])),
                             "has_bodies": bool(messages)}

    def _school_name(self, oin: str) -> str:
        tenant = self.tenants.by_oin(oin)
        return tenant.name if tenant else oin

    def pushes(self, query: dict) -> tuple[str, dict]:
        rows = [{"school": self._school_name(oin), "oin": oin, "row": row}
                for oin, row in self.store.recent_mutations(200)]
        return "pushes.html", {**self._base(), "rows": rows}

    def schools(self, query: dict) -> tuple[str, dict]:
        recent = self._recent()
        counts = self.store.school_counts()
        schools = []
        for tenant in self.tenants:
            calls = [r for r in recent if r.get("tenant_oin") == tenant.oin]
            errors = sum(trail.is_error(r) for r in calls)
            schools.append({
                "tenant": tenant, "calls": len(calls), "last": calls[0]["time"] if calls else None,
                "operations": Counter(r.get("operation") for r in calls).most_common(),
                "error_rate": errors / len(calls) if calls else None, "errors": errors,
                "codes": Counter(r.get("signaalcode") for r in calls if r.get("signaalcode") is not None),
                "counts": counts.get(tenant.oin)})
        return "schools.html", {**self._base(), "schools": schools, "read": len(recent)}

    def status(self, query: dict) -> tuple[str, dict]:
        u = self.config.upstream
        policy = self.config.validation
        rows = [{"operation": "(default)", "modes": [dict(policy.default)[leg] for leg in LEGS]}]
        rows += [{"operation": op, "modes": [policy.mode(leg, op) for leg in LEGS]} for op in WL1_OPERATIONS]
        recent = self._recent()
        technical = [r for r in recent if r.get("signaalcode") in trail.TECHNICAL][:20]
        return "status.html", {
            **self._base(), "upstream": u, "probe": self.upstream_probe(), "breaker": self.breaker_state(),
            "gauge": self.breaker_gauge() if self.breaker_gauge else None, "legs": LEGS, "policy": rows,
            "technical": technical, "now": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
