"""The frozen contracts: where the WSDL/XSD files are, their compiled schemas, and message validation.

The files ship inside the installed package (``adapter/wsdl``, ``adapter/xsd``) and are only ever read from
there; schema imports resolve to local files, never to the network. Each schema is compiled once per process.
"""
from __future__ import annotations

import os
import queue
import re
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from lxml import etree

from adapter import ns
from adapter.soap.xmlbuild import NoTree

# the names other modules import from here; the values live in adapter/ns.py
WL1_NS = ns.WL1
WL2_NS = ns.WL2
WSA_NS = ns.WSA
SOAP11_ENV_NS = ns.SOAP11_ENV
SOAP12_ENV_NS = ns.SOAP12_ENV

PACKAGE_DIR = Path(__file__).resolve().parent
WSDL_DIR = PACKAGE_DIR / "wsdl"
XSD_DIR = PACKAGE_DIR / "xsd"

XSD_FILES = ("wl1.xsd", "wl2.xsd", "ws-addr.xsd")


def wsdl_path(name: str) -> Path:
    return WSDL_DIR / f"{name}.wsdl"


def xsd_path(name: str) -> Path:
    return XSD_DIR / name


@dataclass(frozen=True)
class Problem:
    """One validation problem: the element it is about, where, and why, in plain words."""

    element: str
    reason: str
    line: int | None = None
    path: str | None = None

    def __str__(self) -> str:
        return f"{self.element}: {self.reason}"


_QNAME = re.compile(r"\{(?:urn:|https?://)[^}]*\}")  # a namespace in Clark notation, not a {n} quantifier
_ELEMENT = re.compile(r"^Element '([^']+)'(?:, attribute '([^']+)')?: ")


def clean_reason(message: str) -> tuple[str | None, str]:
    """libxml2's message without namespaces and prefixes: ('Crebonummer', "'abc' is not a valid ...")."""
    message = message.strip()
    element = None
    m = _ELEMENT.match(message)
    hint = ""
    if m and not m.group(1).startswith("{"):
        expected_ns = re.search(r"Expected is .*?\{((?:urn:|https?://)[^}]*)\}", message)
        if expected_ns:
            hint = f" (elements must be in namespace {expected_ns.group(1)})"
    if m:
        element = _QNAME.sub("", m.group(1))
        if m.group(2):
            element += "/@" + _QNAME.sub("", m.group(2))
        message = message[m.end():]
    message = _QNAME.sub("", message)
    message = message.replace("This element is not expected.", "this element is not expected here.")
    message = re.sub(r"^\[facet '[^']*'\] The ", "the ", message)
    message = re.sub(r"\s+", " ", message).rstrip(".")
    message = re.sub(r"the atomic type '[^']*'", "its type", message)
    message = re.sub(r"the local atomic type", "its type", message)
    return element, message + hint


MAX_VALIDATORS = 2 * (os.cpu_count() or 2)


class Contract:
    """One contract (wl1 or wl2): its namespace, its compiled entry schema and its operations."""

    def __init__(self, name: str, namespace: str):
        self.name = name
        self.namespace = namespace
        self._validators: queue.SimpleQueue[etree.XMLSchema] = queue.SimpleQueue()
        self._compiling = threading.Lock()
        self._compiled = 0
        self._readers = threading.local()

    @property
    def xsd(self) -> Path:
        return xsd_path(f"{self.name}.xsd")

    @property
    def wsdl(self) -> Path:
        return wsdl_path(self.name)

    @cached_property
    def _schema_doc(self) -> etree._ElementTree:
        parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
        return etree.parse(str(self.xsd), parser)

    @property
    def schema_document(self) -> etree._ElementTree:
        """The parsed XSD file (read-only: shared by every thread)."""
        return self._schema_doc

    def _validator(self) -> etree.XMLSchema:
        """A compiled schema no other thread is using (an lxml validator keeps its error log on itself). The pool
        grows to at most ``MAX_VALIDATORS``, then a validation waits for one: each compiled schema holds ~0.25 MB,
        and with a validator per busy thread a worker under 256 clients kept 64 of them (16 MB); lxml validates
        without the GIL, so a few per core keep both cores validating."""
        try:
            return self._validators.get_nowait()
        except queue.Empty:
            pass
        with self._compiling:  # libxml2 tidies the schema document while compiling it: one thread at a time
            if self._compiled < MAX_VALIDATORS:
                self._compiled += 1
                return etree.XMLSchema(self._schema_doc)
        return self._validators.get()

    def compile(self) -> None:
        """Compile one validator now (before workers fork: they share it) rather than at the first request."""
        self._validators.put(self._validator())
        self._reading_schema  # noqa: B018 - compiled now, for the same reason

    @cached_property
    def _reading_schema(self) -> etree.XMLSchema:
        """The compiled schema ``check``'s parsers validate with: each makes its own validation context from it (a
        compiled schema is only read while validating), and keeps its errors in its own log."""
        with self._compiling:
            return etree.XMLSchema(self._schema_doc)

    def _reader(self) -> etree.XMLParser:
        """This thread's validating parser (``check``). A parser may be used again, though not by two threads at
        once."""
        parser = getattr(self._readers, "parser", None)
        if parser is None:
            parser = self._readers.parser = etree.XMLParser(
                target=NoTree(), schema=self._reading_schema, resolve_entities=False, no_network=True,
                load_dtd=False, collect_ids=False)
        return parser

    def check(self, data: bytes) -> list[Problem]:
        """Validate a message element written as a document of its own (UTF-8 bytes, its namespace declared on
        it) while libxml2 reads it, without building its tree: for a document this process wrote itself and only
        checks (a WL 1.0 answer), where a tree would be made only to be validated and dropped: ~20 % less than
        parsing and validating a 25-result answer's tree (docs/figures.md, thirteenth round). Raises
        ``etree.XMLSyntaxError`` if ``data`` is not well-formed XML. Problems carry no line or path (libxml2 gives
        none while reading)."""
        parser = self._reader()
        etree.fromstring(data, parser)  # (the target keeps nothing: what it returns is None)
        problems = []
        for entry in parser.error_log:
            if entry.domain == _SCHEMA_VALIDITY and entry.level >= _ERROR:
                name, reason = clean_reason(entry.message)
                if reason == _NO_DECLARATION:  # (what ``validate`` says before it validates)
                    return [self._no_message(name or "?")]
                problems.append(Problem(name or "?", reason))
        return problems

    @cached_property
    def message_elements(self) -> frozenset[str]:
        return frozenset(
            el.get("name") for el in self._schema_doc.getroot().iterchildren(f"{{{ns.XSD}}}element")
        )

    def _no_message(self, local: str, line: int | None = None) -> Problem:
        return Problem(local, f"is not a {self.name.upper()} message element (expected namespace {self.namespace})",
                       line)

    def validate(self, element: etree._Element) -> list[Problem]:
        """Validate one message element (the child of soap:Body). An empty list means valid."""
        if element.tag.startswith("{"):
            ns, _, local = element.tag[1:].partition("}")
        else:
            ns, local = "", element.tag
        if ns != self.namespace or local not in self.message_elements:
            return [self._no_message(local, element.sourceline)]
        schema = self._validator()
        try:
            if schema.validate(element):
                return []
            problems = []
            for entry in schema.error_log:
                name, reason = clean_reason(entry.message)
                problems.append(Problem(name or local, reason, entry.line or None, entry.path or None))
            return problems
        finally:
            self._validators.put(schema)


_SCHEMA_VALIDITY = etree.ErrorDomains.SCHEMASV
_NO_DECLARATION = "No matching global declaration available for the validation root"
_ERROR = etree.ErrorLevels.ERROR


WL1 = Contract("wl1", WL1_NS)
WL2 = Contract("wl2", WL2_NS)
CONTRACTS = {"wl1": WL1, "wl2": WL2}
BY_NAMESPACE = {WL1_NS: WL1, WL2_NS: WL2}


_ENVELOPES = {f"{{{SOAP11_ENV_NS}}}Envelope": SOAP11_ENV_NS, f"{{{SOAP12_ENV_NS}}}Envelope": SOAP12_ENV_NS}


def body_children(root: etree._Element) -> list[etree._Element]:
    """The message elements of a SOAP 1.1 or 1.2 envelope, or ``[root]`` for a bare message."""
    env_ns = _ENVELOPES.get(root.tag)
    if env_ns is not None:
        body = root.find(f"{{{env_ns}}}Body")
        return [] if body is None else [c for c in body if isinstance(c.tag, str)]
    return [root]


def detect(element: etree._Element) -> Contract | None:
    ns = element.tag[1:].partition("}")[0] if element.tag.startswith("{") else ""
    return BY_NAMESPACE.get(ns)


def validate_document(root: etree._Element, contract: Contract | None = None) -> list[Problem]:
    """Validate a SOAP envelope (each message in its Body) or a bare message element. WL 1.0 messages may come in
    SOAP 1.1 or SOAP 1.2 envelopes (the adapter serves both, as ASMX did); WL 2.0 is SOAP 1.1 only."""
    soap12 = root.tag == f"{{{SOAP12_ENV_NS}}}Envelope"
    messages = body_children(root)
    if not messages:
        return [Problem("Body", "the SOAP Body holds no message element", root.sourceline)]
    problems: list[Problem] = []
    for message in messages:
        if message.tag in (f"{{{SOAP11_ENV_NS}}}Fault", f"{{{SOAP12_ENV_NS}}}Fault"):
            continue  # a fault is a valid answer in either contract
        c = contract or detect(message)
        if c is None:
            problems.append(Problem(_QNAME.sub("", message.tag), "is in no known namespace "
                                    f"(expected {WL1_NS} or {WL2_NS})", message.sourceline))
            continue
        if soap12 and c is not WL1:
            problems.append(Problem("Envelope", "SOAP 1.2 envelope; WL 2.0 uses SOAP 1.1 "
                                    f"(namespace {SOAP11_ENV_NS})", root.sourceline))
            continue
        problems.extend(c.validate(message))
    return problems


def compile_all() -> None:
    """Compile both schemas now (at start, before workers fork) rather than on the first request."""
    for contract in CONTRACTS.values():
        contract.compile()
