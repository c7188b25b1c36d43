"""SOAP envelopes and faults, shared by the WL 1.0 face, the WL 2.0 simulator and the push receiver.

WL 2.0 is SOAP 1.1 only. The WL 1.0 face speaks both SOAP 1.1 and SOAP 1.2, as the original ASMX service did: the
request's Content-Type chooses (``application/soap+xml`` is SOAP 1.2, anything else SOAP 1.1) and the answer, fault
or not, is in the same version. Fault codes are named in SOAP 1.1 words everywhere in the code (``Client``,
``Server``); a SOAP 1.2 fault says ``Sender``/``Receiver`` with the same reason text.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from adapter.contracts import SOAP11_ENV_NS, SOAP12_ENV_NS, WSA_NS
from adapter.errors import SoapFault, XmlRejected
from adapter.soap.xmlsafe import Limits, parse

ENV = f"{{{SOAP11_ENV_NS}}}"
NSMAP = {"soap": SOAP11_ENV_NS}
CONTENT_TYPE = "text/xml; charset=utf-8"
XML_NS = "http://www.w3.org/XML/1998/namespace"


@dataclass(frozen=True)
class SoapVersion:
    """One SOAP version as the WL 1.0 face speaks it: envelope namespace, media type, fault vocabulary."""

    name: str
    env_ns: str
    content_type: str
    fault_codes: tuple[tuple[str, str], ...]  # SOAP 1.1 word (Client/Server) -> this version's word
    client_fault_status: int  # HTTP status of a Client/Sender fault

    @property
    def env(self) -> str:
        return f"{{{self.env_ns}}}"

    def fault_code(self, code: str) -> str:
        return dict(self.fault_codes)[code]

    def http_status(self, code: str) -> int:
        return self.client_fault_status if code == "Client" else 500


SOAP11 = SoapVersion("1.1", SOAP11_ENV_NS, CONTENT_TYPE, (("Client", "Client"), ("Server", "Server")), 500)
SOAP12 = SoapVersion("1.2", SOAP12_ENV_NS, "application/soap+xml; charset=utf-8",
                     (("Client", "Sender"), ("Server", "Receiver")), 400)
VERSIONS = {v.env_ns: v for v in (SOAP11, SOAP12)}


def negotiate(content_type: str | None) -> SoapVersion:
    """The SOAP version a request's Content-Type asks for: ``application/soap+xml`` is 1.2, anything else 1.1."""
    media = (content_type or "").partition(";")[0].strip().lower()
    return SOAP12 if media == "application/soap+xml" else SOAP11


_MISMATCH_HINT = {
    SOAP11.name: "SOAP 1.1 is sent with Content-Type text/xml",
    SOAP12.name: "SOAP 1.2 is sent with Content-Type application/soap+xml",
}


def parse_envelope(data: bytes, limits: Limits = Limits(), version: SoapVersion = SOAP11,
                   versions_spoken: tuple[SoapVersion, ...] = (SOAP11,)
                   ) -> tuple[etree._Element, etree._Element | None, etree._Element]:
    """Parse a request into (envelope, header or None, the one message element in the Body).

    ``version`` is the one the request announced; ``versions_spoken`` what this service understands at all (the
    WL 2.0 side: SOAP 1.1 only), so that an envelope of the other version gets a fault that says what to change."""
    try:
        root = parse(data, limits)
    except XmlRejected as exc:
        raise SoapFault("Client", exc.reason, exc.http_status) from None
    if root.tag != version.env + "Envelope":
        other = VERSIONS.get(etree.QName(root).namespace or "")
        if other is not None and other.name in {v.name for v in versions_spoken}:
            raise SoapFault("Client", f"SOAP {other.name} envelope received with a SOAP {version.name} Content-Type "
                                      f"('{version.content_type.partition(';')[0]}'); {_MISMATCH_HINT[other.name]}")
        if other is not None:
            raise SoapFault("Client", f"SOAP {other.name} envelope received; this service speaks SOAP "
                                      f"{version.name} (namespace {version.env_ns})")
        raise SoapFault("Client", f"expected a SOAP {version.name} Envelope, got element "
                                  f"'{etree.QName(root).localname}'")
    header = root.find(version.env + "Header")
    body = root.find(version.env + "Body")
    if body is None:
        raise SoapFault("Client", "the SOAP Envelope has no Body")
    children = [c for c in body if isinstance(c.tag, str)]
    if len(children) != 1:
        raise SoapFault("Client", f"the SOAP Body must hold exactly one message element, it holds {len(children)}")
    return root, header, children[0]


def envelope(body: etree._Element, headers: Sequence[etree._Element] = (), version: SoapVersion = SOAP11
             ) -> etree._Element:
    env = etree.Element(version.env + "Envelope", nsmap={"soap": version.env_ns})
    if headers:
        h = etree.SubElement(env, version.env + "Header")
        h.extend(headers)
    etree.SubElement(env, version.env + "Body").append(body)
    return env


def to_bytes(element: etree._Element) -> bytes:
    return etree.tostring(element, xml_declaration=True, encoding="utf-8")


def fault_element(code: str, string: str, version: SoapVersion = SOAP11) -> etree._Element:
    """A Fault element; ``code`` in SOAP 1.1 words (Client/Server), written in ``version``'s vocabulary."""
    fault = etree.Element(version.env + "Fault", nsmap={"soap": version.env_ns})
    if version is SOAP11:
        etree.SubElement(fault, "faultcode").text = f"soap:{code}"
        etree.SubElement(fault, "faultstring").text = string
        return fault
    value = etree.SubElement(etree.SubElement(fault, version.env + "Code"), version.env + "Value")
    value.text = f"soap:{version.fault_code(code)}"
    text = etree.SubElement(etree.SubElement(fault, version.env + "Reason"), version.env + "Text")
    text.set(f"{{{XML_NS}}}lang", "en")
    text.text = string
    return fault


def fault_bytes(code: str, string: str, headers: Sequence[etree._Element] = (),
                version: SoapVersion = SOAP11) -> bytes:
    return to_bytes(envelope(fault_element(code, string, version), headers, version))


def wsa(name: str, text: str | None = None, **attrib: str) -> etree._Element:
    el = etree.Element(f"{{{WSA_NS}}}{name}", attrib, nsmap={"wsa": WSA_NS})
    if text is not None:
        el.text = text
    return el
