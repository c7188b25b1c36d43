"""Reads a WL 2.0 answer into plain dicts, the shape zeep's ``serialize_object`` gives, at a fraction of the cost.

zeep's own deserialisation builds value objects element by element through its schema machinery: for a 25-result
search that is several milliseconds, most of the adapter's CPU. The answer has already been parsed (safely) and
validated against the frozen XSD by then, so walking it once with a table made from that XSD is enough. The table is
made once per process (xmlschema): for every element of every answer, its children in XSD order, whether they repeat,
and the zeep builtin type that turns text into a value, so values are exactly what zeep would have made: every
declared child is present (None, or [] for a repeating one, when absent), xs:int is an int, xs:date a date.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import xmlschema
from lxml import etree
from zeep.xsd.types.builtins import default_types

from adapter import ns
from adapter.contracts import WL2

_XSD = f"{{{ns.XSD}}}"


@dataclass
class _Shape:
    """One element's content: a converter for a simple one, children for a complex one."""

    convert: Callable[[str], object] | None = None
    children: dict[str, tuple[str, _Shape, bool]] = field(default_factory=dict)  # tag -> (name, shape, repeats)


def _converter(simple_type) -> Callable[[str], object]:
    """zeep's converter for the nearest XML Schema builtin the type derives from."""
    t = simple_type
    while t is not None and not (t.name and t.name.startswith(_XSD) and t.name in default_types):
        t = getattr(t, "base_type", None)
    builtin = default_types[t.name] if t is not None else default_types[f"{_XSD}string"]
    return builtin.pythonvalue


def _shape(element, shapes: dict) -> _Shape:
    xsd_type = element.type
    if xsd_type.is_simple() or xsd_type.has_simple_content():
        return _Shape(convert=_converter(xsd_type if xsd_type.is_simple() else xsd_type.content))
    key = id(xsd_type)
    if key in shapes:  # a named type seen before (recursion is not in these schemas, sharing is)
        return shapes[key]
    shape = shapes[key] = _Shape()
    for child in xsd_type.content.iter_elements():
        repeats = child.max_occurs is None or child.max_occurs > 1
        shape.children[child.name] = (child.local_name, _shape(child, shapes), repeats)
    return shape


@lru_cache(maxsize=None)
def _shapes() -> dict[str, _Shape]:
    schema = xmlschema.XMLSchema(str(WL2.xsd))
    shapes: dict = {}
    return {element.name: _shape(element, shapes) for element in schema.elements.values()}


def _read(element: etree._Element, shape: _Shape):
    if shape.convert is not None:
        text = element.text
        if text is None:
            return None
        try:
            return shape.convert(text)
        except (TypeError, ValueError):  # as zeep does: an unreadable value is None (the XSD check has spoken)
            return None
    result: dict = {name: ([] if repeats else None) for name, _, repeats in shape.children.values()}
    for child in element:
        entry = shape.children.get(child.tag) if isinstance(child.tag, str) else None
        if entry is None:
            continue  # not in the contract: the XSD check reports it, zeep would skip it too
        name, child_shape, repeats = entry
        value = _read(child, child_shape)
        if repeats:
            result[name].append(value)
        else:
            result[name] = value
    return result


def read(message: etree._Element) -> dict:
    """A WL 2.0 message element (``XResponse``) as a dict keyed by local names, in XSD order."""
    return _read(message, _shapes()[message.tag])
