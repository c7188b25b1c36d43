"""The xsi:type table the adapter reads from the XSD with lxml equals what xmlschema, an independent XSD processor,
says each element's type derives from (plus int/long/integer on every integer-valued element, as documented)."""
from __future__ import annotations

import xmlschema
from lxml import etree

from adapter.contracts import WL1
from adapter.wl1 import xsitype

XS = "{http://www.w3.org/2001/XMLSchema}"
UR_TYPES = {"anyType", "anySimpleType", "anyAtomicType"}


def _by_xmlschema() -> dict[tuple[str, ...], frozenset[str]]:
    schema = xmlschema.XMLSchema(str(WL1.xsd))
    table = {}

    def walk(element, path):
        t = element.type
        if not t.is_simple():
            table[path] = frozenset()
            for child in element.iterchildren():
                walk(child, path + (child.local_name,))
            return
        names = set()
        while t is not None:
            if (t.name or "").startswith(XS) and t.name[len(XS):] not in UR_TYPES:
                names.add(t.name[len(XS):])
            t = getattr(t, "base_type", None)
        table[path] = frozenset(names | ({"int", "long", "integer"} if "integer" in names else set()))

    for name in schema.elements:
        walk(schema.elements[name], (name,))
    return table


def test_table_equals_xmlschemas_view_of_the_schema():
    table = xsitype.accepted_types()
    assert table == _by_xmlschema()
    assert table[("GeefMutaties", "request", "VanafVolgnummer")] == {"long", "int", "integer", "decimal"}
    assert table[("VerifieerAccreditatie", "request", "Peildatum")] == {"date"}
    assert table[("Zoeken", "request", "Vestigingsadres")] == frozenset()


def _message(inner: str) -> etree._Element:
    return etree.fromstring(
        '<w:GeefMutaties xmlns:w="urn:sbb:whitelabel:1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><w:request>{inner}</w:request></w:GeefMutaties>')


def test_tolerate_strips_accepted_and_refused_and_reports_only_the_refused():
    message = _message('<w:Licentie xsi:type="xsd:string">k</w:Licentie>'
                       '<w:VanafVolgnummer xsi:type="xsd:boolean">1</w:VanafVolgnummer>'
                       '<w:MaximumAantal xsi:type=" xsd:int ">5</w:MaximumAantal>')
    problems = xsitype.tolerate(message)
    assert [(p.element, "xsd:boolean" in p.reason) for p in problems] == [("VanafVolgnummer", True)]
    assert xsitype.XSI_TYPE not in etree.tostring(message).decode()
    assert WL1.validate(message) == []


def test_an_element_the_schema_does_not_have_is_left_to_the_validator():
    message = _message('<w:Licentie>k</w:Licentie><w:VanafVolgnummer>1</w:VanafVolgnummer>'
                       '<w:Onbekend xsi:type="xsd:string">x</w:Onbekend>')
    assert xsitype.tolerate(message) == []
    assert any(p.element == "Onbekend" for p in WL1.validate(message))
