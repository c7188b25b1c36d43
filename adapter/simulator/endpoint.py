"""POST /wl2: one SOAP 1.1 exchange, from request bytes to response bytes, with every Edukoppeling check.

Order: parse (hardened) -> operation from the body element -> WS-Addressing -> XSD -> fault injection ->
sender OIN (90) -> the operation. Problems with the message itself are ``soap:Client`` faults (HTTP 500); an
unexpected error is a ``soap:Server`` fault without any internals. Every exchange is recorded in the journal.
A network fault is not an answer: the Outcome names it and the server acts it out on the connection (app.py).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from lxml import etree

from adapter.contracts import WL2, WL2_NS
from adapter.errors import SoapFault
from adapter.simulator import xmlout as x
from adapter.simulator.netfaults import HANG_MAX_S, HTML_TYPE, HTTP503_BODY
from adapter.simulator.operations import OPERATIONS, answer
from adapter.simulator.scenarios import Scenario
from adapter.simulator.state import Simulator
from adapter.soap import addressing
from adapter.soap.envelope import CONTENT_TYPE, envelope, fault_bytes, parse_envelope, to_bytes
from adapter.soap.oin import is_school_oin

log = logging.getLogger(__name__)
MALFORMED_BODY = b"this is not XML: simulated malformed answer (scenario)\n"


@dataclass
class Outcome:
    status: int
    body: bytes
    content_type: str = CONTENT_TYPE
    fault: str | None = None  # a network fault to act out instead of (reset, hang) or while (slow_body) answering
    hang_s: float = HANG_MAX_S


def _network_fault(scenario: Scenario) -> Outcome | None:
    """The answer a network fault gives in place of the operation's, or None when the operation runs."""
    if scenario.fault == "http503":  # a load balancer or gateway with no SBB behind it: HTML, no SOAP
        return Outcome(503, HTTP503_BODY, HTML_TYPE, "http503")
    if scenario.fault in ("reset", "refuse"):  # refuse: a request on a connection opened before the port closed
        return Outcome(0, b"", fault="reset")
    if scenario.fault == "hang":
        return Outcome(0, b"", fault="hang",
                       hang_s=scenario.duration_ms / 1000 if scenario.duration_ms else HANG_MAX_S)
    return None


def operation_of(message: etree._Element) -> str:
    qname = etree.QName(message)
    operation = qname.localname.removesuffix("Request")
    if qname.namespace != WL2_NS or not qname.localname.endswith("Request") or operation not in OPERATIONS:
        if qname.namespace == WL2_NS and operation == "MutatieLeerbedrijf":
            raise SoapFault("Client", "MutatieLeerbedrijf is served by the school at its Afleveradres, not by SBB")
        raise SoapFault("Client", f"unknown operation: body element '{qname.localname}' in namespace "
                                  f"'{qname.namespace or ''}' is not a WL 2.0 request of this service")
    return operation


def _check_soap_action(soap_action: str | None, action: str) -> None:
    given = (soap_action or "").strip().strip('"')
    if given and given != action:
        raise SoapFault("Client", f"HTTP header SOAPAction is '{given}'; it must equal wsa:Action '{action}'")


def handle(sim: Simulator, data: bytes, soap_action: str | None) -> Outcome:
    operation = oin = relates_to = None
    problems: list[str] = []
    try:
        _, header, message = parse_envelope(data)
        relates_to = addressing.message_id_of(header)
        operation = operation_of(message)
        adr = addressing.read(header, operation)
        if adr.to_oin != sim.oin:
            raise SoapFault("Client",
                            f"WS-Addressing header wsa:To names OIN {adr.to_oin}; this service is OIN {sim.oin}")
        _check_soap_action(soap_action, adr.action)
        oin = adr.from_oin
        invalid = WL2.validate(message)
        if invalid:
            raise SoapFault("Client", "the request does not match the WL 2.0 schema: "
                            + "; ".join(f"element {p.element}: {p.reason}" for p in invalid))
        scenario = sim.scenarios.take(operation)
        if scenario is not None:
            if scenario.latency_ms:
                time.sleep(scenario.latency_ms / 1000)
            outcome = _network_fault(scenario)
            if outcome is not None:
                sim.messages.record(operation, oin, data, outcome.body, [], outcome.status, scenario.fault)
                return outcome
            if sim.scenarios.fails(scenario):
                raise SoapFault("Server", "simulated technical failure (scenario error_rate)")
            if scenario.malformed:
                outcome = Outcome(200, MALFORMED_BODY)
                sim.messages.record(operation, oin, data, outcome.body, ["malformed answer (scenario)"])
                return outcome
        if not is_school_oin(oin):
            response = x.response(operation, 90, f"wsa:From: OIN {oin} is geen bekende mbo-school")
        elif scenario is not None and scenario.signaalcode is not None:
            response = x.response(operation, scenario.signaalcode,
                                  "BerichtID: gesimuleerde fout (scenario)" if scenario.signaalcode == 20 else None)
        else:
            response = answer(sim, operation, message, oin)
        problems = [str(p) for p in WL2.validate(response)]
        if problems:
            log.error("simulator answer to %s does not match the XSD: %s", operation, problems)
        headers = addressing.response_headers(f"{adr.action}Response", adr.message_id)
        outcome = Outcome(200, to_bytes(envelope(response, headers)),
                          fault="slow_body" if scenario is not None and scenario.fault == "slow_body" else None)
    except SoapFault as fault:
        outcome = _fault(fault.code, fault.string, relates_to, fault.http_status)
    except Exception:
        log.exception("internal error answering %s", operation)
        outcome = _fault("Server", "internal error in the simulator", relates_to, 500)
    sim.messages.record(operation, oin, data, outcome.body, problems, outcome.status, outcome.fault)
    return outcome


def _fault(code: str, string: str, relates_to: str | None, status: int) -> Outcome:
    return Outcome(status, fault_bytes(code, string, addressing.response_headers(addressing.FAULT_ACTION, relates_to)))
