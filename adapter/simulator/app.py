"""The simulator's WSGI application: a small path router over the SOAP endpoint, the contract files and /admin."""
from __future__ import annotations

from adapter.simulator import ENDPOINT_PATH, admin, endpoint
from adapter.simulator.state import Simulator
from adapter.soap.envelope import CONTENT_TYPE
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


def make_app(sim: Simulator):
    def app(environ, start_response):
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO") or "/"
        query = environ.get("QUERY_STRING", "")

        def reply(status: int, content_type: str, body: bytes):
            start_response(f"{status} {_REASONS.get(status, 'Status')}",
                           [("Content-Type", content_type), ("Content-Length", str(len(body)))])
            return [body]

        if path == ENDPOINT_PATH:
            if method == "POST":
                outcome = endpoint.handle(sim, _read_body(environ), environ.get("HTTP_SOAPACTION"))
                return reply(outcome.status, CONTENT_TYPE, outcome.body)
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
            500: "Internal Server Error"}
