"""The simulator's WSGI application: a small path router over the SOAP endpoint, the contract files and /admin,
and where network faults are acted out on the connection (see netfaults.py)."""
from __future__ import annotations

import time

from adapter.simulator import ENDPOINT_PATH, admin, endpoint, netfaults
from adapter.simulator.state import Simulator
from adapter.soap.wsdl import request_base_url, wsdl_for, xsd_bytes

SERVED_XSDS = ("wl2.xsd", "ws-addr.xsd")  # what wsdl/wl2.wsdl imports, as ../xsd/NAME from /wl2
MAX_BODY = 1024 * 1024 + 1
XML_TYPE = "text/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"


def _read_body(environ: dict) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(min(length, MAX_BODY)) if length > 0 else b""


def _hang(sim: Simulator, environ: dict, limit_s: float) -> None:
    """Never answer: wait until the client gives up, the scenario changes, the server stops or ``limit_s`` passes;
    then drop the connection."""
    deadline = time.monotonic() + limit_s
    generation = sim.scenarios.generation
    while time.monotonic() < deadline and not (sim.sockets and sim.sockets.stopping):
        if netfaults.client_gone(environ, min(0.25, max(0.0, deadline - time.monotonic()))):
            break
        if sim.scenarios.generation != generation:
            break
    netfaults.reset(environ)


def _drip(sim: Simulator, body: bytes):
    """The answer one byte per DRIP_INTERVAL_S; the rest at once when the scenarios change (cleared)."""
    generation = sim.scenarios.generation
    for i in range(len(body)):
        if sim.scenarios.generation != generation or (sim.sockets and sim.sockets.stopping):
            yield body[i:]
            return
        yield body[i:i + 1]
        sim.scenarios.wait_changed(generation, netfaults.DRIP_INTERVAL_S)


def make_app(sim: Simulator):
    def app(environ, start_response):
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO") or "/"
        query = environ.get("QUERY_STRING", "")

        def reply(status: int, content_type: str, body: bytes):
            start_response(f"{status} {_REASONS.get(status, 'Status')}",
                           [("Content-Type", content_type), ("Content-Length", str(len(body)))])
            return [body]

        if sim.admin_port is not None and str(environ.get("SERVER_PORT")) == str(sim.admin_port) \
                and not path.startswith("/admin/"):
            return reply(404, "text/plain; charset=utf-8", b"this port serves the admin API only (/admin/...)\n")
        if path == ENDPOINT_PATH:
            if method == "POST":
                outcome = endpoint.handle(sim, _read_body(environ), environ.get("HTTP_SOAPACTION"))
                if outcome.fault == "reset":
                    netfaults.reset(environ)
                if outcome.fault == "hang":
                    _hang(sim, environ, outcome.hang_s)
                if outcome.fault == "slow_body":
                    start_response("200 OK", [("Content-Type", outcome.content_type),
                                              ("Content-Length", str(len(outcome.body)))])
                    return _drip(sim, outcome.body)
                return reply(outcome.status, outcome.content_type, outcome.body)
            if method == "GET" and query.lower() == "wsdl":
                return reply(200, XML_TYPE, wsdl_for("wl2", request_base_url(environ) + ENDPOINT_PATH, "WhiteLabel2"))
            return reply(405, "text/plain; charset=utf-8", b"POST SOAP 1.1 requests here; GET ?wsdl for the WSDL\n")
        if path.startswith("/xsd/") and method == "GET" and path[5:] in SERVED_XSDS:
            return reply(200, XML_TYPE, xsd_bytes(path[5:]))
        if path.startswith("/admin/"):
            status, body = admin.handle(sim, method, path, query, _read_body(environ))
            return reply(status, JSON_TYPE, body)
        return reply(404, "text/plain; charset=utf-8", f"not found: {path}\n".encode())

    return app


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
            500: "Internal Server Error", 503: "Service Unavailable"}
