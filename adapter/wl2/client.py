"""The zeep client for WL 2.0: one per worker, built once from the packaged WSDL.

``Wl2Client.call(operation, sender_oin, body)`` adds WS-Addressing headers and a fresh BerichtID, sends the call
within the configured timeouts, validates the raw response body against the WL 2.0 XSD, and returns the response
body as a plain dict. Failures come out as two exceptions only: ``UpstreamUnavailable`` (WL 1.0 998: timeout,
refused, 5xx without a SOAP answer, circuit open) and ``UpstreamError`` (999: fault, invalid or unreadable answer).
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

import requests
import zeep
import zeep.exceptions
from lxml import etree
from requests.adapters import HTTPAdapter
from zeep.helpers import serialize_object
from zeep.plugins import Plugin

from adapter.config import UpstreamConfig, ValidationPolicy
from adapter.contracts import WL2, Problem, wsdl_path
from adapter.metrics import UPSTREAM_ERRORS, VALIDATION_FAILURES
from adapter.wl2 import addressing
from adapter.wl2.breaker import CircuitBreaker, CircuitOpen

BINDING = "{urn:sbb:whitelabel:2.0}WhiteLabel2Binding"


class UpstreamUnavailable(Exception):
    """WL 2.0 could not be reached in time: nothing was changed (WL 1.0 signaalcode 998)."""


class UpstreamError(Exception):
    """WL 2.0 answered, but not with a usable answer (WL 1.0 signaalcode 999)."""


class RequestNotExpressible(Exception):
    """The translated WL 2.0 request violates the WL 2.0 XSD (WL 1.0 signaalcode 4): nothing was sent."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


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
    error: str = ""


def _message(envelope) -> etree._Element | None:
    body = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    messages = [c for c in body if isinstance(c.tag, str)] if body is not None else []
    return messages[0] if messages and not messages[0].tag.endswith("}Fault") else None


class _CapturePlugin(Plugin):
    """Keeps the raw envelopes of the current thread's call and validates both bodies per the policy."""

    def __init__(self, policy: ValidationPolicy):
        self.local = threading.local()
        self.policy = policy

    def egress(self, envelope, http_headers, operation, binding_options):
        ex = getattr(self.local, "exchange", None)
        if ex is not None:
            ex.request = etree.tostring(envelope)
            mode = self.policy.mode("wl2_request", ex.wl1_operation)
            message = _message(envelope)
            if mode != "off" and message is not None:
                ex.request_problems = WL2.validate(message)
                if ex.request_problems:
                    VALIDATION_FAILURES.labels("wl2_request", ex.wl1_operation, mode).inc()
                    if mode == "enforce":
                        raise RequestNotExpressible(ex.request_problems)
        return envelope, http_headers

    def ingress(self, envelope, http_headers, operation):
        ex = getattr(self.local, "exchange", None)
        if ex is not None:
            ex.response = etree.tostring(envelope)
            message = _message(envelope)
            mode = self.policy.mode("wl2_response", ex.wl1_operation)
            if mode != "off" and message is not None:
                ex.response_problems = WL2.validate(message)
                if ex.response_problems:
                    VALIDATION_FAILURES.labels("wl2_response", ex.wl1_operation, mode).inc()
        return envelope, http_headers


def _session(cfg: UpstreamConfig, cert: tuple[str, str] | None) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=cfg.pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False
    if cert:
        session.cert = cert
    if cfg.ca:
        session.verify = cfg.ca
    return session


class Wl2Client:
    def __init__(self, cfg: UpstreamConfig, cert: tuple[str, str] | None = None,
                 breaker: CircuitBreaker | None = None, policy: ValidationPolicy = ValidationPolicy()):
        self.cfg = cfg
        self.breaker = breaker or CircuitBreaker()
        self.policy = policy
        self._plugin = _CapturePlugin(policy)
        self.session = _session(cfg, cert)
        transport = zeep.Transport(session=self.session, operation_timeout=(cfg.connect_timeout_s, cfg.timeout_s))
        settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True,
                                 xml_huge_tree=False)
        self._client = zeep.Client(str(wsdl_path("wl2")), transport=transport, settings=settings,
                                   plugins=[self._plugin])
        self._service = self._client.create_service(BINDING, cfg.url)

    def call(self, operation: str, sender_oin: str, body: dict, exchange: Exchange | None = None) -> dict:
        exchange = exchange or Exchange(operation)
        message_id = addressing.new_message_id()
        exchange.message_id = message_id
        headers = addressing.request_headers(operation, addressing.with_oin(self.cfg.url, self.cfg.oin), sender_oin,
                                             message_id)
        self._plugin.local.exchange = exchange
        started = time.monotonic()
        try:
            self.breaker.before_call()
            result = self._service[operation](BerichtID=str(uuid.uuid4()), **body, _soapheaders=headers)
        except CircuitOpen as exc:
            exchange.error = str(exc)
            UPSTREAM_ERRORS.labels(operation, "circuit_open").inc()
            raise UpstreamUnavailable(str(exc)) from None
        except RequestNotExpressible:
            self.breaker.release()
            raise
        except (requests.Timeout, requests.ConnectionError) as exc:
            self.breaker.failure()
            exchange.error = f"{type(exc).__name__}: {exc}"
            UPSTREAM_ERRORS.labels(operation, "timeout" if isinstance(exc, requests.Timeout) else "connection").inc()
            raise UpstreamUnavailable(f"WL 2.0 not reachable: {type(exc).__name__}") from None
        except zeep.exceptions.TransportError as exc:
            exchange.error = f"HTTP {exc.status_code}"
            UPSTREAM_ERRORS.labels(operation, f"http_{exc.status_code}").inc()
            if exc.status_code >= 500:
                self.breaker.failure()
                raise UpstreamUnavailable(f"WL 2.0 answered HTTP {exc.status_code}") from None
            self.breaker.success()
            raise UpstreamError(f"WL 2.0 answered HTTP {exc.status_code}") from None
        except zeep.exceptions.Fault as exc:
            self.breaker.success()  # it answered: the line is up
            exchange.error = f"fault {exc.code}: {exc.message}"
            UPSTREAM_ERRORS.labels(operation, "fault").inc()
            raise UpstreamError(f"WL 2.0 fault {exc.code}: {exc.message}") from None
        except (zeep.exceptions.Error, etree.LxmlError, ValueError) as exc:
            self.breaker.success()
            exchange.error = f"{type(exc).__name__}: {exc}"
            UPSTREAM_ERRORS.labels(operation, "unusable").inc()
            raise UpstreamError(f"WL 2.0 answer unusable: {type(exc).__name__}") from None
        finally:
            exchange.elapsed_s = time.monotonic() - started
            self._plugin.local.exchange = None
        self.breaker.success()
        if exchange.response_problems and self.policy.mode("wl2_response", exchange.wl1_operation) == "enforce":
            UPSTREAM_ERRORS.labels(operation, "invalid_response").inc()
            first = exchange.response_problems[0]
            raise UpstreamError(f"WL 2.0 answer violates the XSD: {first}")
        return serialize_object(result.body if hasattr(result, "body") else result, dict)
