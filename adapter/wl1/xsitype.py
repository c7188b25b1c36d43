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

Which built-ins each element accepts is read once from the frozen XSD into a table keyed by the element's path;
the request path pays one walk over the message's elements and a dict lookup per ``xsi:type``. The table is read
from the schema document lxml already holds (``contracts.WL1``), following each type's ``xs:restriction`` chain down
to XML Schema's own built-in hierarchy (``BUILTIN_BASE``). Building it with xmlschema instead cost every worker
~1 s of start-up, ~13 MB and ~30,000 more objects for each full garbage collection (which spyne runs every second)
to keep its meta-schema; the tests check this table against xmlschema's view of the same schema.
"""
from __future__ import annotations

from functools import lru_cache

from lxml import etree

from adapter.contracts import WL1, Problem

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
XS_NS = "http://www.w3.org/2001/XMLSchema"
_XS = f"{{{XS_NS}}}"
_INTEGERS = frozenset({"int", "long", "integer"})

# XML Schema Part 2's built-in derivations (type -> the built-in it restricts), for the types a schema may name;
# the primitives (string, boolean, decimal, date, ...) derive from none that an xsi:type could usefully name.
BUILTIN_BASE = {
    "normalizedString": "string", "token": "normalizedString", "language": "token", "Name": "token",
    "NMTOKEN": "token", "NCName": "Name", "ID": "NCName", "IDREF": "NCName", "ENTITY": "NCName",
    "integer": "decimal", "long": "integer", "int": "long", "short": "int", "byte": "short",
    "nonNegativeInteger": "integer", "positiveInteger": "nonNegativeInteger", "unsignedLong": "nonNegativeInteger",
    "unsignedInt": "unsignedLong", "unsignedShort": "unsignedInt", "unsignedByte": "unsignedShort",
    "nonPositiveInteger": "integer", "negativeInteger": "nonPositiveInteger",
}

Path = tuple[str, ...]


def _qname(value: str, context: etree._Element) -> tuple[str | None, str]:
    prefix, _, local = value.rpartition(":")
    return context.nsmap.get(prefix or None), local


def _builtin_chain(local: str) -> set[str]:
    names = set()
    while local:
        names.add(local)
        local = BUILTIN_BASE.get(local)
    return names


class _Schema:
    """The named types of one schema document, and the built-ins each simple type is or derives from."""

    def __init__(self, root: etree._Element):
        self.tns = root.get("targetNamespace")
        self.simple = {t.get("name"): t for t in root.iterchildren(_XS + "simpleType")}
        self.complex = {t.get("name"): t for t in root.iterchildren(_XS + "complexType")}
        self.elements = {e.get("name"): e for e in root.iterchildren(_XS + "element")}

    def builtins(self, simple_type: etree._Element) -> frozenset[str]:
        names: set[str] = set()
        restriction = simple_type.find(_XS + "restriction")
        while restriction is not None:
            ns, local = _qname(restriction.get("base", ""), restriction)
            if ns == XS_NS:
                names |= _builtin_chain(local)
                break
            restriction = self.simple[local].find(_XS + "restriction") if ns == self.tns else None
        if "integer" in names:
            names |= _INTEGERS
        return frozenset(names)

    def walk(self, element: etree._Element, path: Path, table: dict[Path, frozenset[str]]) -> None:
        """Enter ``element`` and everything below it into ``table``."""
        type_name = element.get("type")
        if type_name is not None:
            ns, local = _qname(type_name, element)
            if ns == XS_NS:
                table[path] = frozenset(_builtin_chain(local) | (_INTEGERS if "integer" in _builtin_chain(local)
                                                                 else set()))
                return
            if local in self.simple:
                table[path] = self.builtins(self.simple[local])
                return
            definition = self.complex[local]
        else:
            inline_simple = element.find(_XS + "simpleType")
            if inline_simple is not None:
                table[path] = self.builtins(inline_simple)
                return
            definition = element.find(_XS + "complexType")
        table[path] = frozenset()  # a complex type derives from no built-in simple type
        for child in definition.iter(_XS + "element"):
            self.walk(child, path + (child.get("name"),), table)


@lru_cache(maxsize=1)
def accepted_types() -> dict[Path, frozenset[str]]:
    """Element path from the message element (``("Zoeken", "request", "Pagina")``) -> the built-in type names an
    ``xsi:type`` on it may name. Built from xsd/wl1.xsd once per process."""
    schema = _Schema(WL1.schema_document.getroot())
    table: dict[Path, frozenset[str]] = {}
    for name in sorted(WL1.message_elements):
        schema.walk(schema.elements[name], (name,), table)
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
