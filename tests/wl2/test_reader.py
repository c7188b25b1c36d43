"""The WL 2.0 answer reader gives exactly what zeep's own deserialiser gives, for every example answer, in both
its walks: the Python one and the compiled one (adapter/wl2/_walk.pyx), which ``read`` uses where it was built."""
from __future__ import annotations

import gc
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from lxml import etree
from zeep.helpers import serialize_object

from adapter.config import UpstreamConfig
from adapter.wl2 import reader
from adapter.wl2.client import Wl2Client
from tests.support.servers import ROOT, python
from tests.support.soap import SOAP_NS

EXAMPLES = sorted((ROOT / "examples" / "wl2").glob("*/response*.xml"))
SOAP_BODY = f"{{{SOAP_NS}}}Body"


def message_of(path: Path) -> etree._Element:
    body = etree.parse(str(path)).getroot().find(SOAP_BODY)
    return next(e for e in body if isinstance(e.tag, str))


@pytest.fixture(params=["python", "compiled"])
def walk(request) -> str:
    return request.param


def test_the_compiled_walk_was_built_and_is_the_one_used():
    """``pip install`` builds it here (a C compiler is part of this machine's set-up, tests/setup-system.sh): a
    build that silently left it out would cost every search ~180 µs (docs/figures.md, seventh round)."""
    assert "compiled" in reader.WALKS and reader.WALK == "compiled"


@pytest.fixture(scope="module")
def zeep_client():
    return Wl2Client(UpstreamConfig(url="http://127.0.0.1:9/wl2", oin="00000003273462010000"))._client


@pytest.mark.parametrize("path", [p for p in EXAMPLES if not message_of(p).tag.endswith("Fault")],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_reader_equals_zeep(path, zeep_client, walk):
    message = message_of(path)
    by_zeep = serialize_object(zeep_client.get_element(message.tag).parse(message, zeep_client.wsdl.types), dict)
    assert reader.read(message, walk) == by_zeep


def test_absent_children_are_none_or_empty_lists_and_values_typed(walk):
    answer = etree.fromstring(
        b'<ZoekenLeerbedrijfOfLeerplaatsResponse xmlns="urn:sbb:whitelabel:2.0">'
        b'<BerichtID>3f2504e0-4f89-11d3-9a0c-0305e82c3301</BerichtID>'
        b'<Signalering><Signaalcode>0</Signaalcode><Signaaltekst>ok</Signaaltekst></Signalering>'
        b'<AantalResultatenTotaal>1</AantalResultatenTotaal><Resultaten><Resultaat><LeerbedrijfId>100001</LeerbedrijfId>'
        b'<Naam>X</Naam><Vestigingsadres><Straat>S</Straat><Huisnummer>7</Huisnummer><Postcode>1234AB</Postcode>'
        b'<Plaats>P</Plaats><Land>NL</Land></Vestigingsadres></Resultaat></Resultaten>'
        b'</ZoekenLeerbedrijfOfLeerplaatsResponse>')
    read = reader.read(answer, walk)
    assert read["Signalering"] == {"Signaalcode": 0, "Signaaltekst": "ok", "Foutmelding": None}
    (one,) = read["Resultaten"]["Resultaat"]  # one result is still a list
    assert one["Vestigingsadres"]["Huisnummer"] == 7 and one["Vestigingsadres"]["Huisnummertoevoeging"] is None
    assert one["Erkenning"] is None and one["Leerplaats"] is None


# The reader reads 'YYYY-MM-DD' with date.fromisoformat and xs:int / xs:long with int(); everything else goes
# through zeep's own converters. These lexical forms (valid or not: the reader does not validate) must give what
# zeep gives, None included.
DATES = ["2019-08-01", "0001-01-01", "9999-12-31", "2024-02-29", "2019-08-01Z", "2019-08-01+02:00",
         "2019-08-01-05:00", " 2019-08-01 ", "\n2019-08-01\t", "2019-08-01 ", "2019-02-30", "2023-02-29", "0000-01-01",
         "2019-13-01", "2019-00-10", "2019-08-00", "20190801", "2019-W31-4", "2019-213", "2019-8-01", "2019-08-1",
         "２０１９-08-01", "2019-08-0a", "2019-08-+1", "+2019-08-01", "-2019-08-01", "2019-08", "12019-08-01",
         "2019-08-01T10:00:00", "2019/08/01", "x", " "]
INTS = ["0", "42", "+7", "-0", "-12", "007", " 42 ", "\t42\n", "1_000", "٤٢", "4.0", "1e3", "x", "+", " ",
        "2147483648", "9" * 30, "0" * 4400 + "1"]


def _verifieer(signaalcode: str, begindatum: str) -> etree._Element:
    def text(value: str) -> str:
        return value.replace("&", "&amp;").replace("<", "&lt;")
    return etree.fromstring(
        '<VerifieerAccreditatieResponse xmlns="urn:sbb:whitelabel:2.0">'
        '<BerichtID>3f2504e0-4f89-11d3-9a0c-0305e82c3301</BerichtID>'
        f'<Signalering><Signaalcode>{text(signaalcode)}</Signaalcode></Signalering>'
        '<Erkenning><LeerbedrijfId>100001</LeerbedrijfId><Crebonummer>25180</Crebonummer><Leerweg>BBL</Leerweg>'
        f'<Status>ERKEND</Status><Begindatum>{text(begindatum)}</Begindatum><Einddatum></Einddatum></Erkenning>'
        '</VerifieerAccreditatieResponse>'.encode())


def _by_zeep(message: etree._Element, zeep_client) -> dict:
    return serialize_object(zeep_client.get_element(message.tag).parse(message, zeep_client.wsdl.types), dict)


@pytest.mark.parametrize("begindatum", DATES, ids=repr)
def test_dates_as_zeep_reads_them(begindatum, zeep_client, walk):
    message = _verifieer("0", begindatum)
    assert reader.read(message, walk) == _by_zeep(message, zeep_client)


@pytest.mark.parametrize("signaalcode", INTS, ids=lambda v: repr(v)[:20])
def test_ints_as_zeep_reads_them(signaalcode, zeep_client, walk):
    message = _verifieer(signaalcode, "2019-08-01")
    assert reader.read(message, walk) == _by_zeep(message, zeep_client)


def test_the_fast_date_is_a_date_and_a_bad_one_none(walk):
    read = reader.read(_verifieer("0", "2019-08-01"), walk)["Erkenning"]
    assert type(read["Begindatum"]) is date and read["Begindatum"] == date(2019, 8, 1)
    assert read["Einddatum"] is None
    assert reader.read(_verifieer("0", "2019-02-30"), walk)["Erkenning"]["Begindatum"] is None


def test_the_tables_are_built_before_the_workers_fork(tmp_path):
    """Built while the adapter is built (in gunicorn's master), a worker's first call does not build them: with
    gevent every call in flight on that worker would wait for it. (``_walk.prepare([])`` makes none and counts
    them.)"""
    config = tmp_path / "adapter.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "s.sqlite"}"\n', encoding="utf-8")
    result = python("import sys\n"
                    "from adapter.config import load_config\n"
                    "from adapter.serve.build import Adapter\n"
                    "from adapter.wl2 import reader\n"
                    "assert reader._shapes.cache_info().currsize == 0\n"
                    "assert reader._walk.prepare([]) == 0\n"
                    "Adapter(load_config(sys.argv[1], environ={}))\n"
                    "print(reader._shapes.cache_info().currsize, reader._walk.prepare([]))", str(config))
    assert result.returncode == 0, result.stderr
    cached, tables = result.stdout.split()
    assert cached == "1" and int(tables) > 20  # the compiled walk's tables too: one per complex type


_TEXT_PARTS = etree.XMLParser(strip_cdata=False)  # text and CDATA nodes kept apart, comments and PIs kept
TEXTS = [
    ("<Signaaltekst/>", None),
    ("<Signaaltekst></Signaaltekst>", None),  # (libxml2 makes no text node for it)
    ("<Signaaltekst><![CDATA[]]></Signaaltekst>", ""),
    ("<Signaaltekst>  </Signaaltekst>", "  "),
    ("<Signaaltekst>a &amp; b &lt;c&gt; &#233;&#x1F600;</Signaaltekst>", "a & b <c> é\U0001F600"),
    ("<Signaaltekst>één, 日本, ∑</Signaaltekst>", "één, 日本, ∑"),
    ("<Signaaltekst>x<![CDATA[<y>]]>z</Signaaltekst>", "x<y>z"),
    ("<Signaaltekst><![CDATA[]]>z</Signaaltekst>", "z"),
    ("<Signaaltekst>x<!-- note -->z</Signaaltekst>", "x"),
    ("<Signaaltekst><!-- note -->z</Signaaltekst>", None),
    ("<Signaaltekst>x<?pi data?>z</Signaaltekst>", "x"),
    ("<Signaaltekst>x<b>y</b>z</Signaaltekst>", "x"),
    ("<w:Signaaltekst xmlns:w='urn:sbb:whitelabel:2.0'>prefixed</w:Signaaltekst>", "prefixed"),
    ("<Signaaltekst xmlns='urn:other'>elsewhere</Signaaltekst>", None),
    ("<Signaaltekst xmlns=''>no namespace</Signaaltekst>", None),
    ("<Signaaltekstx>a longer name</Signaaltekstx>", None),
]


@pytest.mark.parametrize("markup,expected", TEXTS, ids=[m for m, _ in TEXTS])
def test_both_walks_take_an_elements_text_as_lxml_does(markup, expected):
    """The compiled walk reads libxml2's nodes itself: it must see what lxml's ``.text`` sees (leading text and
    CDATA nodes joined, up to the first comment, PI or element) and skip what is in another namespace or none."""
    message = etree.fromstring(
        '<VerifieerAccreditatieResponse xmlns="urn:sbb:whitelabel:2.0"><BerichtID>b</BerichtID>'
        f'<Signalering><Signaalcode>0</Signaalcode>{markup}</Signalering></VerifieerAccreditatieResponse>'.encode(),
        _TEXT_PARTS)
    python, compiled = reader.read(message, "python"), reader.read(message, "compiled")
    assert python == compiled
    assert compiled["Signalering"]["Signaaltekst"] == expected
    assert compiled["Signalering"]["Signaalcode"] == 0 and compiled["BerichtID"] == "b"


def read_by_both_walks(search_answer_content: bytes) -> dict:
    """A ZoekenLeerbedrijfOfLeerplaatsResponse holding ``search_answer_content``, read by the compiled walk, which
    must give what the Python walk gives."""
    message = etree.fromstring(b'<ZoekenLeerbedrijfOfLeerplaatsResponse xmlns="urn:sbb:whitelabel:2.0">'
                               + search_answer_content + b'</ZoekenLeerbedrijfOfLeerplaatsResponse>')
    read = reader.read(message, "compiled")
    assert read == reader.read(message, "python")
    return read


def test_a_repeated_child_and_a_nested_one_in_the_compiled_walk():
    read = read_by_both_walks(
        b'<BerichtID>b</BerichtID>'
        b'<Signalering><Signaalcode>0</Signaalcode></Signalering><AantalResultatenTotaal>2</AantalResultatenTotaal>'
        b'<Resultaten><Resultaat><LeerbedrijfId>1</LeerbedrijfId><Naam>A</Naam></Resultaat><!-- between -->'
        b'<Resultaat><LeerbedrijfId> 02 </LeerbedrijfId><Naam>B</Naam><Onbekend>x</Onbekend></Resultaat>'
        b'</Resultaten>')
    assert read["AantalResultatenTotaal"] == 2  # xs:int; a LeerbedrijfId is a string with a pattern
    assert [(r["LeerbedrijfId"], r["Naam"]) for r in read["Resultaten"]["Resultaat"]] == [("1", "A"), (" 02 ", "B")]


def test_children_out_of_xsd_order_are_read_as_the_python_walk_reads_them():
    """The compiled walk looks for a child's name where the XSD's order puts it first, then everywhere: an answer
    out of order (refused by its validation, or read anyway when that leg only warns) still gives every value."""
    read = read_by_both_walks(
        b'<Signalering><Signaaltekst>t</Signaaltekst><Signaalcode>0</Signaalcode></Signalering><BerichtID>b</BerichtID>'
        b'<Resultaten><Resultaat><Naam>A</Naam><LeerbedrijfId>1</LeerbedrijfId></Resultaat>'
        b'<AantalResultatenTotaal>5</AantalResultatenTotaal><Resultaat><Naam>B</Naam></Resultaat></Resultaten>'
        b'<AantalResultatenTotaal>2</AantalResultatenTotaal>')
    assert read["Signalering"]["Signaalcode"] == 0 and read["Signalering"]["Signaaltekst"] == "t"
    assert [(r["LeerbedrijfId"], r["Naam"]) for r in read["Resultaten"]["Resultaat"]] == [("1", "A"), (None, "B")]
    assert read["BerichtID"] == "b" and read["AantalResultatenTotaal"] == 2


def _longest_wait_beside(work) -> tuple[float, float]:
    """Run ``work`` on a thread while this one counts: (the longest this thread waited for the GIL, work's time)."""
    done, spent = threading.Event(), []

    def run() -> None:
        started = time.perf_counter()
        work()
        spent.append(time.perf_counter() - started)
        done.set()

    thread = threading.Thread(target=run)
    longest, last = 0.0, time.perf_counter()
    thread.start()
    while not done.is_set():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    thread.join()
    return longest, spent[0]


def test_a_long_compiled_walk_lets_other_threads_run():
    """Compiled code is never asked for the GIL: a walk of 400,000 elements (on a thread of its own, as a large
    answer is read) holds it for ~100 ms unless it calls ``reader._pause`` (bytecode) every 1,024 elements."""
    one = ("<Abonnement><AbonnementId>0f8fad5b-d9cb-469f-a165-70867728950e</AbonnementId>"
           "<LeerbedrijfId>100001</LeerbedrijfId><Crebonummer>25143</Crebonummer></Abonnement>")
    message = etree.fromstring(
        '<OverzichtLopendeAbonnementenResponse xmlns="urn:sbb:whitelabel:2.0"><BerichtID>b</BerichtID>'
        f'<Signalering><Signaalcode>0</Signaalcode></Signalering><Abonnementen>{one * 100_000}</Abonnementen>'
        '</OverzichtLopendeAbonnementenResponse>'.encode(), etree.XMLParser(huge_tree=True))
    shape = reader._shapes()[message.tag]
    read: list[dict] = []
    # the walk as built, with its pause, and once with a pause of compiled code, which runs no bytecode (the
    # collector is off meanwhile: a full collection among 100,000 new dicts is a pause of another kind)
    gc.disable()
    try:
        waited, walked = _longest_wait_beside(lambda: read.append(reader.read(message, "compiled")))
        held, held_walk = _longest_wait_beside(lambda: reader._walk.read_complex(message, shape, pause=int))
    finally:
        gc.enable()
    assert len(read[0]["Abonnementen"]["Abonnement"]) == 100_000
    switch = sys.getswitchinterval()
    assert held > held_walk / 2, (held, held_walk)  # without bytecode, the other thread waited most of the walk
    assert waited < max(4 * switch, walked / 5), (waited, walked, switch)
