"""Builds message elements straight from translated dicts (dict order is XSD order; None values are left out).

Used for the WL 1.0 answers (so spyne never instantiates its XSD-parsed result classes, which cost half the CPU of
a 25-result search) and for the WL 2.0 messages the adapter writes itself (the push acknowledgement).

A WL 1.0 answer is written as text (``markup``) and parsed once (``parse_own``; a large one is only read while
it is validated, without a tree: ``read_own``, ``contracts.Contract.check``): a search answer has hundreds of
values, and one ``etree.SubElement`` plus one ``.text`` per value was the largest cost of a call (measured with
bench/profile_calls.py); joining strings and letting libxml2 build the tree in C is a fraction of that. The text
is what lxml writes for the tree ``fill`` builds: every value escaped as lxml escapes text, an empty one as
``<x></x>``, a value XML cannot carry refused with a ``ValueError`` as lxml refuses it (tests/soap/test_xmlbuild.py
holds the two ways against each other). The writing has a compiled twin, ``_markup.pyx`` (a quarter of the time
of this module's ``_write``), used where setup.py built it.
"""
from __future__ import annotations

from datetime import date, datetime

from lxml import etree

from adapter import ns

try:
    from adapter.soap import _markup  # type: ignore[attr-defined]  # compiled by setup.py; absent without a C compiler
except ImportError:
    _markup = None

# What lxml says when a text holds a character XML 1.0 forbids (a C0 control character, U+FFFE, U+FFFF); a lone
# surrogate fails earlier, in the UTF-8 encoding, with a UnicodeEncodeError (a ValueError) in both ways.
NOT_XML_TEXT = "All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters"

_DECLARATION = b"<?xml version='1.0' encoding='UTF-8'?>\n"

# Only our own text is parsed here: no DTD, no entities, no network; comments and blank text kept as written.
_OWN_TEXT = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, collect_ids=False)


class NoTree:
    """A parser target that keeps nothing: lxml then hands libxml2 no callbacks for elements or text, so it reads
    a document (and a schema given to the parser validates it) without building a tree."""

    def close(self) -> None:
        return None


_OWN_TEXT_READ = etree.XMLParser(target=NoTree(), resolve_entities=False, no_network=True, load_dtd=False,
                                 collect_ids=False)


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def fill(parent: etree._Element, data: dict, namespace: str) -> etree._Element:
    """Append ``data`` to ``parent`` as elements of ``namespace``: a dict becomes a nested element, a list repeats
    the element, a value becomes its text."""
    for name, value in data.items():
        if value is None:
            continue
        tag = f"{{{namespace}}}{name}"
        for item in value if isinstance(value, list) else [value]:
            child = etree.SubElement(parent, tag)
            if isinstance(item, dict):
                fill(child, item, namespace)
            else:
                child.text = _text(item)
    return parent


def message(name: str, data: dict, namespace: str = ns.WL2) -> etree._Element:
    return fill(etree.Element(f"{{{namespace}}}{name}", nsmap={None: namespace}), data, namespace)


def escape(text: str) -> str:
    """``text`` as character data, as lxml writes it: &, < and > as entities, a carriage return as ``&#13;`` (a
    literal one would be read back as a line feed). Characters XML forbids are left for ``parse_own`` to refuse."""
    if "&" in text or "<" in text or ">" in text or "\r" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    return text


def markup(data: dict, writer: str = "") -> str:
    """``data`` as the text of the elements ``fill`` would append, without a prefix (the enclosing element declares
    their namespace as its default one, as ASMX wrote its answers); written by the compiled writer where it was
    built (``writer``: "python" or "compiled" to choose)."""
    if (writer or WRITER) == "compiled":
        return _markup.markup(data, _TAGS, escape, _text)
    parts: list[str] = []
    _write(parts, data, _TAGS)
    return "".join(parts)


class _Tags(dict):
    """name -> (start tag, end tag), made once per name (names are the XSD's: a few dozen)."""

    def __missing__(self, name: str) -> tuple[str, str]:
        pair = self[name] = (f"<{name}>", f"</{name}>")
        return pair


_TAGS = _Tags()


def _write(parts: list[str], data: dict, tags: _Tags) -> None:
    # the exact classes first, by the value itself (almost every value is a str, an int or a dict; a list, one in
    # a hundred, is unpacked in ``_write_items``), then ``fill``'s own order of tests
    append = parts.append
    for name, value in data.items():
        cls = value.__class__
        if cls is str:
            if "&" in value or "<" in value or ">" in value or "\r" in value:
                value = escape(value)
            start, end = tags[name]
            append(f"{start}{value}{end}")
        elif cls is int:
            start, end = tags[name]
            append(f"{start}{value}{end}")
        elif value is None:
            continue
        elif cls is dict:
            _write_complex(parts, value, tags[name], tags)
        elif isinstance(value, list):
            _write_items(parts, value, tags[name], tags)
        else:
            _write_items(parts, (value,), tags[name], tags)


def _write_items(parts: list[str], items, pair: tuple[str, str], tags: _Tags) -> None:
    """One element per item, named by ``pair`` (start and end tag)."""
    append = parts.append
    start, end = pair
    for item in items:
        cls = item.__class__
        if cls is str:
            if "&" in item or "<" in item or ">" in item or "\r" in item:
                item = escape(item)
            append(f"{start}{item}{end}")
        elif cls is int:
            append(f"{start}{item}{end}")
        elif isinstance(item, dict):
            _write_complex(parts, item, pair, tags)
        else:
            append(start + escape(_text(item)) + end)


def _write_complex(parts: list[str], data: dict, pair: tuple[str, str], tags: _Tags) -> None:
    """An element holding ``data``; one that holds nothing is written ``<x/>``, as lxml writes it (``wire``)."""
    start, end = pair
    parts.append(start)
    mark = len(parts)
    _write(parts, data, tags)
    if len(parts) == mark:
        parts[-1] = start[:-1] + "/>"
    else:
        parts.append(end)


WRITERS = ("python", "compiled") if _markup is not None else ("python",)
WRITER = WRITERS[-1]


def wire(text: str) -> bytes:
    """The bytes of a document written by ``markup``, with an XML declaration in UTF-8: what lxml writes for the
    tree ``fill`` builds of the same data (tests/soap/test_xmlbuild.py holds the two equal)."""
    return _DECLARATION + text.encode("utf-8")


def read_own(data: bytes) -> list:
    """Read a document this process wrote itself (UTF-8) without building its tree: ``etree.XMLSyntaxError`` if it
    is not well-formed XML 1.0, else nothing to say (an empty list, as a validation without problems)."""
    etree.fromstring(data, _OWN_TEXT_READ)
    return []


def parse_own(text: str) -> etree._Element:
    """The tree of a document this process wrote itself (``markup``). A character XML 1.0 forbids is refused as
    lxml refuses it in ``.text`` (a ``ValueError``), never passed on in a malformed document."""
    try:
        return etree.fromstring(text.encode("utf-8"), _OWN_TEXT)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"{NOT_XML_TEXT} ({exc})") from None
