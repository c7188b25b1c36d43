"""The zeep client for WL 2.0: one per worker, built once from the packaged WSDL.

``Wl2Client.call(operation, sender_oin, body)`` adds WS-Addressing headers and a fresh BerichtID, sends the call
within the configured timeouts, validates the raw response body against the WL 2.0 XSD, and returns the response
body as a plain dict. Failures come out as two exceptions only: ``UpstreamUnavailable`` (WL 1.0 998: timeout,
refused, 5xx without a SOAP answer, circuit open) and ``UpstreamError`` (999: fault, invalid or unreadable answer).
What each call did is left in its ``Exchange``; the hooks in ``on_exchange`` (the metrics) are told of every one,
including the calls of the subscriber and of ``subscriptions sync`` that belong to no WL 1.0 call.
"""
from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import zeep
import zeep.exceptions
from lxml import etree

from adapter import ns
from adapter.config import UpstreamConfig, ValidationPolicy
from adapter.contracts import WL2, WSA_NS, Problem, wsdl_path
from adapter.errors import (
    AnswerTooLarge,
    CircuitOpen,
    ReadTimeout,
    RequestNotExpressible,
    TransportError,
    UpstreamError,
    UpstreamUnavailable,
    XmlRejected,
)
from adapter.soap import addressing
from adapter.soap.envelope import CONTENT_TYPE
from adapter.soap.xmlsafe import Limits, aside, parse
from adapter.wl2 import reader
from adapter.wl2.breaker import CircuitBreaker
from adapter.wl2.transport import PackagedOnly, Upstream

log = logging.getLogger("wl_adapter.wl2")
BINDING = f"{{{ns.WL2}}}WhiteLabel2Binding"
# Operations that change nothing upstream: only these are retried.
READ_ONLY = frozenset({"IdentificeerLeerbedrijf", "VerifieerAccreditatie", "ZoekenLeerbedrijfOfLeerplaats",
                       "OpvragenDetailgegevensLeerbedrijf", "OverzichtLopendeAbonnementen"})


class _Retryable(UpstreamUnavailable):
    """A failure another attempt may cure: connection refused or reset, HTTP 5xx without a SOAP answer."""


@dataclass
class Exchange:
    """The WL 2.0 leg of one call, for the audit trail."""

    operation: str
    wl1_operation: str = ""  # the WL 1.0 operation this leg serves (policy and metrics are per WL 1.0 operation)
    message_id: str = ""
    request: bytes = b""
    response: bytes = b""
    request_problems: list[Problem] = field(default_factory=list)
    response_problems: list[Problem] = field(default_factory=list)
    elapsed_s: float = 0.0
    attempts: int = 0
    error: str = ""
    failures: list[str] = field(default_factory=list)  # the kind of each failed attempt, for the metrics

    def failed(self, kind: str, error: str) -> None:
        """An attempt failed: ``kind`` is timeout, refused, reset, tls, connection, too_large, http_NNN, fault,
        unusable, invalid_response or circuit_open."""
        self.failures.append(kind)
        self.error = error


def _on_the_wire(value):
    """Dates as ISO strings: zeep writes a date with strftime, which drops the zero padding of years before 1000."""
    if isinstance(value, dict):
        return {k: _on_the_wire(v) for k, v in value.items()}
    return value.isoformat() if isinstance(value, date) else value


Names = dict[str, "Names | None"]  # an element's children by name, each with its own (None: a simple type)


def _names(xsd_type, within: frozenset = frozenset()) -> Names | None:
    """The names of a zeep complex type's elements, each with its own (for ``_stray``); None for a simple type."""
    elements = getattr(xsd_type, "elements", None)
    if not elements or xsd_type in within:  # (a type within itself: its names are not checked again)
        return None
    return {name: _names(element.type, within | {xsd_type}) for name, element in elements}


def _stray(value: dict, names: Names, path: str = "") -> str | None:
    """The first name in ``value`` (a dict for zeep to render, nested dicts and lists of dicts within) that its
    type does not have, as a dotted path; None when there is none."""
    for name, item in value.items():
        if name not in names:
            return path + name
        inner = names[name]
        if inner is None:  # a simple type: nothing within to check
            continue
        for each in item if isinstance(item, list) else (item,):
            found = _stray(each, inner, f"{path}{name}.") if isinstance(each, dict) else None
            if found:
                return found
    return None


_ENV = f"{{{ns.SOAP11_ENV}}}"
_BODY = f"{_ENV}Body"
_HEADER = f"{_ENV}Header"
_ENVELOPE = f"{_ENV}Envelope"
_ENVELOPE_NSMAP = {"soap-env": ns.SOAP11_ENV}  # zeep's prefix for it
_MESSAGE_ID = f"{{{WSA_NS}}}MessageID"
# the transport bounds the size (upstream.max_response_bytes); an answer may list thousands of subscriptions, so
# the shape limits only keep a broken answer from reaching the quadratic walks
ANSWER_LIMITS = Limits(max_bytes=64 * 1024 * 1024, max_depth=64, max_elements=4_000_000, max_attributes=64,
                       max_namespaces=256, max_attribute_chars=8192, max_text_chars=1024 * 1024,
                       # a large answer (megabytes: a 25-result search has ~1,500 '<' and '=') is parsed on a
                       # thread of its own, so that a gevent worker's other calls go on meanwhile (libxml2 parses
                       # without the GIL); an ordinary one in place, which is cheaper
                       isolate_markup=200_000)
_IN_ITS_OWN_THREAD = replace(ANSWER_LIMITS, isolate_markup=0)  # ``_answer`` has made one already


def _message(envelope) -> etree._Element | None:
    body = envelope.find(_BODY)
    messages = [c for c in body if isinstance(c.tag, str)] if body is not None else []
    return messages[0] if messages and not messages[0].tag.endswith("}Fault") else None


def _addressing_problems(envelope, ex: "Exchange") -> list[Problem]:
    """An answer must say it answers this request: wsa:RelatesTo = our MessageID, wsa:Action = ...Response."""
    header = envelope.find(f"{{{ns.SOAP11_ENV}}}Header")
    relates_to = header.findtext(f"{{{WSA_NS}}}RelatesTo") if header is not None else None
    action = header.findtext(f"{{{WSA_NS}}}Action") if header is not None else None
    problems = []
    if (relates_to or "").strip() != ex.message_id:
        problems.append(Problem("RelatesTo", f"'{relates_to}' does not name the request's MessageID {ex.message_id}"))
    if (action or "").strip() != addressing.action(ex.operation) + "Response":
        problems.append(Problem("Action", f"'{action}' is not {addressing.action(ex.operation)}Response"))
    return problems


class Wl2Client:
    def __init__(self, cfg: UpstreamConfig, cert: tuple[str, str] | None = None,
                 breaker: CircuitBreaker | None = None, policy: ValidationPolicy = ValidationPolicy(),
                 on_exchange: list[Callable[[Exchange], None]] | None = None):
        self.cfg = cfg
        self.on_exchange = on_exchange if on_exchange is not None else []  # told of every finished exchange
        self.breaker = breaker or CircuitBreaker(cfg.breaker_failures, cfg.breaker_reset_s)
        self.policy = policy
        self.http = Upstream(cfg.url, cert=cert, ca=cfg.ca, pool_size=cfg.pool_size,
                             max_response_bytes=cfg.max_response_bytes)
        self.target = urlsplit(cfg.url)._replace(scheme="", netloc="", fragment="").geturl() or "/"
        settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True,
                                 xml_huge_tree=False)
        self._client = zeep.Client(str(wsdl_path("wl2")), transport=PackagedOnly(), settings=settings)
        self._service = self._client.create_service(BINDING, cfg.url)
        self._messages: dict[str, tuple[Any, Names]] = {}  # operation -> its request's body element (zeep's), names
        self._local = threading.local()  # .headers: this thread's header templates (see ``_header``)
        self._to = addressing.with_oin(cfg.url, cfg.oin)

    def call(self, operation: str, sender_oin: str, body: dict, exchange: Exchange | None = None) -> dict:
        """One WL 2.0 call; read-only operations are retried with back-off within ``deadline_s``. The circuit
        breaker counts calls, not attempts: one call that failed after its retries is one failure."""
        exchange = exchange or Exchange(operation)
        started = time.monotonic()
        try:
            self.breaker.before_call()
        except CircuitOpen as exc:
            exchange.failed("circuit_open", str(exc))
            self._told(exchange)
            raise
        try:
            result = self._with_retries(operation, sender_oin, body, exchange, started + self.cfg.deadline_s)
        except UpstreamUnavailable:
            self.breaker.failure()
            raise
        except RequestNotExpressible:
            self.breaker.release()  # nothing was sent: proves nothing either way
            raise
        except UpstreamError:
            self.breaker.success()  # it answered: the line is up
            raise
        except BaseException:
            self.breaker.release()  # whatever else went wrong, a half-open probe slot must not stay taken
            raise
        finally:
            exchange.elapsed_s = time.monotonic() - started
            self._told(exchange)
        self.breaker.success()
        return result

    def _told(self, exchange: Exchange) -> None:
        for hook in self.on_exchange:
            try:
                hook(exchange)
            except Exception:  # noqa: BLE001 - observing must never break a call
                log.exception("exchange hook %r failed", hook)

    def _with_retries(self, operation: str, sender_oin: str, body: dict, exchange: Exchange,
                      deadline: float) -> dict:
        attempts = 1 + (self.cfg.retries if operation in READ_ONLY else 0)
        pause = self.cfg.retry_backoff_s
        for attempt in range(1, attempts + 1):
            exchange.attempts = attempt
            remaining = deadline - time.monotonic()
            timeout = (min(self.cfg.connect_timeout_s, remaining), min(self.cfg.timeout_s, remaining))
            try:
                return self._attempt(operation, sender_oin, body, exchange, timeout)
            except _Retryable:
                if attempt == attempts or time.monotonic() + pause + self.cfg.connect_timeout_s >= deadline:
                    raise
                time.sleep(pause)
                pause *= 2
        raise AssertionError("unreachable")

    def _attempt(self, operation: str, sender_oin: str, body: dict, exchange: Exchange,
                 timeout: tuple[float, float]) -> dict:
        """One request and its answer, read by ``_answer`` (zeep's own reading of it cost more than everything
        else the adapter does)."""
        message_id = addressing.new_message_id()
        exchange.message_id = message_id
        try:
            envelope = self._envelope(operation, body)
        except (zeep.exceptions.Error, TypeError, ValueError) as exc:  # our dict does not fit the WSDL: a bug
            exchange.failed("unusable", f"{type(exc).__name__}: {exc}")
            raise UpstreamError(f"WL 2.0 request could not be built: {type(exc).__name__}: {exc}") from None
        envelope.insert(0, self._header(operation, sender_oin, message_id))
        mode = self.policy.mode("wl2_request", exchange.wl1_operation)
        if mode != "off":
            exchange.request_problems = WL2.validate(envelope[1][0])
            if exchange.request_problems and mode == "enforce":
                exchange.request = etree.tostring(envelope)  # for the audit: what would have been sent
                raise RequestNotExpressible(exchange.operation, exchange.request_problems)
        exchange.request = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")  # as sent
        try:
            response = self.http.request("POST", self.target, exchange.request, {
                "Content-Type": CONTENT_TYPE, "SOAPAction": f'"{addressing.action(operation)}"'}, timeout)
        except TransportError as exc:  # refused, reset, TLS, timeouts, a flood: the line, not an answer
            exchange.failed(exc.kind, f"{type(exc).__name__}: {exc}")
            if isinstance(exc, AnswerTooLarge):  # asking again would only bring the same flood
                raise UpstreamUnavailable(str(exc)) from None
            # a read timeout (the answer not complete within the attempt's time) is not retried: asking a slow
            # upstream again only makes it slower
            kind = UpstreamUnavailable if isinstance(exc, ReadTimeout) else _Retryable
            raise kind(f"WL 2.0 not reachable: {type(exc).__name__}") from None
        return self._answer(operation, exchange, response.status_code, response.content)

    def _envelope(self, operation: str, body: dict) -> etree._Element:
        """The request's envelope, without its header, as zeep's ``create_message`` makes it: zeep's types render
        our dict, without the ElementMaker, header and plugin machinery around it (measured: ~40 % of building a
        request), and without making zeep's value objects of it first (half of what was left: 49 -> 26 µs for a
        VerifieerAccreditatie). Those objects refused a name the WSDL does not have, which rendering a dict would
        pass over; ``_stray`` refuses it instead. Rendering refuses a missing element, as before.
        tests/wl2/test_requests.py holds the bytes equal to zeep's."""
        known = self._messages.get(operation)
        if known is None:
            element = self._service._binding.get(operation).input.body
            known = self._messages[operation] = (element, _names(element.type) or {})
        element, names = known
        stray = _stray(body, names)
        if stray:
            raise TypeError(f"{operation}Request has no element {stray}")
        envelope = etree.Element(_ENVELOPE, nsmap=_ENVELOPE_NSMAP)
        element.render(etree.SubElement(envelope, _BODY), {"BerichtID": addressing.guid(), **_on_the_wire(body)})
        return envelope

    def _header(self, operation: str, sender_oin: str, message_id: str) -> etree._Element:
        """The WS-Addressing header: a copy of the one made for this operation and school, with a fresh MessageID
        (five namespaced elements made anew per call cost as much as the rest of the header work). Templates are
        per thread: a copy reads its original's names from the libxml2 dictionary of the thread that made it,
        which is no place for two threads at once."""
        templates = getattr(self._local, "headers", None)
        if templates is None:
            templates = self._local.headers = {}
        template = templates.get((operation, sender_oin))
        if template is None:
            template = etree.Element(_HEADER)
            template.extend(addressing.request_headers(operation, self._to, sender_oin, "-"))
            templates[(operation, sender_oin)] = template  # operations x schools: a bounded set
        header = copy.deepcopy(template)
        header.find(_MESSAGE_ID).text = message_id
        return header

    def _answer(self, operation: str, exchange: Exchange, status: int, content: bytes) -> dict:
        """The answer's body as a dict, or the failure it is. An HTTP error without a readable SOAP answer may be
        retried when it is a 5xx; a SOAP fault (any status) or an invalid answer is WL 2.0's last word.

        A large answer (more markup than ``ANSWER_LIMITS.isolate_markup``: megabytes) is parsed, validated and read
        on a thread of its own, so that a gevent worker's other calls go on meanwhile: libxml2 parses and validates
        without the GIL, and the reading lets another thread have the GIL when it asks (wl2/_walk.pyx: ``pause``)."""
        exchange.response = content
        isolate = ANSWER_LIMITS.isolate_markup
        if len(content) > isolate and content.count(b"<") + content.count(b"=") > isolate:  # (each is one byte)
            return aside(self._read_answer, operation, exchange, status, content, _IN_ITS_OWN_THREAD)
        return self._read_answer(operation, exchange, status, content, ANSWER_LIMITS)

    def _read_answer(self, operation: str, exchange: Exchange, status: int, content: bytes,
                     limits: Limits) -> dict:
        try:
            envelope = parse(content, limits) if content else None
        except XmlRejected:
            envelope = None
        if envelope is not None and envelope.tag != _ENVELOPE:
            envelope = None  # a proxy's or load balancer's error page (often well-formed HTML): no SOAP answer
        if envelope is None:
            exchange.failed(f"http_{status}", f"HTTP {status}: no readable SOAP answer")
            if status >= 500:
                raise _Retryable(f"WL 2.0 answered HTTP {status}")
            raise UpstreamError(f"WL 2.0 answered HTTP {status} without a readable SOAP answer")
        mode = self.policy.mode("wl2_response", exchange.wl1_operation)
        message = _message(envelope)
        if mode != "off" and message is not None:
            exchange.response_problems = WL2.validate(message) + _addressing_problems(envelope, exchange)
        fault = envelope.find(f"{_BODY}/{_ENV}Fault")
        if status != 200 or fault is not None:
            code = fault.findtext("faultcode") if fault is not None else None
            string = fault.findtext("faultstring") if fault is not None else "a non-200 answer without a fault"
            exchange.failed("fault", f"fault {code}: {string}")
            raise UpstreamError(f"WL 2.0 fault {code}: {string}")
        if exchange.response_problems and mode == "enforce":
            exchange.failed("invalid_response", f"answer violates the XSD: {exchange.response_problems[0]}")
            raise UpstreamError(f"WL 2.0 answer violates the XSD: {exchange.response_problems[0]}")
        if message is None or message.tag != f"{{{ns.WL2}}}{operation}Response":
            found = etree.QName(message).localname if message is not None else "nothing"
            exchange.failed("unusable", f"answer holds {found}, not {operation}Response")
            raise UpstreamError(f"WL 2.0 answer unusable: it holds {found}")
        exchange.error = ""
        return reader.read(message)
