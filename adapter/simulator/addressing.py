"""Edukoppeling WS-Addressing: checking a request's headers and writing the headers of an answer or a push."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from adapter.contracts import WL2_NS, WSA_NS
from adapter.simulator.xmlout import guid
from adapter.soap import SoapFault, wsa

ACTION_PREFIX = f"{WL2_NS}/"
ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"
FAULT_ACTION = "http://www.w3.org/2005/08/addressing/soap/fault"
MESSAGE_ID = re.compile(r"urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
OIN = re.compile(r"[0-9A-Za-z]{20}")
W = f"{{{WSA_NS}}}"


@dataclass(frozen=True)
class Addressing:
    action: str
    message_id: str
    to: str
    from_oin: str


def message_id_of(header: etree._Element | None) -> str | None:
    """The request's MessageID when it is well-formed (for RelatesTo, also on faults)."""
    if header is None:
        return None
    el = header.find(W + "MessageID")
    text = (el.text or "").strip() if el is not None else ""
    return text if MESSAGE_ID.fullmatch(text) else None


def _one(header: etree._Element | None, name: str) -> etree._Element:
    found = [] if header is None else header.findall(W + name)
    if not found:
        raise SoapFault("Client", f"WS-Addressing header wsa:{name} is missing")
    if len(found) > 1:
        raise SoapFault("Client", f"WS-Addressing header wsa:{name} occurs {len(found)} times; expected once")
    return found[0]


def oin_of(uri: str) -> str | None:
    values = parse_qs(urlsplit(uri).query).get("oin")
    return values[0] if values else None


def check(header: etree._Element | None, operation: str, sim_oin: str) -> Addressing:
    """The addressing of a request for ``operation``, or a ``soap:Client`` fault naming the header at fault."""
    action = (_one(header, "Action").text or "").strip()
    expected = ACTION_PREFIX + operation
    if action != expected:
        raise SoapFault("Client", f"WS-Addressing header wsa:Action is '{action}'; for the body element "
                                  f"{operation}Request it must be '{expected}'")
    message_id = (_one(header, "MessageID").text or "").strip()
    if not MESSAGE_ID.fullmatch(message_id):
        raise SoapFault("Client", f"WS-Addressing header wsa:MessageID is '{message_id}'; it must be "
                                  "'urn:uuid:' followed by a GUID")
    to = (_one(header, "To").text or "").strip()
    to_oin = oin_of(to)
    if to_oin is None:
        raise SoapFault("Client", f"WS-Addressing header wsa:To is '{to}'; it must be '<endpoint>?oin=<OIN of SBB>'")
    if to_oin != sim_oin:
        raise SoapFault("Client", f"WS-Addressing header wsa:To names OIN {to_oin}; this service is OIN {sim_oin}")
    address = _one(header, "From").find(W + "Address")
    if address is None:
        raise SoapFault("Client", "WS-Addressing header wsa:From has no wsa:Address")
    sender = (address.text or "").strip()
    from_oin = oin_of(sender)
    if not sender.startswith(ANONYMOUS + "?") or from_oin is None or not OIN.fullmatch(from_oin):
        raise SoapFault("Client", f"WS-Addressing header wsa:From/wsa:Address is '{sender}'; it must be "
                                  f"'{ANONYMOUS}?oin=<20-character OIN>'")
    return Addressing(action, message_id, to, from_oin)


def response_headers(action: str, relates_to: str | None) -> list[etree._Element]:
    headers = [wsa("Action", action), wsa("MessageID", f"urn:uuid:{guid()}")]
    if relates_to:
        headers.append(wsa("RelatesTo", relates_to))
    return headers


def request_headers(action: str, to: str, from_oin: str) -> list[etree._Element]:
    sender = wsa("From")
    sender.append(wsa("Address", f"{ANONYMOUS}?oin={from_oin}"))
    return [wsa("Action", action), wsa("MessageID", f"urn:uuid:{guid()}"), wsa("To", to), sender]


def with_oin(endpoint: str, oin: str) -> str:
    return f"{endpoint}{'&' if '?' in endpoint else '?'}oin={oin}"
