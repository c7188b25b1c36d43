"""Reads a WL 2.0 answer into plain dicts, the shape zeep's ``serialize_object`` gives, at a fraction of the cost.

zeep's own deserialisation builds value objects element by element through its schema machinery: for a 25-result
search that is several milliseconds, most of the adapter's CPU. The answer has already been parsed (safely) and
validated against the frozen XSD by then, so walking it once with a table made from that XSD is enough. The table is
made once, before the workers fork, from zeep's own reading of the XSD (xmlschema did this before; importing it and
its meta-schema cost every worker ~10 MB): for every element of every answer, its children in XSD order, whether
they repeat, and the zeep builtin type that turns text into a value, so values are exactly what zeep would have made:
every declared child is present (None, or [] for a repeating one, when absent), xs:int is an int, xs:date a date.

The walk is most of what is left of reading a search answer (hundreds of elements), so it does per element only
what it must: each shape carries a dict of its children's names to copy and, per tag, how to read that child;
simple children are read in the loop, not by a call each; xs:string text is taken as it is, xs:int and xs:long go
straight to ``int()`` (zeep's own converter is that call) and an ASCII 'YYYY-MM-DD' to ``date.fromisoformat``;
every other value goes through zeep's converter. tests/wl2/test_reader.py holds the result against zeep's.

The walk has a compiled twin, ``_walk.pyx``, which reads the same tables from libxml2's nodes without an lxml
element object per element (a 25-result search: ~52 µs instead of ~300). ``pip install`` builds it where a C
compiler is at hand; without it this module's walk is used, with the same results.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache, partial
from typing import Any

import zeep
import zeep.loader
from lxml import etree
from zeep.xsd import ComplexType
from zeep.xsd.types.builtins import Date, Integer, Long, String

from adapter import ns
from adapter.contracts import WL2

try:
    from adapter.wl2 import _walk  # type: ignore[attr-defined]  # compiled by setup.py; absent without a C compiler
except ImportError:
    _walk = None

# How a child element becomes a value: its text as it is (xs:string and what restricts it), its text through a
# converter (the entry's), a dict read with its own shape, ``int()`` of its text (xs:int, xs:long: zeep's own
# converter is that call), or an xs:date (``_read_date``, the entry's converter being zeep's for the other forms).
_TEXT, _CONVERTED, _COMPLEX, _INT, _DATE = 0, 1, 2, 3, 4
_IN_WL2 = f"{{{ns.WL2}}}"


@dataclass
class _Shape:
    """One element's content: a converter for a simple one, children for a complex one."""

    convert: Callable[[str], object] | None = None  # a simple one's: zeep's converter, or the same in fewer steps
    children: dict[str, tuple[str, _Shape, bool]] = field(default_factory=dict)  # tag -> (name, shape, repeats)
    how: int = _COMPLEX  # how a parent reads this element, with ``convert`` (a simple one: not _COMPLEX)
    # made from ``children`` once (``_finish``), for the walk: a dict of every child's name to copy (None each),
    # the names that repeat (a fresh [] each), and per tag (name, how to read it, converter or shape, repeats);
    # and the same entries by local name, for the children in the WL 2.0 namespace (for the compiled walk)
    template: dict[str, Any] = field(default_factory=dict)
    lists: tuple[str, ...] = ()
    entries: dict[str, tuple[str, int, Any, bool]] = field(default_factory=dict)
    local_entries: dict[str, tuple[str, int, Any, bool]] = field(default_factory=dict)


def _int(text: str) -> int:
    """zeep's xs:int, xs:long and xs:integer are ``int(value)`` (whitespace, a sign, leading zeros as Python
    takes them): the same call, without zeep's method in between."""
    return int(text)


def _read_date(text: str, zeep_date: Callable[[str], object]) -> object:
    """zeep's xs:date (isodate, after collapsing whitespace), with 'YYYY-MM-DD' in ASCII digits read by
    ``date.fromisoformat``, which gives the same date for exactly those; anything else (a time zone, whitespace,
    another form, a date that does not exist) goes to zeep's own converter, so the result is zeep's."""
    if len(text) == 10 and text[4] == "-" and text[7] == "-" and text.isascii():
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    return zeep_date(text)


def _simple(simple_type) -> _Shape:
    """How a simple element is read: zeep makes a restriction of a builtin a subclass of that builtin's class."""
    method = type(simple_type).pythonvalue
    if method is String.pythonvalue:  # ``return value``
        return _Shape(convert=_text, how=_TEXT)
    if method in (Integer.pythonvalue, Long.pythonvalue):  # ``return int(value)``
        return _Shape(convert=_int, how=_INT)
    if method is Date.pythonvalue:  # (zeep's converter, for what ``_read_date`` leaves to it)
        return _Shape(convert=simple_type.pythonvalue, how=_DATE)
    return _Shape(convert=simple_type.pythonvalue, how=_CONVERTED)


def _text(text: str) -> str:
    return text


def _shape(element, shapes: dict) -> _Shape:
    xsd_type = element.type
    if not isinstance(xsd_type, ComplexType):
        return _simple(xsd_type)
    # (WL 2.0 has no complex type with simple content; zeep would read one as {'_value_1': ..., attributes})
    key = id(xsd_type)
    if key in shapes:  # a named type seen before (recursion is not in these schemas, sharing is)
        return shapes[key]
    shape = shapes[key] = _Shape()
    for name, child in xsd_type.elements:  # in XSD order; a choice's elements each in their place
        repeats = child.max_occurs == "unbounded" or child.max_occurs > 1
        shape.children[child.qname.text] = (name, _shape(child, shapes), repeats)
    _finish(shape)
    return shape


def _finish(shape: _Shape) -> None:
    shape.template = {name: None for name, _, _ in shape.children.values()}
    shape.lists = tuple(name for name, _, repeats in shape.children.values() if repeats)
    for tag, (name, child, repeats) in shape.children.items():
        shape.entries[tag] = (name, child.how, child if child.how == _COMPLEX else child.convert, repeats)
    shape.local_entries = {tag[len(_IN_WL2):]: entry for tag, entry in shape.entries.items()
                           if tag.startswith(_IN_WL2)}


@lru_cache(maxsize=None)
def _shapes() -> dict[str, _Shape]:
    from adapter.wl2.transport import PackagedOnly

    transport = PackagedOnly()
    location = str(WL2.xsd)
    with open(location, "rb") as xsd:  # zeep's loader: no comments, nothing from the network
        root = zeep.loader.load_external(xsd, transport, base_url=location)
    schema = zeep.xsd.Schema(root, transport=transport, location=location)
    shapes: dict = {}
    return {element.qname.text: _shape(element, shapes) for element in schema.elements
            if element.qname.namespace == WL2.namespace}


def prepare() -> int:
    """Build the tables now (in the master before workers fork, so that every worker shares them), the compiled
    walk's too; how many the compiled walk has (0 without it)."""
    shapes = _shapes()
    return _walk.prepare(shapes.values()) if _walk is not None else 0


def _value(element: etree._Element, convert: Callable[[str], object]):
    text = element.text
    if text is None:
        return None
    try:
        return convert(text)
    except (TypeError, ValueError):  # as zeep does: an unreadable value is None (the XSD check has spoken)
        return None


def _read(element: etree._Element, shape: _Shape) -> dict:
    """A complex element: every declared child present, in XSD order. Simple children are read here, in the loop,
    not by a call each (they are most of an answer's elements)."""
    result = shape.template.copy()
    for name in shape.lists:
        result[name] = []
    entries = shape.entries
    for child in element[:]:  # the children as a list made in C: 15 % less for the whole walk than iterating
        entry = entries.get(child.tag)  # a comment's tag is a function: never an entry
        if entry is None:
            continue  # not in the contract: the XSD check reports it, zeep would skip it too
        name, how, reader, repeats = entry
        if how == _TEXT:
            value = child.text
        elif how == _COMPLEX:
            value = _read(child, reader)
        else:
            value = child.text
            if value is not None:
                try:
                    if how == _INT:
                        value = int(value)
                    elif how == _DATE:
                        value = _read_date(value, reader)
                    else:
                        value = reader(value)
                except (TypeError, ValueError):  # as zeep does: an unreadable value is None
                    value = None
        if repeats:
            result[name].append(value)
        else:
            result[name] = value
    return result


def _pause() -> None:
    """Called by the compiled walk now and then: a function of bytecode, where CPython hands the GIL to a thread that
    has asked for it (compiled code is never asked; ``_walk.pyx``)."""


# The walk ``read`` takes: the compiled one where it was built.
WALKS: dict[str, Callable[[etree._Element, _Shape], dict]] = {"python": _read}
if _walk is not None:
    if _walk.HOWS != (_TEXT, _CONVERTED, _COMPLEX, _INT, _DATE):  # a build of an older _walk.pyx
        raise ImportError("adapter/wl2/_walk.pyx was built for other tables than reader.py's: build it again "
                          "(pip install -e .)")
    WALKS["compiled"] = partial(_walk.read_complex, pause=_pause)
WALK = "compiled" if _walk is not None else "python"


def read(message: etree._Element, walk: str = "") -> dict:
    """A WL 2.0 message element (``XResponse``) as a dict keyed by local names, in XSD order; by the walk named
    (default: ``WALK``, read at each call, as ``xmlbuild.WRITER`` and ``xmlsafe.SCAN`` are)."""
    shape = _shapes()[message.tag]
    return _value(message, shape.convert) if shape.how != _COMPLEX else WALKS[walk or WALK](message, shape)
