"""SOAP 1.1 envelopes and faults, shared by the WL 1.0 face, the WL 2.0 simulator and the push receiver."""
from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from adapter.contracts import SOAP11_ENV_NS, SOAP12_ENV_NS, WSA_NS
from adapter.errors import SoapFault, XmlRejected
from adapter.soap.xmlsafe import Limits, parse

ENV = f"{{{SOAP11_ENV_NS}}}"
NSMAP = {"soap": SOAP11_ENV_NS}
CONTENT_TYPE = "text/xml; charset=utf-8"


def parse_envelope(data: bytes, limits: Limits = Limits()) \
        -> tuple[etree._Element, etree._Element | None, etree._Element]:
    """Parse a request into (envelope, header or None, the one message element in the Body)."""
    try:
        root = parse(data, limits)
    except XmlRejected as exc:
        raise SoapFault("Client", exc.reason, exc.http_status) from None
    if root.tag == f"{{{SOAP12_ENV_NS}}}Envelope":
        raise SoapFault("Client", "SOAP 1.2 envelope received; this service speaks SOAP 1.1 "
                                  f"(namespace {SOAP11_ENV_NS})")
    if root.tag != ENV + "Envelope":
        raise SoapFault("Client", f"expected a SOAP 1.1 Envelope, got element '{etree.QName(root).localname}'")
    header = root.find(ENV + "Header")
    body = root.find(ENV + "Body")
    if body is None:
        raise SoapFault("Client", "the SOAP Envelope has no Body")
    children = [c for c in body if isinstance(c.tag, str)]
    if len(children) != 1:
        raise SoapFault("Client", f"the SOAP Body must hold exactly one message element, it holds {len(children)}")
    return root, header, children[0]


def envelope(body: etree._Element, headers: Sequence[etree._Element] = ()) -> etree._Element:
    env = etree.Element(ENV + "Envelope", nsmap=NSMAP)
    if headers:
        h = etree.SubElement(env, ENV + "Header")
        h.extend(headers)
    etree.SubElement(env, ENV + "Body").append(body)
    return env


def to_bytes(element: etree._Element) -> bytes:
    return etree.tostring(element, xml_declaration=True, encoding="utf-8")


def fault_element(code: str, string: str) -> etree._Element:
    fault = etree.Element(ENV + "Fault", nsmap=NSMAP)
    etree.SubElement(fault, "faultcode").text = f"soap:{code}"
    etree.SubElement(fault, "faultstring").text = string
    return fault


def fault_bytes(code: str, string: str, headers: Sequence[etree._Element] = ()) -> bytes:
    return to_bytes(envelope(fault_element(code, string), headers))


def wsa(name: str, text: str | None = None, **attrib: str) -> etree._Element:
    el = etree.Element(f"{{{WSA_NS}}}{name}", attrib, nsmap={"wsa": WSA_NS})
    if text is not None:
        el.text = text
    return el
