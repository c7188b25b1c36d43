"""The WL 1.0 service hosted with spyne. Its types are read from the frozen xsd/wl1.xsd, not written again here.

spyne does the SOAP 1.1 plumbing (dispatch by body element, faults). The request is parsed by adapter.soap.xmlsafe
and validated against the frozen XSD by the pipeline; spyne never reads the operation element
(its deserialisation is bypassed entirely). The answer
is written straight from the translated dict (``Answer``, soap/xmlbuild.py) rather than through spyne's classes
parsed from the XSD: instantiating those evaluates a stack trace for a debug line each time, half the CPU of a
25-result search. Every answer is validated against the frozen XSD after serialisation.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import spyne.const
from lxml import etree
from spyne import AnyXml, Application, ServiceBase, rpc
from spyne.const.xml import NS_SOAP11_ENV
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication
from spyne.util.xml import parse_schema_file

from adapter.config import ValidationPolicy
from adapter.contracts import WL1, WL1_NS
from adapter.errors import SoapFault
from adapter.soap import xmlbuild
from adapter.soap.envelope import ENV, NSMAP, envelope, fault_element, parse_envelope
from adapter.soap.xmlsafe import Limits
from adapter.wl1 import OPERATIONS
from adapter.wl1.call import ENVIRON_KEY, Call
from adapter.wl1.pipeline import Pipeline

log = logging.getLogger("wl_adapter.wl1")

for _name in ("spyne", "spyne.protocol", "spyne.server", "spyne.application", "spyne.protocol.xml",
              "spyne.protocol.soap.soap11"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)  # spyne would log whole bodies (with the licence)

# spyne runs a full gc.collect() at the end of a request at most once a second (MethodContext.close), which stalls
# that request for tens to hundreds of milliseconds: the p99. Python's own generational collector is enough.
spyne.const.MIN_GC_INTERVAL = math.inf

_OPERATION_TAGS = {f"{{{WL1_NS}}}{op}": op for op in OPERATIONS}


def result_types() -> dict[str, type]:
    types = parse_schema_file(str(WL1.xsd))[WL1_NS].types
    return {op: types[f"{op}Result"] for op in OPERATIONS}


@dataclass(frozen=True)
class Answer:
    """What an operation returns to spyne: the WL 1.0 result dict, serialised by ``Wl1Soap11.serialize``."""

    operation: str
    result: dict

    def element(self) -> etree._Element:
        """``<XResponse><XResult>…</XResult></XResponse>`` in the WL 1.0 namespace."""
        response = etree.Element(f"{{{WL1_NS}}}{self.operation}Response")
        result = etree.SubElement(response, f"{{{WL1_NS}}}{self.operation}Result")
        xmlbuild.fill(result, self.result, WL1_NS)
        return response


class Wl1Soap11(Soap11):
    """SOAP 1.1 as ASMX clients expect it (``soap:`` prefix), with hardened parsing and clean faults."""

    soap_env = "soap"

    def __init__(self, limits: Limits, **kwargs):
        super().__init__(**kwargs)
        self.limits = limits

    def create_in_document(self, ctx, charset=None):
        method = ctx.transport.get_request_method() if hasattr(ctx.transport, "get_request_method") else "POST"
        if method != "POST":
            raise Fault("Client", "a SOAP request is an HTTP POST")
        data = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode(charset or "utf-8")
                        for chunk in ctx.in_string)
        ctx.in_string = ()
        refused = None
        try:
            root, header, body = parse_envelope(data, self.limits)
        except SoapFault as exc:
            refused = Fault(exc.code, exc.string)
        del data
        if refused is not None:  # raised here, without the parser's exception and frames (see _release_request)
            raise refused
        if body.tag not in _OPERATION_TAGS:
            raise Fault("Client", f"unknown operation '{etree.QName(body).localname}' in namespace "
                                  f"'{etree.QName(body).namespace or ''}' (expected one of {', '.join(OPERATIONS)} "
                                  f"in {WL1_NS})")
        ctx.in_document = root
        ctx.in_header_doc = list(header) if header is not None else None
        ctx.in_body_doc = body

    def decompose_incoming_envelope(self, ctx, message=Soap11.REQUEST):
        """Already done by ``parse_envelope``: only name the method (spyne's own would walk the envelope again)."""
        ctx.method_request_string = ctx.in_body_doc.tag

    def deserialize(self, ctx, message):
        """The operation element is never read by spyne: the pipeline validates it against the frozen XSD.

        spyne's reading of it breaks on what the XSD refuses anyway (``xsi:nil`` or ``xsi:type`` on the operation
        element: TypeError, AssertionError -> soap:Server) and is quadratic in its attributes. The one argument of
        each method (the ``request`` element, AnyXml) is unused: handlers read ``ctx.in_body_doc``.
        """
        if message is not self.REQUEST:
            return super().deserialize(ctx, message)
        self.event_manager.fire_event("before_deserialize", ctx)
        ctx.in_object = [None] * len(ctx.descriptor.in_message._type_info)
        self.event_manager.fire_event("after_deserialize", ctx)

    def serialize(self, ctx, message):
        """An ``Answer`` is written here from its dict; faults (and anything else) the way spyne does it."""
        answer = ctx.out_object[0] if ctx.out_error is None and ctx.out_object else None
        if message is not self.RESPONSE or not isinstance(answer, Answer):
            return super().serialize(ctx, message)
        self.event_manager.fire_event("before_serialize", ctx)
        ctx.out_document = etree.Element(ENV + "Envelope", nsmap={"tns": WL1_NS, **NSMAP})
        ctx.out_body_doc = etree.SubElement(ctx.out_document, ENV + "Body")
        ctx.out_body_doc.append(answer.element())
        self.event_manager.fire_event("after_serialize", ctx)


def call_of(ctx) -> Call:
    """The call record the router made for this request (a fresh one when the service is served on its own)."""
    env = ctx.transport.req_env
    call = env.get(ENVIRON_KEY)
    if call is None:
        call = env[ENVIRON_KEY] = Call(correlation_id="-")
    return call


def _release_request(ctx) -> None:
    """The request's tree is not needed once the pipeline is done. spyne's method context sits in reference cycles
    (and keeps the fault it answers with, whose traceback keeps the frames that raised it), so whatever it reaches
    is freed only when the garbage collector next runs a full collection: for a 1 MiB request that kept tens of MB
    alive per call (measured with bench/memory.py). So the context lets go of the tree here, and faults are raised
    outside the ``except`` blocks that caught the pipeline's exceptions, so they carry none of its frames."""
    ctx.in_document = ctx.in_body_doc = ctx.in_header_doc = None


def _method(operation: str, result_type: type, pipeline: Pipeline):
    def handler(ctx, request):
        call = call_of(ctx)
        call.operation = operation
        fault = None
        try:
            result = pipeline.handle(operation, ctx.in_body_doc, call)
        except SoapFault as exc:
            fault = Fault(exc.code, exc.string)
        except Fault as exc:
            fault = Fault(exc.faultcode, exc.faultstring)
        except Exception:  # a bug: the log gets the traceback, the client a plain fault
            log.exception("internal error in %s", operation)
            fault = Fault("Server", "Internal Error")
        finally:
            _release_request(ctx)
        if fault is not None:
            raise fault
        return Answer(operation, result)

    handler.__name__ = operation
    return rpc(AnyXml, _returns=result_type, _operation_name=operation, _in_message_name=operation,
               _body_style="wrapped")(handler)


def _answer_validator(policy: ValidationPolicy):
    def validate_answer(ctx) -> None:
        """Every WL 1.0 answer is checked against the frozen XSD before it leaves (per the policy)."""
        if ctx.out_error is not None or ctx.out_body_doc is None or not len(ctx.out_body_doc):
            return
        operation = _OPERATION_TAGS.get(ctx.method_request_string, "")
        mode = policy.mode("wl1_response", operation)
        if mode == "off":
            return
        problems = call_of(ctx).response_problems = WL1.validate(ctx.out_body_doc[0])
        if problems:
            log.error("WL 1.0 %s answer violates the XSD (%s): %s", operation, mode, "; ".join(map(str, problems)))
            if mode == "enforce":
                # spyne has already chosen HTTP 200 and would keep this document if we raised: replace both
                ctx.out_document = envelope(fault_element(
                    "Server", "the adapter could not make an answer that matches the WL 1.0 schema"))
                ctx.transport.resp_code = "500 Internal Server Error"
    return validate_answer


def build_wsgi(pipeline: Pipeline, limits: Limits, policy: ValidationPolicy = ValidationPolicy()):
    types = result_types()
    service = type("WhiteLabelSoap", (ServiceBase,), {op: _method(op, types[op], pipeline) for op in OPERATIONS})
    out_protocol = Wl1Soap11(limits, cleanup_namespaces=True)
    out_protocol.event_manager.add_listener("after_serialize", _answer_validator(policy))
    app = Application([service], tns=WL1_NS, name="WhiteLabel",
                      in_protocol=Wl1Soap11(limits), out_protocol=out_protocol)
    nsmap = app.interface.nsmap
    nsmap.pop("soap11env", None)
    nsmap["soap"] = NS_SOAP11_ENV
    return WsgiApplication(app)
