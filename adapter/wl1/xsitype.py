"""``xsi:type`` as the original ASMX serializer accepted it (CONTRACTS.md, "How the original ASMX service behaved").

Dynamic-language SOAP libraries put ``xsi:type="xsd:string"`` or ``xsd:int`` on every element they send. To an
XSD validator that attribute replaces the element's declared type, and ``xsd:string`` on a ``Licentie`` (a
restriction of xs:string) is "not validly derived", so lxml refuses it. ASMX ignored such attributes. So before
validation, on each element that carries ``xsi:type``:

- naming an XML Schema built-in type from which the element's declared type derives (``xsd:string`` on a
  string-based type, ``xsd:date`` on a date, ``xsd:boolean`` on a boolean), the attribute is removed and the value
  is then checked against the declared type as usual. On an integer-valued element ``xsd:int``, ``xsd:long`` and
  ``xsd:integer`` are all accepted: libraries choose among them by the value, not by the schema (an ``xs:long``
  ``VanafVolgnummer`` of 7 arrives as ``xsd:int``), and the value is checked against the declared type anyway;
- anything else (another built-in, a type of the WL 1.0 namespace, an undeclared prefix) is a problem naming the
  element, which the pipeline answers as a ``soap:Client`` fault (under the ``wl1_request`` validation policy).

Which built-ins each element accepts is read once from the compiled XSD (with xmlschema) into a table keyed by the
element's path; the request path pays one walk over the message's elements and a dict lookup per ``xsi:type``.
"""
from __future__ import annotations

from functools import lru_cache

from lxml import etree

from adapter.contracts import WL1, Problem

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
XS_NS = "http://www.w3.org/2001/XMLSchema"
_XS = f"{{{XS_NS}}}"
_ANY = frozenset({"anyType", "anySimpleType", "anyAtomicType"})  # the ur-types say nothing: not "a built-in type"
_INTEGERS = frozenset({"int", "long", "integer"})

Path = tuple[str, ...]


def _builtin_bases(simple_type) -> frozenset[str]:
    """Local names of the XML Schema built-in types ``simple_type`` is or derives from."""
    names = set()
    t = simple_type
    while t is not None:
        name = t.name or ""
        if name.startswith(_XS) and name[len(_XS):] not in _ANY:
            names.add(name[len(_XS):])
        t = getattr(t, "base_type", None)
    if "integer" in names:
        names |= _INTEGERS
    return frozenset(names)


def _walk(element, path: Path, table: dict[Path, frozenset[str]]) -> None:
    t = element.type
    if t.is_simple():
        table[path] = _builtin_bases(t)
        return
    table[path] = frozenset()  # a complex type derives from no built-in simple type
    for child in element.iterchildren():
        _walk(child, path + (child.local_name,), table)


@lru_cache(maxsize=1)
def accepted_types() -> dict[Path, frozenset[str]]:
    """Element path from the message element (``("Zoeken", "request", "Pagina")``) -> the built-in type names an
    ``xsi:type`` on it may name. Built from xsd/wl1.xsd once per process."""
    import xmlschema  # only at start-up: the request path uses the table

    schema = xmlschema.XMLSchema(str(WL1.xsd))
    table: dict[Path, frozenset[str]] = {}
    for name in WL1.message_elements:
        _walk(schema.elements[name], (name,), table)
    return table


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _path(element: etree._Element, message: etree._Element) -> Path:
    names = []
    while element is not None and element is not message:
        names.append(_local(element.tag))
        element = element.getparent()
    names.append(_local(message.tag))
    return tuple(reversed(names))


def _shown(path: Path) -> str:
    """How a problem names the element: below ``request`` (``Vestigingsadres/Straat``), as the other faults do."""
    inner = path[2:] if len(path) > 2 and path[1] == "request" else path[-1:]
    return "/".join(inner)


def _refusal(element: etree._Element, value: str, accepted: frozenset[str]) -> str | None:
    """None when ``value`` names an accepted built-in, else the reason in plain words."""
    prefix, sep, local = value.strip().rpartition(":")
    namespace = element.nsmap.get(prefix or None)
    if prefix and namespace is None:
        return f"xsi:type '{value}' uses the prefix '{prefix}', which is not declared"
    if namespace == XS_NS and accepted and local in accepted:
        return None
    if not accepted:
        return f"xsi:type '{value}' is not accepted here (this element takes no xsi:type)"
    allowed = ", ".join(f"xsd:{n}" for n in sorted(accepted))
    return f"xsi:type '{value}' is not accepted here (allowed: {allowed}, or no xsi:type)"


def tolerate(message: etree._Element) -> list[Problem]:
    """Remove every ``xsi:type`` from ``message`` (the element in the SOAP Body) and return a problem for each one
    that the old serializer would not have accepted. Removing the refused ones too keeps the validator from
    reporting them a second time, in libxml2's words."""
    problems: list[Problem] = []
    table = None
    for element in message.iter(etree.Element):
        value = element.get(XSI_TYPE)
        if value is None:
            continue
        if table is None:
            table = accepted_types()
        path = _path(element, message)
        if path not in table:
            continue  # an element the schema does not have: the validator names it
        reason = _refusal(element, value, table[path])
        del element.attrib[XSI_TYPE]
        if reason is not None:
            problems.append(Problem(_shown(path), reason, element.sourceline))
    return problems
