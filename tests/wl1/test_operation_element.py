"""What a client puts on the operation element is judged by the adapter's own validation against the frozen XSD,
never by spyne's internals: ``xsi:nil`` and ``xsi:type`` there used to break spyne's deserialiser (TypeError,
AssertionError) and came back as soap:Server "Internal Error". Now they are soap:Client faults naming the problem,
with the same words as ``wl-adapter validate``. Runs against the session ``adapter`` over HTTP.
"""
from __future__ import annotations

import re

import pytest
import requests
from lxml import etree

from tests.support.servers import LICENCE, ROOT

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OPERATIONS = ("GeefBedrijfsgegevens", "VerifieerAccreditatie", "Zoeken", "GeefDetails", "GeefMutaties")


def request_with(operation: str, op_attrs: str, request_attrs: str = "") -> bytes:
    """The shipped example request of ``operation``, with our licence and extra attributes on its elements."""
    text = (ROOT / "examples" / "wl1" / operation / "request.xml").read_text(encoding="utf-8")
    text = re.sub(r"<Licentie>[^<]*</Licentie>", f"<Licentie>{LICENCE}</Licentie>", text)
    decls = f' xmlns:xsi="{XSI}" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
    text = text.replace(f'<{operation} xmlns="urn:sbb:whitelabel:1.0"',
                        f'<{operation} xmlns="urn:sbb:whitelabel:1.0"{decls} {op_attrs}', 1)
    text = text.replace("<request>", f"<request {request_attrs}>", 1)
    return text.encode("utf-8")


def post(adapter, data: bytes) -> tuple[int, tuple[str, str] | None]:
    r = requests.post(adapter.wl1_url, data=data, timeout=10, headers={"Content-Type": "text/xml; charset=utf-8"})
    body = etree.fromstring(r.content).find(f"{{{SOAP_NS}}}Body")
    fault = body.find(f"{{{SOAP_NS}}}Fault")
    return r.status_code, (fault.findtext("faultcode"), fault.findtext("faultstring")) if fault is not None else None


@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_examples_are_answered_without_extra_attributes(adapter, operation):
    status, fault = post(adapter, request_with(operation, ""))
    assert status == 200 and fault is None, fault


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("nil", ["true", "false", "1", "0"])
def test_xsi_nil_on_the_operation_element_is_a_client_fault(adapter, operation, nil):
    status, fault = post(adapter, request_with(operation, f'xsi:nil="{nil}"'))
    assert status == 500
    assert fault == ("soap:Client", f"the request does not match the WL 1.0 schema: {operation}: "
                                    "The element is not 'nillable'"), fault


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("xsi_type", ["xsd:string", "xsd:anyType", "xsd:int", "undeclared:T", "Nothing"])
def test_xsi_type_on_the_operation_element_is_a_client_fault(adapter, operation, xsi_type):
    status, fault = post(adapter, request_with(operation, f'xsi:type="{xsi_type}"'))
    assert status == 500
    code, string = fault
    assert code == "soap:Client", fault
    assert string.startswith(f"the request does not match the WL 1.0 schema: {operation}"), string
    assert "type" in string, string  # names the xsi:type attribute (GeefDetails/@type: ...)


@pytest.mark.parametrize("operation", ["GeefDetails", "Zoeken"])
def test_xsi_nil_on_the_request_element_is_a_client_fault(adapter, operation):
    status, fault = post(adapter, request_with(operation, "", 'xsi:nil="true"'))
    assert status == 500
    code, string = fault
    assert code == "soap:Client" and "request" in string, fault


@pytest.mark.parametrize("attrs", ['foo="1"', 'soap:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" '
                                                f'xmlns:soap="{SOAP_NS}"', 'id="x" href="#y"'])
def test_other_attributes_on_the_operation_element_are_named(adapter, attrs):
    status, fault = post(adapter, request_with("GeefDetails", attrs))
    assert status == 500
    code, string = fault
    assert code == "soap:Client"
    assert re.search(r"GeefDetails/@\w+: The attribute '\w+' is not allowed", string), string
