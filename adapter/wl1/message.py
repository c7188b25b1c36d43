"""WL 1.0 request element -> dict with typed values (the XSD has already accepted it).

Whitespace as the XSD's types define it: numbers, booleans and dates are "collapse" types, so the XML white space
around them (space, tab, CR, LF) is no part of the value. Strings keep their content; the adapter trims the white
space around them (any Unicode white space, so also a no-break space or U+2028) because no company code, name or
postcode means anything by it. An element that holds only white space is still there: it is never read as absent
(the translation rules then answer signaalcode 4 naming it where a value is needed).
"""
from __future__ import annotations

from lxml import etree

from adapter.contracts import WL1_NS
from adapter.translate.tables import WL1_BOOL_FIELDS, WL1_DATE_FIELDS, WL1_INT_FIELDS
from adapter.translate.values import xs_date, xs_integer

_PREFIX = f"{{{WL1_NS}}}"
_REQUEST, _LICENTIE = _PREFIX + "request", _PREFIX + "Licentie"


XML_WHITESPACE = " \t\r\n"


def _value(name: str, text: str | None):
    text = text or ""
    if name in WL1_INT_FIELDS:
        return xs_integer(text.strip(XML_WHITESPACE))
    if name in WL1_BOOL_FIELDS:
        return text.strip(XML_WHITESPACE) in ("true", "1")
    if name in WL1_DATE_FIELDS:
        return xs_date(text.strip(XML_WHITESPACE), name)
    return text.strip()


def to_dict(element: etree._Element) -> dict:
    out = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = child.tag[len(_PREFIX):] if child.tag.startswith(_PREFIX) else child.tag
        out[name] = to_dict(child) if len(child) else _value(name, child.text)
    return out


def request_of(body: etree._Element) -> etree._Element | None:
    return next(body.iterchildren(_REQUEST), None)  # (lxml filters by tag in C; ``find`` parses a path first)


def licence_of(body: etree._Element) -> str | None:
    request = request_of(body)
    el = next(request.iterchildren(_LICENTIE), None) if request is not None else None
    return el.text if el is not None else None
