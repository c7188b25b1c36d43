"""The WL 2.0 answer reader gives exactly what zeep's own deserialiser gives, for every example answer."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from zeep.helpers import serialize_object

from adapter.config import UpstreamConfig
from adapter.wl2 import reader
from adapter.wl2.client import Wl2Client
from tests.support.servers import ROOT
from tests.support.soap import SOAP_NS

EXAMPLES = sorted((ROOT / "examples" / "wl2").glob("*/response*.xml"))
SOAP_BODY = f"{{{SOAP_NS}}}Body"


def message_of(path: Path) -> etree._Element:
    body = etree.parse(str(path)).getroot().find(SOAP_BODY)
    return next(e for e in body if isinstance(e.tag, str))


@pytest.fixture(scope="module")
def zeep_client():
    return Wl2Client(UpstreamConfig(url="http://127.0.0.1:9/wl2", oin="00000003273462010000"))._client


@pytest.mark.parametrize("path", [p for p in EXAMPLES if not message_of(p).tag.endswith("Fault")],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_reader_equals_zeep(path, zeep_client):
    message = message_of(path)
    by_zeep = serialize_object(zeep_client.get_element(message.tag).parse(message, zeep_client.wsdl.types), dict)
    assert reader.read(message) == by_zeep


def test_absent_children_are_none_or_empty_lists_and_values_typed():
    answer = etree.fromstring(
        b'<ZoekenLeerbedrijfOfLeerplaatsResponse xmlns="urn:sbb:whitelabel:2.0">'
        b'<BerichtID>3f2504e0-4f89-11d3-9a0c-0305e82c3301</BerichtID>'
        b'<Signalering><Signaalcode>0</Signaalcode><Signaaltekst>ok</Signaaltekst></Signalering>'
        b'<AantalResultatenTotaal>1</AantalResultatenTotaal><Resultaten><Resultaat><LeerbedrijfId>100001</LeerbedrijfId>'
        b'<Naam>X</Naam><Vestigingsadres><Straat>S</Straat><Huisnummer>7</Huisnummer><Postcode>1234AB</Postcode>'
        b'<Plaats>P</Plaats><Land>NL</Land></Vestigingsadres></Resultaat></Resultaten>'
        b'</ZoekenLeerbedrijfOfLeerplaatsResponse>')
    read = reader.read(answer)
    assert read["Signalering"] == {"Signaalcode": 0, "Signaaltekst": "ok", "Foutmelding": None}
    (one,) = read["Resultaten"]["Resultaat"]  # one result is still a list
    assert one["Vestigingsadres"]["Huisnummer"] == 7 and one["Vestigingsadres"]["Huisnummertoevoeging"] is None
    assert one["Erkenning"] is None and one["Leerplaats"] is None
