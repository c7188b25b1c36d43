"""The simulator's WSGI application: a small path router over the SOAP endpoint, the contract files and /admin."""
from __future__ import annotations

from functools import lru_cache

from lxml import etree

from adapter.contracts import WL2, xsd_path
from adapter.simulator import ENDPOINT_PATH, admin, endpoint
from adapter.simulator.state import Simulator
from adapter.soap.envelope import CONTENT_TYPE

SERVED_XSDS = ("wl2.xsd", "ws-addr.xsd")  # what wsdl/wl2.wsdl imports, as ../xsd/NAME from /wl2
MAX_BODY = 1024 * 1024 + 1
_WSDL_NS = {"wsdl": "http://schemas.xmlsoap.org/wsdl/", "soap": "http://schemas.xmlsoap.org/wsdl/soap/"}
XML_TYPE = "text/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"


@lru_cache(maxsize=32)
def wsdl_for(location: str) -> bytes:
    """The frozen WSDL with the WhiteLabel2 port's soap:address set to ``location``."""
    tree = etree.parse(str(WL2.wsdl), etree.XMLParser(no_network=True, resolve_entities=False))
    for address in tree.xpath("//wsdl:service[@name='WhiteLabel2']/wsdl:port/soap:address", namespaces=_WSDL_NS):
        address.set("location", location)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def _base_url(environ: dict) -> str:
    scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_X_FORWARDED_HOST") or environ.get("HTTP_HOST") or \
        f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{scheme.split(',')[0].strip()}://{host.split(',')[0].strip()}{environ.get('SCRIPT_NAME', '')}"


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
                return reply(200, XML_TYPE, wsdl_for(_base_url(environ) + ENDPOINT_PATH))
            return reply(405, "text/plain; charset=utf-8", b"POST SOAP 1.1 requests here; GET ?wsdl for the WSDL\n")
        if path.startswith("/xsd/") and method == "GET" and path[5:] in SERVED_XSDS:
            return reply(200, XML_TYPE, xsd_path(path[5:]).read_bytes())
        if path.startswith("/admin/"):
            status, body = admin.handle(sim, method, path, query, _read_body(environ))
            return reply(status, JSON_TYPE, body)
        return reply(404, "text/plain; charset=utf-8", f"not found: {path}\n".encode())

    return app


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
            500: "Internal Server Error"}
