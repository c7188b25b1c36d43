"""HTTP as old WL 1.0 clients speak it, written by hand with http.client and raw sockets: every legacy path takes
every operation, HTTP/1.0 without keep-alive, every SOAPAction spelling, a BOM, ISO-8859-1, GET and PUT."""
from __future__ import annotations

import http.client
import socket

import pytest
from lxml import etree

from adapter.serve.routes import LEGACY_PATHS
from tests.support.servers import LICENCE, TODAY
from tests.support.soap import SOAP_NS, WL1_NS, envelope


def request(operation: str, inner: str, encoding: str = "utf-8") -> str:
    """A WL 1.0 request as old clients spell it: the WL 1.0 namespace as default namespace, no prefix."""
    return envelope(f'<{operation} xmlns="{WL1_NS}"><request><Licentie>{LICENCE}</Licentie>{inner}</request>'
                    f"</{operation}>", prolog=f'<?xml version="1.0" encoding="{encoding}"?>')


def requests_for(company: dict) -> dict[str, str]:
    e = next(e for e in company["erkenningen"] if e["status"] == "ERKEND")
    return {
        "GeefBedrijfsgegevens": request("GeefBedrijfsgegevens", f"<Bedrijfsnaam>{company['naam']}</Bedrijfsnaam>"
                                         f"<Postcode>{company['vestigingsadres']['postcode']}</Postcode>"),
        "VerifieerAccreditatie": request("VerifieerAccreditatie", f"<CodeLeerbedrijf>{company['leerbedrijfId']}"
                                          f"</CodeLeerbedrijf><Crebonummer>{int(e['crebonummer'])}</Crebonummer>"
                                          f"<Peildatum>{TODAY}</Peildatum>"),
        "Zoeken": request("Zoeken", "<AantalResultatenPerPagina>3</AantalResultatenPerPagina><Pagina>1</Pagina>"
                           f"<LeerplaatsErkenningAanduiding>E</LeerplaatsErkenningAanduiding>"
                           f"<CodeLeerbedrijf>{company['leerbedrijfId']}</CodeLeerbedrijf>"),
        "GeefDetails": request("GeefDetails", f"<CodeLeerbedrijf>{company['leerbedrijfId']}</CodeLeerbedrijf>"),
        "GeefMutaties": request("GeefMutaties", "<VanafVolgnummer>0</VanafVolgnummer>"),
    }


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


@pytest.fixture(scope="module")
def company(companies) -> dict:
    return next(c for c in companies if any(e["status"] == "ERKEND" for e in c["erkenningen"])
                and "&" not in c["naam"])


def send(adapter, path: str, body: bytes, headers: dict | None = None, method: str = "POST"):
    conn = http.client.HTTPConnection("127.0.0.1", adapter.port, timeout=30)
    try:
        hdrs = {"Content-Type": "text/xml; charset=utf-8"} if headers is None else headers
        conn.request(method, path, body=body, headers=hdrs)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def result(data: bytes, operation: str) -> etree._Element:
    root = etree.fromstring(data)
    found = root.find(f"{{{SOAP_NS}}}Body/{{{WL1_NS}}}{operation}Response/{{{WL1_NS}}}{operation}Result")
    assert found is not None, data.decode(errors="replace")
    return found


def code_of(data: bytes, operation: str) -> int:
    return int(result(data, operation).findtext(f"{{{WL1_NS}}}Signaalcode"))


def spellings(path: str) -> list[str]:
    return [path, path.upper(), path + "/"] if path != "/wl1" else [path, "/WL1", "/wl1/"]


@pytest.mark.parametrize("path", LEGACY_PATHS)
def test_every_legacy_path_accepts_every_operation(adapter, company, path):
    for operation, body in requests_for(company).items():
        status, headers, data = send(adapter, path, body.encode(), {
            "Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"urn:sbb:whitelabel:1.0/{operation}"'})
        assert status == 200, (path, operation, data[:300])
        assert code_of(data, operation) == 0, (path, operation, data[:500])
    for spelling in spellings(path)[1:]:
        status, _headers, data = send(adapter, spelling, requests_for(company)["GeefMutaties"].encode())
        assert status == 200, (spelling, data[:300])
        assert code_of(data, "GeefMutaties") == 0


def test_the_answer_is_the_right_companys(adapter, company):
    status, _h, data = send(adapter, "/webservices/whitelabel/ws_vacaturedetails.asmx",
                            requests_for(company)["GeefDetails"].encode())
    r = result(data, "GeefDetails")
    assert r.findtext(f"{{{WL1_NS}}}CodeLeerbedrijf") == company["leerbedrijfId"]
    assert r.findtext(f"{{{WL1_NS}}}Naam") == company["naam"]


def _raw_http(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break  # the server closes the connection: HTTP/1.0 without keep-alive
            chunks.append(chunk)
    return b"".join(chunks)


def test_http10_client_gets_a_complete_answer(adapter, company):
    for operation in ("GeefDetails", "Zoeken"):
        body = requests_for(company)[operation].encode()
        raw = _raw_http(adapter.port, b"POST /wl1 HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                                      b"Content-Type: text/xml; charset=utf-8\r\n"
                                      b'SOAPAction: "urn:sbb:whitelabel:1.0/' + operation.encode() + b'"\r\n'
                                      b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        head, sep, payload = raw.partition(b"\r\n\r\n")
        assert sep, raw[:300]
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        assert status_line.split()[1] == "200", status_line
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
        assert "chunked" not in headers.get("transfer-encoding", ""), "an HTTP/1.0 client cannot read chunks"
        if "content-length" in headers:
            assert int(headers["content-length"]) == len(payload)
        assert code_of(payload, operation) == 0


@pytest.mark.parametrize("soap_action", ['"urn:sbb:whitelabel:1.0/GeefDetails"', "urn:sbb:whitelabel:1.0/GeefDetails",
                                         '""', "", None, '"urn:sbb:whitelabel:1.0/Zoeken"'],
                         ids=["quoted", "unquoted", "quoted-empty", "empty", "absent", "other-operation"])
def test_soap_action_spellings(adapter, company, soap_action):
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if soap_action is not None:
        headers["SOAPAction"] = soap_action
    status, _h, data = send(adapter, "/wl1", requests_for(company)["GeefDetails"].encode(), headers)
    assert status == 200, data[:400]
    r = result(data, "GeefDetails")  # dispatched by the body element, whatever the header says
    assert r.findtext(f"{{{WL1_NS}}}CodeLeerbedrijf") == company["leerbedrijfId"]


def test_no_content_type_still_works(adapter, company):
    status, _h, data = send(adapter, "/wl1", requests_for(company)["GeefMutaties"].encode(), headers={})
    assert status == 200, data[:400]
    assert code_of(data, "GeefMutaties") == 0


def test_utf8_bom_before_declaration(adapter, company):
    body = b"\xef\xbb\xbf" + requests_for(company)["GeefDetails"].encode()
    status, _h, data = send(adapter, "/wl1", body)
    assert status == 200, data[:400]
    assert result(data, "GeefDetails").findtext(f"{{{WL1_NS}}}Naam") == company["naam"]


@pytest.fixture(scope="module")
def accented(companies) -> dict:
    return next(c for c in companies if not c["naam"].isascii() and "&" not in c["naam"]
                and any(e["status"] == "ERKEND" for e in c["erkenningen"]))


@pytest.mark.parametrize("charset_header", [True, False], ids=["charset-in-header", "declaration-only"])
def test_iso_8859_1_request_with_non_ascii_name(adapter, accented, charset_header):
    pc = accented["vestigingsadres"]["postcode"]
    body = request("GeefBedrijfsgegevens", f"<Bedrijfsnaam>{escape(accented['naam'])}</Bedrijfsnaam>"
                                            f"<Postcode>{pc}</Postcode>", encoding="ISO-8859-1").encode("latin-1")
    assert not body.isascii()
    ctype = "text/xml; charset=ISO-8859-1" if charset_header else "text/xml"
    status, _h, data = send(adapter, "/wl1", body, {"Content-Type": ctype})
    assert status == 200, data[:500]
    r = result(data, "GeefBedrijfsgegevens")
    assert r.findtext(f"{{{WL1_NS}}}Signaalcode") == "0", data[:500]
    names = [b.findtext(f"{{{WL1_NS}}}Bedrijfsnaam") for b in r.iter(f"{{{WL1_NS}}}Bedrijf")]
    codes = [b.findtext(f"{{{WL1_NS}}}CodeLeerbedrijf") for b in r.iter(f"{{{WL1_NS}}}Bedrijf")]
    assert accented["leerbedrijfId"] in codes
    assert accented["naam"] in names  # and the answer carries the accent intact (UTF-8)


def test_get_without_wsdl_is_helpful(adapter):
    for path in ("/wl1", "/webservices/whitelabel/ws_accreditatie.asmx"):
        status, headers, data = send(adapter, path, None, {}, method="GET")
        assert status == 200
        text = data.decode()
        assert "wsdl" in text.lower() and path in text


def test_put_is_a_fault_not_a_stack_trace(adapter):
    status, headers, data = send(adapter, "/wl1", b"<x/>", method="PUT")
    assert status in (405, 500)
    assert b"Fault" in data and b"soap:Client" in data
    assert b"Traceback" not in data and b".py" not in data
    assert "xml" in headers.get("Content-Type", "")


def test_keep_alive_connection_serves_several_calls(adapter, company):
    conn = http.client.HTTPConnection("127.0.0.1", adapter.port, timeout=30)
    try:
        for operation, body in requests_for(company).items():
            conn.request("POST", "/wl1", body=body.encode(), headers={"Content-Type": "text/xml; charset=utf-8"})
            response = conn.getresponse()
            data = response.read()
            assert response.status == 200 and code_of(data, operation) == 0
    finally:
        conn.close()
