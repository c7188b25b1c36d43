"""The WL 2.0 requests the client builds itself (``Wl2Client._envelope`` and ``_header``) are, byte for byte, the ones
zeep's ``create_message`` makes with the WS-Addressing header put in front: for every request in examples/wl2,
read into the dict the pipeline would pass (values as the translation gives them) and built both ways."""
from __future__ import annotations

from pathlib import Path

import pytest
import zeep.exceptions
from lxml import etree

from adapter import ns
from adapter.config import UpstreamConfig
from adapter.errors import UpstreamError
from adapter.soap import addressing
from adapter.wl2 import reader
from adapter.wl2.client import Exchange, Wl2Client, _on_the_wire

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "wl2"
REQUESTS = sorted(p for p in EXAMPLES.glob("*/request*.xml") if p.parent.name != "MutatieLeerbedrijf")
SENDER = "00000001234567890000"


@pytest.fixture(scope="module")
def client():
    return Wl2Client(UpstreamConfig(url="http://127.0.0.1:9/wl2", oin="00000003273462010000"))


def _body(path: Path) -> tuple[str, dict]:
    message = etree.parse(str(path)).getroot().find(f"{{{ns.SOAP11_ENV}}}Body")[0]
    operation = etree.QName(message).localname.removesuffix("Request")
    body = reader.read(message)
    body.pop("BerichtID")
    return operation, body


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_request_bytes_equal_zeeps(client, path):
    operation, body = _body(path)
    message_id = addressing.new_message_id()
    ours = client._envelope(operation, body)
    ours.insert(0, client._header(operation, SENDER, message_id))
    bericht_id = ours.findtext(f".//{{{ns.WL2}}}BerichtID")

    theirs = client._client.create_message(client._service, operation, BerichtID=bericht_id, **_on_the_wire(body))
    header = etree.Element(f"{{{ns.SOAP11_ENV}}}Header")
    header.extend(addressing.request_headers(operation, addressing.with_oin(client.cfg.url, client.cfg.oin),
                                             SENDER, message_id))
    theirs.insert(0, header)
    assert etree.tostring(ours) == etree.tostring(theirs)


def test_each_request_has_its_own_message_id_and_bericht_id(client):
    operation, body = _body(EXAMPLES / "VerifieerAccreditatie" / "request.xml")
    first, second = (client._header(operation, SENDER, addressing.new_message_id()) for _ in range(2))
    assert first.findtext(f"{{{ns.WSA}}}MessageID") != second.findtext(f"{{{ns.WSA}}}MessageID")
    ids = {client._envelope(operation, body).findtext(f".//{{{ns.WL2}}}BerichtID") for _ in range(2)}
    assert len(ids) == 2


@pytest.mark.parametrize("operation, body, stray", [
    ("VerifieerAccreditatie", {"LeerbedrijfId": "100004", "Crebonummer": "25252", "Startdatum": "2026-11-29",
                               "Stardatum": "2026-11-29"}, "Stardatum"),
    ("DoeErkenningsvoordracht", {"Bedrijfsnaam": "B.V.", "Vestigingsadres": {"Straat": "S", "Huisnr": "1"}},
     "Vestigingsadres.Huisnr"),
])
def test_a_name_the_wsdl_does_not_have_is_refused_not_dropped(client, operation, body, stray):
    """A translation that names an element the WSDL lacks is a bug: the request is not built (the pipeline answers
    with a fault), rather than sent without that value."""
    with pytest.raises(TypeError, match=rf"{operation}Request has no element {stray}$"):
        client._envelope(operation, body)


def test_a_missing_element_is_refused():
    """Rendering still refuses a request without an element the WSDL requires (zeep's own check)."""
    client = Wl2Client(UpstreamConfig(url="http://127.0.0.1:9/wl2", oin="00000003273462010000"))
    with pytest.raises(zeep.exceptions.ValidationError, match="Missing element Crebonummer"):
        client._envelope("VerifieerAccreditatie", {"LeerbedrijfId": "100004", "Startdatum": "2026-11-29"})


def test_an_unbuildable_request_is_an_upstream_error_and_nothing_is_sent(client):
    exchange = Exchange("VerifieerAccreditatie")
    with pytest.raises(UpstreamError, match="could not be built: TypeError: VerifieerAccreditatieRequest has no "
                                            "element Extra"):
        client.call("VerifieerAccreditatie", SENDER, {"LeerbedrijfId": "1", "Crebonummer": "25252", "Extra": "x"},
                    exchange)
    assert exchange.request == b"" and exchange.failures == ["unusable"]
