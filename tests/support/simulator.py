"""What the simulator tests share: a simulator of their own and a zeep client that checks every answer.

Every answer that passes through ``SimClient`` is validated against the frozen XSD, and its WS-Addressing reply
headers against the request, so each test that calls an operation also asserts the answer is valid.
"""
from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import requests
import zeep
from lxml import etree
from zeep.plugins import HistoryPlugin

from adapter.contracts import SOAP11_ENV_NS, WL2, WL2_NS, WSA_NS
from adapter.simulator import DEFAULT_OIN
from tests.support.servers import SCHOOL_OIN, Server, start_simulator_process
from tests.support.soap import ANONYMOUS

NOT_A_SCHOOL_OIN = "00000001234567890000"
ENV = f"{{{SOAP11_ENV_NS}}}"
W = f"{{{WSA_NS}}}"
N = f"{{{WL2_NS}}}"


def start_simulator(*extra: str, count: int = 300) -> Server:
    """A simulator of its own (the session-wide one in conftest is shared with the adapter tests)."""
    log = Path(tempfile.mkdtemp(prefix="wl-sim-")) / "simulator.log"
    return start_simulator_process(log, *extra, count=count)


def wsa_headers(operation: str, url: str, oin: str = SCHOOL_OIN) -> dict:
    return {"Action": f"urn:sbb:whitelabel:2.0/{operation}", "MessageID": f"urn:uuid:{uuid.uuid4()}",
            "To": f"{url}/wl2?oin={DEFAULT_OIN}", "From": {"Address": f"{ANONYMOUS}?oin={oin}"}}


class SimClient:
    def __init__(self, server: Server):
        self.url = server.url
        self.history = HistoryPlugin()
        self.client = zeep.Client(f"{server.url}/wl2?wsdl", plugins=[self.history])
        self.service = self.client.bind("WhiteLabel2", "WhiteLabel2Port")

    def call(self, operation: str, oin: str = SCHOOL_OIN, **body):
        """The response body of ``operation``; asserts it is valid and answers this request."""
        headers = wsa_headers(operation, self.url, oin)
        result = getattr(self.service, operation)(BerichtID=str(uuid.uuid4()), _soapheaders=headers, **body)
        envelope = self.history.last_received["envelope"]
        message = envelope.find(f"{ENV}Body")[0]
        assert WL2.validate(message) == [], etree.tostring(message)
        assert message.tag == f"{N}{operation}Response"
        assert envelope.findtext(f"{ENV}Header/{W}Action") == f"urn:sbb:whitelabel:2.0/{operation}Response"
        assert envelope.findtext(f"{ENV}Header/{W}RelatesTo") == headers["MessageID"]
        assert envelope.findtext(f"{ENV}Header/{W}MessageID").startswith("urn:uuid:")
        assert envelope.findtext(f"{ENV}Header/{W}MessageID") != headers["MessageID"]
        return result.body

    def admin(self, path: str, method: str = "GET", **kw):
        return requests.request(method, f"{self.url}/admin/{path}", timeout=10, **kw)

    def companies(self) -> list[dict]:
        return self.admin("leerbedrijven?limit=1000").json()["leerbedrijven"]


def code(body) -> int:
    return body.Signalering.Signaalcode
