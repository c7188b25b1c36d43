"""WS-Addressing 1.0 as Edukoppeling uses it: OINs in wsa:From / wsa:To, urn:uuid MessageIDs, Action = SOAPAction."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from adapter.contracts import WL2_NS, WSA_NS
from adapter.soap import SoapFault, wsa

ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"
MESSAGE_ID = re.compile(r"^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SCHOOL_OIN = re.compile(r"^00000007000[0-9A-Za-z]{4}00000$")


def action(operation: str) -> str:
    return f"{WL2_NS}/{operation}"


def new_message_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def with_oin(url: str, oin: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}oin={oin}"


def oin_of(uri: str | None) -> str | None:
    if not uri:
        return None
    values = parse_qs(urlsplit(uri).query).get("oin")
    return values[0] if values else None


def is_school_oin(oin: str | None) -> bool:
    return bool(oin and SCHOOL_OIN.match(oin))


def request_headers(operation: str, to_url: str, to_oin: str, from_oin: str,
                    message_id: str | None = None) -> list[etree._Element]:
    sender = wsa("From")
    sender.append(wsa("Address", with_oin(ANONYMOUS, from_oin)))
    return [
        wsa("Action", action(operation)),
        wsa("MessageID", message_id or new_message_id()),
        wsa("To", with_oin(to_url, to_oin)),
        sender,
    ]


def response_headers(operation: str, relates_to: str | None) -> list[etree._Element]:
    headers = [wsa("Action", action(operation) + "Response"), wsa("MessageID", new_message_id())]
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


def read_request_headers(header: etree._Element | None) -> Addressing:
    """The WS-Addressing headers of a WL 2.0 request; missing or malformed ones are a soap:Client fault."""

    def text(name: str) -> str:
        el = header.find(f"{{{WSA_NS}}}{name}") if header is not None else None
        if el is None or not (el.text or "").strip():
            raise SoapFault("Client", f"WS-Addressing header wsa:{name} is missing")
        return el.text.strip()

    msg_id = text("MessageID")
    if not MESSAGE_ID.match(msg_id):
        raise SoapFault("Client", f"WS-Addressing header wsa:MessageID must be urn:uuid:<GUID>, got '{msg_id}'")
    to = text("To")
    if not oin_of(to):
        raise SoapFault("Client", f"WS-Addressing header wsa:To must carry ?oin=<OIN>, got '{to}'")
    sender = header.find(f"{{{WSA_NS}}}From") if header is not None else None
    address = sender.find(f"{{{WSA_NS}}}Address") if sender is not None else None
    if address is None or not (address.text or "").strip():
        raise SoapFault("Client", "WS-Addressing header wsa:From/wsa:Address is missing")
    from_address = address.text.strip()
    if not oin_of(from_address):
        raise SoapFault("Client", f"WS-Addressing header wsa:From/wsa:Address must carry ?oin=<OIN>, got '{from_address}'")
    return Addressing(text("Action"), msg_id, to, from_address)
