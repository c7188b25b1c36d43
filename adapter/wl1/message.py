"""WL 1.0 request element -> dict with typed values (the XSD has already accepted it)."""
from __future__ import annotations

from lxml import etree

from adapter.contracts import WL1_NS
from adapter.translate.tables import WL1_BOOL_FIELDS, WL1_DATE_FIELDS, WL1_INT_FIELDS
from adapter.translate.values import xs_date

_PREFIX = f"{{{WL1_NS}}}"


def _value(name: str, text: str | None):
    text = (text or "").strip()
    if name in WL1_INT_FIELDS:
        return int(text)
    if name in WL1_BOOL_FIELDS:
        return text in ("true", "1")
    if name in WL1_DATE_FIELDS:
        return xs_date(text, name)
    return text


def to_dict(element: etree._Element) -> dict:
    out = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = child.tag[len(_PREFIX):] if child.tag.startswith(_PREFIX) else child.tag
        out[name] = to_dict(child) if len(child) else _value(name, child.text)
    return out


def request_of(body: etree._Element) -> etree._Element | None:
    return body.find(_PREFIX + "request")


def licence_of(body: etree._Element) -> str | None:
    el = body.find(f"{_PREFIX}request/{_PREFIX}Licentie")
    return el.text if el is not None else None
