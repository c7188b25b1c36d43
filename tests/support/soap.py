"""SOAP as the tests write it by hand: the namespaces, ONE envelope builder (every hand-written request and push is
spelled through it), ONE way to POST a message, and the answer as parsed XML.

Tests that need a request a generated client would refuse to send (schema-invalid, hostile, odd spellings) build it
here; tests of normal behaviour use a zeep client from the served WSDL (``wl1_client``). The namespaces are written
out, not imported from the adapter: the tests check the adapter against the contract, not against itself.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape

import requests
import zeep
from lxml import etree

from adapter.simulator import DEFAULT_OIN as SBB_OIN
from tests.support.servers import LICENCE, TODAY

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WSA_NS = "http://www.w3.org/2005/08/addressing"
WL1_NS = "urn:sbb:whitelabel:1.0"
WL2_NS = "urn:sbb:whitelabel:2.0"
ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
CONTENT_TYPE = {"Content-Type": "text/xml; charset=utf-8"}


def envelope(body: str, header: str | None = None, *, prolog: str = "", prefix: str = "soap",
             namespaces: dict[str, str] | None = None, indent: str = "") -> str:
    """A SOAP 1.1 envelope around ``body`` (XML text). ``header``: None for no Header, "" for an empty one, else its
    content. ``prefix`` "" puts SOAP in the default namespace; ``namespaces`` are declared on the Envelope;
    ``indent`` (non-empty) puts each part on its own line."""
    q = (lambda n: f"{prefix}:{n}") if prefix else (lambda n: n)
    decls = f' xmlns:{prefix}="{SOAP_NS}"' if prefix else f' xmlns="{SOAP_NS}"'
    decls += "".join(f' xmlns:{p}="{uri}"' for p, uri in (namespaces or {}).items())
    nl = "\n" if indent else ""
    if header is None:
        head = ""
    elif header == "":
        head = f"{nl}{indent}<{q('Header')}/>"
    else:
        head = f"{nl}{indent}<{q('Header')}>{header}</{q('Header')}>"
    return (f"{prolog}{nl}<{q('Envelope')}{decls}>{head}{nl}{indent}<{q('Body')}>{body}"
            f"{nl}{indent}</{q('Body')}>{nl}</{q('Envelope')}>")


def wl1_request(operation: str, inner: str, licence: str | None = LICENCE, prolog: str = XML_DECLARATION) -> str:
    """A WL 1.0 request envelope (prefix ``w``): ``<w:Licentie>`` (unless ``licence`` is None), then ``inner``."""
    lic = f"<w:Licentie>{licence}</w:Licentie>" if licence is not None else ""
    return envelope(f"<w:{operation}><w:request>{lic}{inner}</w:request></w:{operation}>", prolog=prolog,
                    namespaces={"w": WL1_NS})


def wsa_header(headers: dict[str, str]) -> str:
    """WS-Addressing header elements (prefix ``wsa``), each value written as given (XML text)."""
    return "".join(f"<wsa:{name}>{value}</wsa:{name}>" for name, value in headers.items())


def wl2_message(element: str, fields: list[tuple[str, str]]) -> str:
    """A WL 2.0 body message: ``element`` with one child per (name, text), texts escaped by lxml."""
    message = etree.Element(f"{{{WL2_NS}}}{element}", nsmap={"wl": WL2_NS})
    for name, value in fields:
        etree.SubElement(message, f"{{{WL2_NS}}}{name}").text = value
    return etree.tostring(message, encoding="unicode")


def push_envelope(to_url: str, to_oin: str | None, fields: list[tuple[str, str]], from_oin: str = SBB_OIN,
                  message_id: str | None = None, action: str = f"{WL2_NS}/MutatieLeerbedrijf",
                  addressing: bool = True, operation: str = "MutatieLeerbedrijf") -> tuple[bytes, str]:
    """A push as SBB sends it to /wl2/mutaties (bytes, and its wsa:MessageID)."""
    message_id = message_id or f"urn:uuid:{uuid.uuid4()}"
    header = ""
    if addressing:
        header = wsa_header({
            "Action": escape(action), "MessageID": escape(message_id),
            "To": escape(f"{to_url}?oin={to_oin}" if to_oin else to_url),
            "From": f"<wsa:Address>{escape(f'{ANONYMOUS}?oin={from_oin}')}</wsa:Address>"})
    text = envelope(wl2_message(f"{operation}Request", fields), header, prolog=XML_DECLARATION,
                    namespaces={"wsa": WSA_NS})
    return text.encode("utf-8"), message_id


def post(url: str, data: bytes | str, headers: dict | None = None, *, action: str | None = None,
         timeout: float = 30, session: requests.Session | None = None) -> requests.Response:
    """POST a SOAP message (str is sent as UTF-8) as text/xml; ``action`` becomes the quoted SOAPAction header;
    ``headers`` override (a None value leaves the header out)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    sent = {**CONTENT_TYPE, **({"SOAPAction": f'"{action}"'} if action is not None else {}), **(headers or {})}
    return (session or requests).post(url, data=data, headers=sent, timeout=timeout)


@dataclass
class SoapAnswer:
    """An HTTP answer carrying a SOAP envelope: its one body message, and the fault (QName, string) if it is one."""

    status: int
    root: etree._Element
    raw: bytes

    @classmethod
    def of(cls, response: requests.Response) -> SoapAnswer:
        try:
            root = etree.fromstring(response.content)
        except etree.XMLSyntaxError as exc:
            raise AssertionError(f"HTTP {response.status_code}, not XML ({exc}): {response.content[:500]!r}") from None
        return cls(response.status_code, root, response.content)

    @property
    def message(self) -> etree._Element:
        return next(c for c in self.root.find(f"{{{SOAP_NS}}}Body") if isinstance(c.tag, str))

    def header(self, name: str) -> str | None:
        """The text of a WS-Addressing header, None when absent."""
        el = self.root.find(f"{{{SOAP_NS}}}Header/{{{WSA_NS}}}{name}")
        return None if el is None else (el.text or "").strip()

    def result(self, operation: str) -> etree._Element:
        """The ``{operation}Result`` of a WL 1.0 answer, asserting the answer is that operation's response."""
        msg = self.message
        assert msg.tag == f"{{{WL1_NS}}}{operation}Response", self.raw[:2000]
        result = msg.find(f"{{{WL1_NS}}}{operation}Result")
        assert result is not None, self.raw[:2000]
        return result

    @property
    def fault(self) -> tuple[str, str] | None:
        msg = self.message
        if msg.tag != f"{{{SOAP_NS}}}Fault":
            return None
        code = (msg.findtext("faultcode") or "").strip()
        prefix, _, local = code.rpartition(":")
        return f"{{{msg.nsmap.get(prefix or None)}}}{local}", (msg.findtext("faultstring") or "").strip()


def wl1_client(adapter, path: str = "/wl1") -> zeep.Client:
    """A zeep client built from the WSDL the adapter serves (as a school system would)."""
    return zeep.Client(f"{adapter.url}{path}?wsdl")


# One WL 1.0 request of each kind the adapter answers differently (each operation's path, a refused licence, a request
# that fails its XSD, and one that is not XML), for tests that call the WSGI application in process.
EXAMPLE_CALLS = {
    "VerifieerAccreditatie": wl1_request("VerifieerAccreditatie", "<w:CodeLeerbedrijf>100001</w:CodeLeerbedrijf>"
                                         f"<w:Crebonummer>25138</w:Crebonummer><w:Peildatum>{TODAY}</w:Peildatum>"),
    "Zoeken": wl1_request("Zoeken", "<w:AantalResultatenPerPagina>25</w:AantalResultatenPerPagina><w:Pagina>1"
                          "</w:Pagina><w:LeerplaatsErkenningAanduiding>E</w:LeerplaatsErkenningAanduiding>"),
    "GeefDetails": wl1_request("GeefDetails", "<w:CodeLeerbedrijf>100001</w:CodeLeerbedrijf>"),
    "GeefMutaties": wl1_request("GeefMutaties", "<w:VanafVolgnummer>0</w:VanafVolgnummer>"),
    "a refused licence": wl1_request("GeefDetails", "<w:CodeLeerbedrijf>100001</w:CodeLeerbedrijf>", "wrong"),
    "not XML": "<soap:Envelope",
    "invalid": wl1_request("VerifieerAccreditatie", "<w:Crebonummer>abc</w:Crebonummer>"),
}
