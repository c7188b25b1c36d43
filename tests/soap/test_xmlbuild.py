"""The WL 1.0 answer written as text (``markup``) is what lxml writes for the tree ``fill`` builds with one element
per value: the same bytes for every kind of value, and a character XML cannot carry refused with a ``ValueError``
in both ways (never written into a document). ``markup`` is held so in both its writers: the Python one and the
compiled one (adapter/soap/_markup.pyx), which it uses where it was built."""
from __future__ import annotations

from collections import OrderedDict
from datetime import date, datetime

import pytest
from lxml import etree

from adapter.soap import xmlbuild

NS = "urn:sbb:whitelabel:1.0"


class _Str(str):
    pass


def by_fill(data: dict) -> bytes:
    root = etree.Element(f"{{{NS}}}Result", nsmap={None: NS})
    xmlbuild.fill(root, data, NS)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


@pytest.fixture(params=["python", "compiled"])
def writer(request) -> str:
    return request.param


def test_the_compiled_writer_was_built_and_is_the_one_used():
    assert xmlbuild.WRITERS == ("python", "compiled") and xmlbuild.WRITER == "compiled"


def text_of(data: dict, writer: str) -> str:
    return f'<Result xmlns="{NS}">{xmlbuild.markup(data, writer)}</Result>'


def by_markup(data: dict, writer: str) -> bytes:
    """The bytes sent, once the text has been read as the adapter reads its answers (``parse_own`` refuses what
    XML cannot carry)."""
    text = text_of(data, writer)
    xmlbuild.parse_own(text)
    return xmlbuild.wire(text)


VALUES = {
    "ints": {"Signaalcode": 0, "Groot": 10**30, "Negatief": -7},
    "bools": {"Waar": True, "Onwaar": False},
    "dates": {"Datum": date(2026, 11, 29), "Tijd": datetime(2026, 11, 29, 8, 30, 5), "Vroeg": date(1, 1, 1)},
    "none left out": {"A": None, "B": "b", "C": None},
    "nested and repeated": {"Resultaten": {"Resultaat": [{"Id": 1, "Adres": {"Straat": "Kerkweg 7-2"}},
                                                         {"Id": 2, "Adres": {}}]}},
    "empty list and dict": {"Leeg": [], "Niets": {}, "Na": 1, "AlleenNone": {"A": None}, "Lege": [{}, {}]},
    "None in a list is written as fill writes it": {"Lijst": [None, "x"]},
    "markup characters": {"Naam": "Bakkerij <De Korf> & Zn", "Tekst": "a]]>b", "Quotes": "\"'"},
    "markup characters in wider text": {"Naam": "Bakkerij € <Korf> & Zn\r", "Ster": "𝄞&", "Ĳs": "ĳ>"},
    "line ends and tabs": {"Tekst": "a\rb\r\nc\nd\te", "Alleen": "\r"},
    "empty text": {"Leeg": "", "Ook": ["", "x", ""]},
    "whitespace only": {"Spatie": " ", "Regels": "\n\n"},
    "unicode": {"Naam": "Café Ærø — 𝄞 \u0085\u007f\u00a0\u2028\ufffd", "Astraal": "\U0010fffd"},
    "entity-like text": {"Tekst": "&amp; &#13; &lt;"},
    "other objects as str()": {"Getal": 2.5, "Lijst": [[1, 2]]},
    "a dict's and a str's subclasses": {"Adres": OrderedDict(Straat="s", Nr=OrderedDict()),
                                        "Lijst": [OrderedDict(A=1)], "Tekst": _Str("a<b")},
}


@pytest.mark.parametrize("data", VALUES.values(), ids=VALUES.keys())
def test_markup_sends_what_lxml_writes_for_the_tree_fill_gives(data, writer):
    assert by_markup(data, writer) == by_fill(data)


@pytest.mark.parametrize("data", VALUES.values(), ids=VALUES.keys())
def test_both_writers_write_the_same_text(data):
    assert text_of(data, "compiled") == text_of(data, "python")


def test_both_writers_escape_what_follows_a_nul_character():
    """(The compiled writer's quick test stops at a NUL, which XML refuses anyway: what follows is still escaped.)"""
    data = {"Tekst": "a\x00<b&c", "Kort": "\x00>"}
    assert text_of(data, "compiled") == text_of(data, "python")
    assert "&lt;b&amp;c" in text_of(data, "compiled") and "&gt;" in text_of(data, "compiled")


def _lxml_refuses(ch: str) -> bool:
    try:
        etree.Element("x").text = ch
    except ValueError:  # UnicodeEncodeError for a lone surrogate is one too
        return True
    return False


# every range in which XML 1.0's Char production changes, with room on both sides
_RANGES = [(0, 0x3000), (0xD700, 0xE100), (0xFFF0, 0x10100), (0x10FFF0, 0x110000)]
_CHARS = [chr(cp) for lo, hi in _RANGES for cp in range(lo, hi)]


def test_every_character_lxml_takes_is_written_as_lxml_writes_it(writer):
    accepted = "".join(ch for ch in _CHARS if not _lxml_refuses(ch))
    assert len(accepted) > 10000
    data = {"Tekst": accepted, "Stuk": [accepted[i:i + 7] for i in range(0, 700, 7)]}
    assert by_markup(data, writer) == by_fill(data)


def test_every_character_lxml_refuses_is_refused_with_a_value_error(writer):
    refused = [ch for ch in _CHARS if _lxml_refuses(ch)]
    # C0 controls but tab, LF, CR; the surrogates; U+FFFE and U+FFFF
    assert len(refused) == 29 + 2048 + 2
    for ch in refused:
        for text in (ch, f"voor{ch}na"):
            with pytest.raises(ValueError):
                by_markup({"Tekst": text}, writer)
            with pytest.raises(ValueError):
                by_fill({"Tekst": text})


def test_a_refused_character_names_the_problem(writer):
    with pytest.raises(ValueError, match="XML compatible"):
        by_markup({"Naam": "Bakkerij\x01"}, writer)
