"""Builds WL 2.0 message elements from dicts (dict order is XSD order; None values are left out)."""
from __future__ import annotations

from datetime import date, datetime

from lxml import etree

from adapter.contracts import WL2_NS

_NSMAP = {None: WL2_NS}


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def fill(parent: etree._Element, data: dict) -> etree._Element:
    for name, value in data.items():
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            child = etree.SubElement(parent, f"{{{WL2_NS}}}{name}")
            if isinstance(item, dict):
                fill(child, item)
            else:
                child.text = _text(item)
    return parent


def message(name: str, data: dict) -> etree._Element:
    return fill(etree.Element(f"{{{WL2_NS}}}{name}", nsmap=_NSMAP), data)
