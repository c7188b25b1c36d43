"""The WL 1.0 service hosted with spyne. Its types are read from the frozen xsd/wl1.xsd, not written again here.

spyne does the SOAP plumbing (dispatch by body element, faults). The request is parsed by adapter.soap.xmlsafe
and validated against the frozen XSD by the pipeline; spyne never reads the operation element (its deserialisation
is bypassed entirely). The answer
is written straight from the translated dict (``Answer``, soap/xmlbuild.py) rather than through spyne's classes
parsed from the XSD: instantiating those evaluates a stack trace for a debug line each time, half the CPU of a
25-result search. Every answer is validated against the frozen XSD after serialisation.

Like the ASMX service it replaces, the face speaks SOAP 1.1 and SOAP 1.2 at every path: one spyne Application per
version (spyne ties one protocol to an Application), both over the same handlers and pipeline, chosen per request
by its Content-Type (``Wl1Wsgi``). A SOAP 1.1 call pays one string comparison for this.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import spyne.const
from lxml import etree
from lxml.builder import E
from spyne import AnyXml, Application, ServiceBase, rpc
from spyne.const.http import HTTP_400, HTTP_500
from spyne.const.xml import NS_XML
from spyne.context import EventContext, MethodContext, ProtocolContext, TransportContext
from spyne.evmgr import EventManager
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11, Soap12
from spyne.server.wsgi import WsgiApplication
from spyne.util.xml import parse_schema_file

from adapter.config import ValidationPolicy
from adapter.contracts import WL1, WL1_NS, Problem
from adapter.errors import SoapFault
from adapter.soap import xmlbuild
from adapter.soap.envelope import SOAP11, SOAP12, SoapVersion, envelope, fault_element, negotiate, parse_envelope
from adapter.soap.xmlsafe import Limits
from adapter.wl1 import OPERATIONS
from adapter.wl1.call import ENVIRON_KEY, Call
from adapter.wl1.pipeline import Pipeline

log = logging.getLogger("wl_adapter.wl1")

for _name in ("spyne", "spyne.protocol", "spyne.server", "spyne.application", "spyne.protocol.xml",
              "spyne.protocol.soap.soap11", "spyne.protocol.soap.soap12"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)  # spyne would log whole bodies (with the licence)

# spyne runs a full gc.collect() at the end of a request at most once a second (MethodContext.close), which stalls
# that request for tens to hundreds of milliseconds: the p99. Python's own generational collector is enough.
spyne.const.MIN_GC_INTERVAL = math.inf


# Each call must leave nothing that only the cycle collector frees: with a hundred calls in flight (gevent) their
# garbage reaches Python's oldest generation, and collecting it (60,000 objects a second per worker) stopped a worker
# for 0.1-0.2 s at a time, the p99 at 256 clients (bench/profile_calls.py --garbage counts it per call).
def _fire_event(self, event_name, ctx, *args, **kwargs):
    """spyne's ``EventManager.fire_event`` without the empty ordered set (a list that refers to itself) it makes
    for every event that has no listeners, a dozen times per call."""
    for handler in self.handlers.get(event_name, ()):
        handler(ctx, *args, **kwargs)


EventManager.fire_event = _fire_event  # spyne 2.14.0 (pinned); same listeners, same order

# spyne's ``MethodContext.__setattr__`` refuses an attribute a context did not have when its ``__init__`` ended (a
# guard for service code, which is to keep its own data in ``ctx.udc``). Every assignment to a context, ~100 a call
# (most in spyne's own ``__init__``s), went through that Python function: ~30 µs of CPU per call, A/B in one process
# (docs/figures.md, twelfth round). The adapter's own code sets only attributes spyne's contexts define:
# tests/wl1/test_service.py makes calls of every kind with spyne's guard back in place.
GUARDED_SETATTR = MethodContext.__setattr__
MethodContext.__setattr__ = object.__setattr__

_CONTEXTS = "wl_adapter.spyne_contexts"


class _WsgiApplication(WsgiApplication):
    """spyne's WSGI application whose method contexts are taken apart once the answer has been produced.

    A method context and its protocol, transport and event contexts refer to one another (a protocol context even
    to itself, through a closure): without this every call left ~60 objects, its lxml trees and its environ in
    reference cycles."""

    def generate_contexts(self, ctx, in_string_charset=None):
        contexts = super().generate_contexts(ctx, in_string_charset)
        ctx.transport.req_env[_CONTEXTS] = (ctx, *contexts)
        return contexts

    def __call__(self, req_env, start_response, wsgi_url=None):
        try:
            return list(super().__call__(req_env, start_response, wsgi_url))  # spyne is done with them after this
        finally:
            for ctx in req_env.pop(_CONTEXTS, ()):
                _take_apart(ctx)


def _take_apart(ctx) -> None:
    for part in vars(ctx).values():
        if isinstance(part, (ProtocolContext, TransportContext, EventContext)):
            vars(part).clear()
        elif isinstance(part, BaseException):  # a fault: its traceback's frames hold the fault (and the context)
            part.__traceback__ = part.__context__ = None
    vars(ctx).clear()


_OPERATION_TAGS = {f"{{{WL1_NS}}}{op}": op for op in OPERATIONS}


def result_types() -> dict[str, type]:
    types = parse_schema_file(str(WL1.xsd))[WL1_NS].types
    return {op: types[f"{op}Result"] for op in OPERATIONS}


@dataclass(frozen=True)
class Answer:
    """What an operation returns to spyne: the WL 1.0 result dict, serialised by ``_Hardened.serialize``."""

    operation: str
    result: dict

    def texts(self, version: SoapVersion) -> tuple[str, str]:
        """The answer as text (soap/xmlbuild.py), twice: the envelope, which is sent, and its ``<XResponse>``
        element alone, which is validated (the same characters: the element declares its namespace itself).

        Written as ASMX wrote its answers: the response element declares the WL 1.0 namespace as its default one
        and nothing inside it has a prefix. Before the fourteenth round of issue 10 this was spyne's form, a ``tns``
        prefix on every element (the same XML to a namespace-aware reader); it made a 25-result answer 19 % longer
        and cost ~8 µs more to check."""
        op = self.operation
        alone = (f'<{op}Response xmlns="{WL1_NS}"><{op}Result>{xmlbuild.markup(self.result)}</{op}Result>'
                 f"</{op}Response>")
        return f'<soap:Envelope xmlns:soap="{version.env_ns}"><soap:Body>{alone}</soap:Body></soap:Envelope>', alone


class _Hardened(Soap11):
    """What both SOAP versions share (spyne's Soap12 is a Soap11): the ``soap:`` prefix ASMX clients know, hardened
    parsing, clean faults, and answers written straight from their dict."""

    soap_env = "soap"
    version: SoapVersion = SOAP11

    def __init__(self, limits: Limits, policy: ValidationPolicy = ValidationPolicy(), **kwargs):
        super().__init__(**kwargs)
        self.limits = limits
        self.policy = policy  # (of the answers: requests are the pipeline's)

    def create_in_document(self, ctx, charset=None):
        method = ctx.transport.get_request_method() if hasattr(ctx.transport, "get_request_method") else "POST"
        if method != "POST":
            raise _refused(ctx, "a SOAP request is an HTTP POST")
        data = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode(charset or "utf-8")
                        for chunk in ctx.in_string)
        ctx.in_string = ()
        refused = None
        try:
            root, header, body = parse_envelope(data, self.limits, self.version, (SOAP11, SOAP12))
        except SoapFault as exc:
            refused = _refused(ctx, exc.string, exc.code)
        del data
        if refused is not None:  # raised here, without the parser's exception and frames (see _release_request)
            raise refused
        if body.tag not in _OPERATION_TAGS:
            raise _refused(ctx, f"unknown operation '{etree.QName(body).localname}' in namespace "
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
        """An ``Answer`` is written here from its dict, and checked against the frozen XSD before it leaves (per
        the policy); faults (and anything else) the way spyne does it."""
        answer = ctx.out_object[0] if ctx.out_error is None and ctx.out_object else None
        if message is not self.RESPONSE or not isinstance(answer, Answer):
            return super().serialize(ctx, message)
        self.event_manager.fire_event("before_serialize", ctx)
        text, alone = answer.texts(self.version)
        mode = self.policy.mode("wl1_response", answer.operation)
        try:
            problems = _checked(alone, mode != "off")
        except ValueError as exc:  # a value XML cannot carry (a control character, a lone surrogate)
            log.error("WL 1.0 %s answer holds a character XML cannot carry: %s", answer.operation, exc)
            _unanswerable(ctx)
        else:
            ctx.out_string = [xmlbuild.wire(text)]  # the bytes lxml would serialise the text's tree to
            if problems:
                call_of(ctx).response_problems = problems
                log.error("WL 1.0 %s answer violates the XSD (%s): %s", answer.operation, mode,
                          "; ".join(map(str, problems)))
                if mode == "enforce":
                    _unanswerable(ctx)
        self.event_manager.fire_event("after_serialize", ctx)

    def create_out_string(self, ctx, charset=None):
        """An answer's bytes are made in ``serialize`` from its text, unless a fault has taken their place
        (``_unanswerable``)."""
        if ctx.out_string is not None and charset is None:
            return
        super().create_out_string(ctx, charset)


# An answer's message element of at least this many characters is validated while libxml2 reads it, without a tree
# (``WL1.check``): -20 µs for a 25-result search, A/B in one process. A small one costs less as a tree (+7 µs for the
# 361-character VerifieerAccreditatie answer read without one): the fixed cost of lxml's reading for a parser
# target, which a tree spares (docs/figures.md, thirteenth round).
READ_WITHOUT_TREE = 4096


def _checked(alone: str, validate: bool) -> list[Problem]:
    """The problems of an answer's message element (``Answer.texts``): validated against the frozen XSD, or
    (``validate`` false) only read. Raises ``ValueError`` if it is not XML 1.0 (a character XML forbids, a lone
    surrogate): it is never sent."""
    if len(alone) < READ_WITHOUT_TREE:
        root = xmlbuild.parse_own(alone)
        return WL1.validate(root) if validate else []
    data = alone.encode("utf-8")
    try:
        return WL1.check(data) if validate else xmlbuild.read_own(data)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"{xmlbuild.NOT_XML_TEXT} ({exc})") from None


class Wl1Soap11(_Hardened):
    """SOAP 1.1 as ASMX clients expect it: every fault is HTTP 500."""


class Wl1Soap12(_Hardened, Soap12):
    """SOAP 1.2 as ASMX offered it next to 1.1: Sender faults are HTTP 400, Receiver faults 500."""

    version = SOAP12

    def fault_to_http_response_code(self, fault):
        return HTTP_400 if str(getattr(fault, "faultcode", "")).startswith("Client") else HTTP_500

    def fault_to_parent(self, ctx, cls, inst, parent, ns, **_):
        """spyne's, without an empty ``Role`` (an ultimate receiver that has no role URI writes none)."""
        reason = E(f"{{{self.ns_soap_env}}}Reason")
        reason.append(E(f"{{{self.ns_soap_env}}}Text", inst.faultstring, **{f"{{{NS_XML}}}lang": inst.lang}))
        subelts = [None, reason]
        if inst.faultactor:
            subelts.append(E(f"{{{self.ns_soap_env}}}Role", inst.faultactor))
        return self._fault_to_parent_impl(ctx, cls, inst, parent, ns, subelts)


def _refused(ctx, reason: str, code: str = "Client") -> Fault:
    """The fault for a request refused before any operation saw it; the reason goes into its call record (the audit
    trail lists it as the request's problem)."""
    call_of(ctx).refusal = reason
    return Fault(code, reason)


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


def _unanswerable(ctx) -> None:
    """Answer a soap:Server fault in place of an answer the adapter could not make. spyne has already chosen HTTP
    200 and would keep (or write) its own document if we raised: replace both."""
    version = getattr(ctx.out_protocol, "version", SOAP11)
    ctx.out_document = envelope(fault_element(
        "Server", "the adapter could not make an answer that matches the WL 1.0 schema", version), version=version)
    ctx.out_string = None
    ctx.transport.resp_code = "500 Internal Server Error"


class Wl1Wsgi:
    """The WL 1.0 face at one path: the spyne application of the SOAP version the request's Content-Type names."""

    def __init__(self, apps: dict[str, WsgiApplication]):
        self.apps = apps

    def __call__(self, environ, start_response):
        return self.apps[negotiate(environ.get("CONTENT_TYPE")).name](environ, start_response)


def _application(protocol: type[Wl1Soap11] | type[Wl1Soap12], types: dict, pipeline: Pipeline, limits: Limits,
                 policy: ValidationPolicy) -> WsgiApplication:
    service = type("WhiteLabelSoap", (ServiceBase,), {op: _method(op, types[op], pipeline) for op in OPERATIONS})
    out_protocol = protocol(limits, policy, cleanup_namespaces=True)
    app = Application([service], tns=WL1_NS, name="WhiteLabel",
                      in_protocol=protocol(limits), out_protocol=out_protocol)
    nsmap = app.interface.nsmap
    nsmap.pop("soap11env", None)
    nsmap.pop("soap12env", None)
    nsmap["soap"] = protocol.version.env_ns
    return _WsgiApplication(app)


def build_wsgi(pipeline: Pipeline, limits: Limits, policy: ValidationPolicy = ValidationPolicy()) -> Wl1Wsgi:
    types = result_types()
    return Wl1Wsgi({protocol.version.name: _application(protocol, types, pipeline, limits, policy)
                    for protocol in (Wl1Soap11, Wl1Soap12)})
