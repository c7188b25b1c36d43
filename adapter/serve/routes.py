"""The adapter's WSGI applications: ``Router`` routes each request on the WL 1.0 listener to the WL 1.0 service,
the push receiver (when pushes are served there), the contract files, or the operations endpoints;
``PushRouter`` is the push listener's, which serves /wl2/mutaties and nothing else. Size limits are enforced here,
before anything is parsed."""
from __future__ import annotations

import io
import json
import logging
import re
import time
import uuid
from collections.abc import Callable

from adapter.config import MUTATIES_PATH
from adapter.serve.deadline import WATCHDOG
from adapter.serve.memory import LARGE_BODY, TRIMMER
from adapter.soap import envelope as soap
from adapter.soap.wsdl import disco_for, request_base_url, single_wsdl_for, xsd_bytes, xsd_name_for
from adapter.wl1.call import ENVIRON_KEY, Call, CallListeners

log = logging.getLogger("wl_adapter.app")

LEGACY_PATHS = (
    "/wl1",
    "/webservices/whitelabel/ws_whitelabelzoekenv03.asmx",
    "/webservices/whitelabel/ws_vacaturedetails.asmx",
    "/webservices/whitelabel/ws_bedrijfsgegevens.asmx",
    "/webservices/whitelabel/ws_accreditatie.asmx",
    "/webservices/whitelabel/ws_mutaties.asmx",
)
_LEGACY = {p.lower(): p for p in LEGACY_PATHS}  # IIS paths were case-insensitive; old clients rely on it

WsgiApp = Callable
_REQUEST_KEY = "wl_adapter.request_body"
_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def _correlation_id(offered: str | None) -> str:
    """The client's X-Correlation-ID when it is sane, else a fresh one."""
    return offered if offered and _CORRELATION_ID.match(offered) else uuid.uuid4().hex


def _respond(start_response, status: str, body: bytes, content_type: str, extra: list | None = None):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *(extra or [])])
    return [body]


_STATUS = {500: "500 Internal Server Error", 400: "400 Bad Request", 413: "413 Request Entity Too Large",
           405: "405 Method Not Allowed", 408: "408 Request Timeout"}


def _fault(start_response, code: str, string: str, http_status: int = 500,
           version: soap.SoapVersion = soap.SOAP11):
    return _respond(start_response, _STATUS[http_status], soap.fault_bytes(code, string, version=version),
                    version.content_type)


# ?wsdl, ?WSDL, ?singlewsdl (WCF's name for the one-document form) all give the one self-contained WSDL
_WSDL_QUERIES = ("wsdl", "wsdl=", "singlewsdl", "singlewsdl=")
_DISCO_QUERIES = ("disco", "disco=")


def _not_found(start_response, path: str):
    return _respond(start_response, "404 Not Found", json.dumps({"error": f"no such path: {path}"}).encode(),
                    "application/json")


class BodyTimeout(Exception):
    """The request body did not arrive within the configured time."""


def read_body(environ: dict, max_bytes: int, timeout_s: float = 0.0) -> bytes | None:
    """The request body, or None when it is larger than ``max_bytes`` (never reads more than that + 1).

    With ``timeout_s`` (and under gunicorn, which hands over the client socket), the whole body must arrive within
    that time, however slowly it trickles: else ``BodyTimeout``."""
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > max_bytes:
        return None
    stream = environ["wsgi.input"]
    sock = environ.get("gunicorn.socket") if timeout_s > 0 else None
    token = WATCHDOG.watch(sock, time.monotonic() + timeout_s) if sock is not None else None
    try:
        data = stream.read(int(length)) if length.isdigit() else stream.read(max_bytes + 1)
    except Exception:  # a read cut short by the deadline ends in whatever the server raises then
        if token is not None and WATCHDOG.release(token):
            raise BodyTimeout() from None
        raise
    if token is not None and WATCHDOG.release(token) and (not length.isdigit() or len(data) < int(length)):
        raise BodyTimeout()
    return None if len(data) > max_bytes else data


class Router:
    def __init__(self, wl1: WsgiApp, max_body_bytes: int, routes: dict[str, WsgiApp] | None = None,
                 mutaties: WsgiApp | None = None, listeners: CallListeners | None = None,
                 prefixes: dict[str, WsgiApp] | None = None,
                 body_timeout_s: float = 0.0, trim_memory: bool = False):
        self.wl1 = wl1
        self.trim_memory = trim_memory
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.routes = routes or {}  # exact path -> app (metrics, health)
        self.prefixes = prefixes or {}  # path prefix -> app, for it and everything under it (the console)
        self.mutaties = mutaties
        self.listeners = listeners or CallListeners()  # told of every finished WL 1.0 call

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        query = environ.get("QUERY_STRING", "")
        legacy = _LEGACY.get(path.rstrip("/").lower())
        if legacy is not None:
            if method in ("GET", "HEAD"):
                if query.lower() in _WSDL_QUERIES:
                    location = request_base_url(environ) + path
                    return _respond(start_response, "200 OK", single_wsdl_for("wl1", location),
                                    "text/xml; charset=utf-8")
                if query.lower() in _DISCO_QUERIES:
                    location = request_base_url(environ) + path
                    return _respond(start_response, "200 OK", disco_for(location), "text/xml; charset=utf-8")
                return _respond(start_response, "200 OK",
                                f"WL 1.0 White Label service. WSDL: {path}?wsdl\n".encode(),
                                "text/plain; charset=utf-8")
            if method != "POST":
                return _fault(start_response, "Client", "a SOAP request is an HTTP POST", 405,
                              soap.negotiate(environ.get("CONTENT_TYPE")))
            return self._observed(environ, start_response)
        if path == MUTATIES_PATH and self.mutaties is not None and method == "POST":
            return self._soap(self.mutaties, environ, start_response)
        name = xsd_name_for(path)
        if name and method in ("GET", "HEAD"):
            return _respond(start_response, "200 OK", xsd_bytes(name), "text/xml; charset=utf-8")
        route = self.routes.get(path)
        if route is not None:
            return route(environ, start_response)
        for prefix, app in self.prefixes.items():
            if path == prefix or path.startswith(prefix + "/"):
                return app(environ, start_response)
        return _not_found(start_response, path)

    def _observed(self, environ, start_response):
        """The WL 1.0 call: its record is made here, filled by the stages, and handed to the listeners once the
        answer is complete; the answer carries the correlation id (X-Correlation-ID)."""
        call = Call(correlation_id=_correlation_id(environ.get("HTTP_X_CORRELATION_ID")),
                    path=environ.get("PATH_INFO", ""), soap_action=environ.get("HTTP_SOAPACTION"),
                    content_type=environ.get("CONTENT_TYPE"))
        environ[ENVIRON_KEY] = call

        def start(status, headers, exc_info=None):
            call.http_status = int(status[:3])
            headers.append(("X-Correlation-ID", call.correlation_id))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        version = soap.negotiate(environ.get("CONTENT_TYPE"))
        call.soap_version = version.name
        if self.trim_memory:
            TRIMMER.call_started()
        try:
            call.response = b"".join(self._soap(self.wl1, environ, start, version, call))
        finally:
            if self.trim_memory:
                TRIMMER.call_done()
        call.request = environ.get(_REQUEST_KEY, b"")
        self.listeners.done(call)
        _forget_request(environ)
        return [call.response]

    def _soap(self, app: WsgiApp, environ, start_response, version: soap.SoapVersion = soap.SOAP11,
              call: Call | None = None):
        return soap_call(app, self.max_body_bytes, environ, start_response, self.body_timeout_s, self.trim_memory,
                         version, call)


def _forget_request(environ: dict) -> None:
    """Let go of the request once its call is done. spyne's method context holds the environ in a reference cycle,
    so without this the request's bytes (twice: kept for the audit and as ``wsgi.input``) and its call record stay
    until Python's next full collection, which can be thousands of calls away: measured with bench/memory.py, tens
    of MB per worker after 1 MiB requests."""
    environ.pop(_REQUEST_KEY, None)
    environ.pop(ENVIRON_KEY, None)
    environ["wsgi.input"] = io.BytesIO()


def soap_call(app: WsgiApp, max_body_bytes: int, environ, start_response, body_timeout_s: float = 0.0,
              trim_memory: bool = False, version: soap.SoapVersion = soap.SOAP11, call: Call | None = None):
    """``app`` with the request body read (at most ``max_body_bytes``, else 413; within ``body_timeout_s``, else
    408; both in the request's SOAP version and noted in its call record) and kept for the audit."""
    try:
        data = read_body(environ, max_body_bytes, body_timeout_s)
    except BodyTimeout:
        log.warning("request body not received within %g s from %s; answered 408", body_timeout_s,
                    environ.get("REMOTE_ADDR", "?"))
        reason = f"request body not received within {body_timeout_s:g} s"
        if call is not None:
            call.refusal = reason
        return _fault(start_response, "Client", reason, 408, version)
    if data is None:
        reason = f"message too large: the limit is {max_body_bytes} bytes"
        if call is not None:
            call.refusal = reason
        return _fault(start_response, "Client", reason, 413, version)
    environ[_REQUEST_KEY] = data
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    if not environ.get("CONTENT_TYPE"):
        environ["CONTENT_TYPE"] = "text/xml; charset=utf-8"
    answer = app(environ, start_response)
    if trim_memory and len(data) >= LARGE_BODY:
        answer = list(answer)  # the work is done once the answer is read
        TRIMMER.large()  # now the memory this request took is free: hand it back in a moment
    return answer


class PushRouter:
    """The push listener: POST /wl2/mutaties and nothing else (no WSDL, no metrics, no health: 404), so the port
    SBB reaches shows nothing of the adapter."""

    def __init__(self, mutaties: WsgiApp, max_body_bytes: int, body_timeout_s: float = 0.0):
        self.mutaties = mutaties
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        if path != MUTATIES_PATH:
            return _not_found(start_response, path)
        if environ.get("REQUEST_METHOD") != "POST":
            return _fault(start_response, "Client", "a SOAP request is an HTTP POST", 405)
        return soap_call(self.mutaties, self.max_body_bytes, environ, start_response, self.body_timeout_s)
