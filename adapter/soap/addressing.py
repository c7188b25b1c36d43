"""WS-Addressing 1.0 as Edukoppeling uses it: OINs in wsa:From / wsa:To, urn:uuid MessageIDs, Action = SOAPAction.
Used by both sides: the adapter's WL 2.0 client and push receiver, and the simulator."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from adapter.contracts import WL2_NS, WSA_NS
from adapter.errors import SoapFault
from adapter.soap.envelope import wsa
from adapter.soap.oin import is_oin

ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"
FAULT_ACTION = "http://www.w3.org/2005/08/addressing/soap/fault"
MESSAGE_ID = re.compile(r"urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
W = f"{{{WSA_NS}}}"


def action(operation: str) -> str:
    return f"{WL2_NS}/{operation}"


def guid() -> str:
    """A random (version 4) GUID as text, what ``str(uuid.uuid4())`` gives, without building a UUID object on the
    way (a third of the cost; three are made per call)."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def new_message_id() -> str:
    return f"urn:uuid:{guid()}"


def with_oin(url: str, oin: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}oin={oin}"


def oin_of(uri: str | None) -> str | None:
    if not uri:
        return None
    values = parse_qs(urlsplit(uri).query).get("oin")
    return values[0] if values else None


def request_headers(operation: str, to: str, from_oin: str, message_id: str | None = None) -> list[etree._Element]:
    """Headers of a request to ``to`` (already carrying ``?oin=<receiver>``) from ``from_oin``."""
    sender = wsa("From")
    sender.append(wsa("Address", with_oin(ANONYMOUS, from_oin)))
    return [wsa("Action", action(operation)), wsa("MessageID", message_id or new_message_id()), wsa("To", to), sender]


def response_headers(response_action: str, relates_to: str | None) -> list[etree._Element]:
    headers = [wsa("Action", response_action), wsa("MessageID", new_message_id())]
    if relates_to:
        headers.append(wsa("RelatesTo", relates_to))
    return headers


@dataclass(frozen=True)
class Addressing:
    action: str
    message_id: str
    to: str
    from_address: str

    @property
    def to_oin(self) -> str | None:
        return oin_of(self.to)

    @property
    def from_oin(self) -> str | None:
        return oin_of(self.from_address)


def message_id_of(header: etree._Element | None) -> str | None:
    """The request's MessageID when it is well-formed (for RelatesTo, also on faults)."""
    el = header.find(W + "MessageID") if header is not None else None
    text = (el.text or "").strip() if el is not None else ""
    return text if MESSAGE_ID.fullmatch(text) else None


def _one(header: etree._Element | None, name: str) -> etree._Element:
    found = [] if header is None else header.findall(W + name)
    if not found:
        raise SoapFault("Client", f"WS-Addressing header wsa:{name} is missing")
    if len(found) > 1:
        raise SoapFault("Client", f"WS-Addressing header wsa:{name} occurs {len(found)} times; expected once")
    return found[0]


def read(header: etree._Element | None, operation: str) -> Addressing:
    """The addressing of a request for ``operation``; missing or malformed headers are a soap:Client fault that
    names the header. Whose OINs are acceptable is the caller's business."""
    act = (_one(header, "Action").text or "").strip()
    if act != action(operation):
        raise SoapFault("Client", f"WS-Addressing header wsa:Action is '{act}'; for the body element "
                                  f"{operation}Request it must be '{action(operation)}'")
    message_id = (_one(header, "MessageID").text or "").strip()
    if not MESSAGE_ID.fullmatch(message_id):
        raise SoapFault("Client", f"WS-Addressing header wsa:MessageID is '{message_id}'; it must be "
                                  "'urn:uuid:' followed by a GUID")
    to = (_one(header, "To").text or "").strip()
    if not is_oin(oin_of(to)):
        raise SoapFault("Client", f"WS-Addressing header wsa:To is '{to}'; it must be '<endpoint>?oin=<OIN>'")
    address = _one(header, "From").find(W + "Address")
    if address is None:
        raise SoapFault("Client", "WS-Addressing header wsa:From has no wsa:Address")
    sender = (address.text or "").strip()
    if not sender.startswith(ANONYMOUS + "?") or not is_oin(oin_of(sender)):
        raise SoapFault("Client", f"WS-Addressing header wsa:From/wsa:Address is '{sender}'; it must be "
                                  f"'{ANONYMOUS}?oin=<20-character OIN>'")
    return Addressing(act, message_id, to, sender)
