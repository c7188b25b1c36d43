"""Builds message elements straight from translated dicts (dict order is XSD order; None values are left out).

Used for the WL 1.0 answers (so spyne never instantiates its XSD-parsed result classes, which cost half the CPU of
a 25-result search) and for the WL 2.0 messages the adapter writes itself (the push acknowledgement).
"""
from __future__ import annotations

from datetime import date, datetime

from lxml import etree

from adapter import ns


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
