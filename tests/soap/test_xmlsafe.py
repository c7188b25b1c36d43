"""Hostile XML against the running adapter (shared ``adapter``): XXE, entity expansion, oversize and deeply nested
bodies, over real HTTP (and raw sockets where HTTP clients would be too polite); then ``adapter.soap.xmlsafe.parse``
directly for the edge cases. After every attack the adapter must go on serving a normal call."""
from __future__ import annotations

import os
import re
import socket
import threading
import time
from functools import partial
from pathlib import Path

import pytest
import requests
from lxml import etree

from adapter.errors import XmlRejected
from adapter.soap.xmlsafe import Limits, parse
from tests.support.servers import LICENCE
from tests.support.soap import SOAP_NS, WL1_NS, WL2_NS, envelope, post, wl1_request

pytestmark = pytest.mark.usefixtures("scan")  # each twin of xmlsafe's byte scan (conftest.py)

MIB = 1024 * 1024
PASSWD_MARKER = "root:x:0:0"  # the first line of /etc/passwd on every Linux
DTD_REASON = re.compile(r"DTDs? and entity declarations are not allowed")


def geef_details(licentie: str = LICENCE, code: str = "100001", extra: str = "", prolog: str = "") -> str:
    return wl1_request("GeefDetails", f"<w:CodeLeerbedrijf>{code}</w:CodeLeerbedrijf>{extra}", licence=licentie,
                       prolog=prolog)


# every call here says SOAPAction GeefDetails and gives up after 10 s
post = partial(post, action=f"{WL1_NS}/GeefDetails", timeout=10)


def fault_of(response: requests.Response | bytes) -> tuple[str, str]:
    content = response if isinstance(response, bytes) else response.content
    root = etree.fromstring(content)
    fault = root.find(f"{{{SOAP_NS}}}Body/{{{SOAP_NS}}}Fault")
    assert fault is not None, content[:500]
    return fault.findtext("faultcode"), fault.findtext("faultstring")


def assert_still_serving(adapter, companies) -> None:
    """A normal call succeeds (the attack left the adapter healthy)."""
    company = companies[0]
    r = post(adapter.wl1_url, geef_details(code=company["leerbedrijfId"]))
    assert r.status_code == 200, r.text[:500]
    root = etree.fromstring(r.content)
    assert root.findtext(".//{urn:sbb:whitelabel:1.0}Signaalcode") == "0"
    assert root.findtext(".//{urn:sbb:whitelabel:1.0}CodeLeerbedrijf") == company["leerbedrijfId"]


def _rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (gunicorn master + workers), in KiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


class Listener:
    """A TCP listener on loopback that records whether anybody connected (an XXE fetch would)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


# -- XXE ------------------------------------------------------------------------------------------------------------

XXE_TARGETS = ["file:///etc/passwd", "http://127.0.0.1:1/"]


@pytest.mark.parametrize("target", XXE_TARGETS)
def test_xxe_external_entity_refused_and_nothing_echoed(adapter, companies, target):
    doc = geef_details(licentie="&xxe;",
                       prolog=f'<?xml version="1.0"?>\n<!DOCTYPE foo [<!ENTITY xxe SYSTEM "{target}">]>\n')
    r = post(adapter.wl1_url, doc)
    assert r.status_code == 500
    code, string = fault_of(r)
    assert code == "soap:Client"
    assert DTD_REASON.search(string), string
    assert PASSWD_MARKER not in r.text
    assert PASSWD_MARKER not in adapter.output()
    assert_still_serving(adapter, companies)


def test_xxe_never_fetches_from_the_network(adapter, companies, listener):
    """External general and parameter entities pointing at a live listener: no connection is ever made."""
    url = f"http://127.0.0.1:{listener.port}/evil"
    for prolog in (f'<!DOCTYPE foo [<!ENTITY xxe SYSTEM "{url}">]>',
                   f'<!DOCTYPE foo [<!ENTITY % p SYSTEM "{url}"> %p;]>',
                   f'<!DOCTYPE foo SYSTEM "{url}">'):
        r = post(adapter.wl1_url, geef_details(licentie="&xxe;" if "xxe" in prolog else LICENCE, prolog=prolog))
        assert r.status_code == 500
        assert fault_of(r)[0] == "soap:Client"
        assert DTD_REASON.search(fault_of(r)[1]), fault_of(r)[1]
    time.sleep(0.3)
    assert listener.connections == 0
    assert_still_serving(adapter, companies)


def test_push_endpoint_refuses_xxe(adapter, companies):
    """The WL 2.0 push receiver (/wl2/mutaties) parses through the same hardened parser."""
    doc = envelope("<wl2:MutatieLeerbedrijfRequest><wl2:BerichtID>&xxe;</wl2:BerichtID>"
                   "</wl2:MutatieLeerbedrijfRequest>",
                   prolog='<?xml version="1.0"?>\n<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n',
                   namespaces={"wl2": WL2_NS})
    r = post(f"{adapter.url}/wl2/mutaties", doc)
    assert r.status_code == 500
    code, string = fault_of(r)
    assert code == "soap:Client"
    assert DTD_REASON.search(string), string
    assert PASSWD_MARKER not in r.text
    assert_still_serving(adapter, companies)


def test_utf16_doctype_refused_with_the_dtd_reason(adapter, companies):
    doc = geef_details(prolog='<?xml version="1.0" encoding="UTF-16"?>'
                                          '<!DOCTYPE foo SYSTEM "file:///etc/passwd">')
    r = post(adapter.wl1_url, doc.encode("utf-16"), headers={"Content-Type": "text/xml; charset=utf-16"})
    assert r.status_code == 500
    assert PASSWD_MARKER not in r.text
    code, string = fault_of(r)
    assert code == "soap:Client"
    assert DTD_REASON.search(string), string


# -- entity expansion -------------------------------------------------------------------------------------------------

def billion_laughs(levels: int = 10) -> str:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, levels)]
    return f'<?xml version="1.0"?>\n<!DOCTYPE lolz [{"".join(entities)}]>\n'


def quadratic_blowup() -> tuple[str, str]:
    return f'<!DOCTYPE q [<!ENTITY a "{"a" * 50_000}">]>', "&a;" * 10_000


@pytest.mark.parametrize("kind", ["billion_laughs", "quadratic"])
def test_entity_expansion_refused_in_bounded_time_and_memory(adapter, companies, kind):
    if kind == "billion_laughs":
        doc = geef_details(licentie="&lol9;", prolog=billion_laughs())
    else:
        prolog, refs = quadratic_blowup()
        doc = geef_details(licentie=refs, prolog=prolog)
    assert len(doc) < MIB  # under the size limit: only the expansion would be large
    before = _rss_kib(adapter.proc.pid)
    started = time.monotonic()
    r = post(adapter.wl1_url, doc)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0
    assert r.status_code == 500
    code, string = fault_of(r)
    assert code == "soap:Client"
    assert DTD_REASON.search(string), string
    assert "lollollol" not in r.text
    assert _rss_kib(adapter.proc.pid) - before < 50 * 1024  # less than 50 MiB grown
    assert_still_serving(adapter, companies)


# -- size ---------------------------------------------------------------------------------------------------------------

def oversize_document(size: int = 2 * MIB) -> bytes:
    """A well-formed SOAP call padded with a long element to ``size`` bytes."""
    head = geef_details(extra="<w:Pad>").split("<w:Pad>")[0] + "<w:Pad>"
    tail = "</w:Pad>" + geef_details(extra="<w:Pad>").split("<w:Pad>")[1]
    return (head + "x" * (size - len(head) - len(tail)) + tail).encode()


def assert_too_large(status: int, body: bytes) -> None:
    assert status == 413
    code, string = fault_of(body)
    assert code == "soap:Client"
    assert "too large" in string and "1048576" in string, string


def test_oversize_body_with_content_length_is_413(adapter, companies):
    data = oversize_document()
    assert len(data) == 2 * MIB
    r = post(adapter.wl1_url, data)
    assert_too_large(r.status_code, r.content)
    assert_still_serving(adapter, companies)


def test_oversize_body_chunked_is_413(adapter, companies):
    data = oversize_document()

    def chunks():  # a generator body: requests sends it with Transfer-Encoding: chunked, no Content-Length
        for i in range(0, len(data), 64 * 1024):
            yield data[i:i + 64 * 1024]

    r = requests.post(adapter.wl1_url, data=chunks(), timeout=10, headers={"Content-Type": "text/xml"})
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in r.request.headers
    assert_too_large(r.status_code, r.content)
    assert_still_serving(adapter, companies)


def test_push_endpoint_oversize_is_413(adapter, companies):
    r = post(f"{adapter.url}/wl2/mutaties", oversize_document())
    assert_too_large(r.status_code, r.content)
    assert_still_serving(adapter, companies)


def raw_exchange(port: int, head: bytes, body: bytes, read_timeout: float = 5.0) -> tuple[int, bytes, float]:
    """Send a request over a plain socket; return (status, body of the first response, seconds until it came)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    started = time.monotonic()
    try:
        sock.sendall(head)
        try:
            sock.sendall(body)
        except OSError:
            pass  # the server may answer and close before it read everything: that is allowed
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        elapsed = time.monotonic() - started
        header, _, rest = data.partition(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", header).group(1))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, rest[:length], elapsed
    finally:
        sock.close()


def _head(path: str, length: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml; charset=utf-8\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode()


def test_lying_content_length_too_large_is_413_without_waiting_for_the_body(adapter, companies):
    """Content-Length claims 2 MiB, only a small (valid) call is sent: refused at once, not after a read timeout."""
    body = geef_details().encode()
    status, answer, elapsed = raw_exchange(adapter.port, _head("/wl1", 2 * MIB), body)
    assert_too_large(status, answer)
    assert elapsed < 1.0
    assert_still_serving(adapter, companies)


def test_lying_content_length_too_small_reads_no_further(adapter, companies):
    """Content-Length says 1000 while 2 MiB follow: the adapter reads 1000 bytes (a truncated envelope, so a
    soap:Client fault), never the 2 MiB, and keeps serving."""
    status, answer, elapsed = raw_exchange(adapter.port, _head("/wl1", 1000), oversize_document())
    assert status == 500
    code, string = fault_of(answer)
    assert code == "soap:Client"
    assert "not well-formed" in string, string
    assert elapsed < 2.0
    assert_still_serving(adapter, companies)


# -- depth --------------------------------------------------------------------------------------------------------------

def nested(depth: int) -> str:
    """A GeefDetails call whose request carries an element nested ``depth`` levels deep."""
    return geef_details(extra="<w:X>" * depth + "</w:X>" * depth)


@pytest.mark.parametrize("depth", [50, 10_000])
def test_deep_nesting_refused_and_service_keeps_serving(adapter, companies, depth):
    started = time.monotonic()
    r = post(adapter.wl1_url, nested(depth))
    assert time.monotonic() - started < 1.0
    assert r.status_code == 500
    code, string = fault_of(r)
    assert code == "soap:Client"
    assert "depth" in string.lower() or "deeper" in string.lower(), string
    assert_still_serving(adapter, companies)


def test_depth_50_fault_names_the_configured_limit(adapter):
    string = fault_of(post(adapter.wl1_url, nested(50)))[1]
    assert string == "message nested deeper than 32 levels"


def test_depth_10000_fault_names_the_configured_limit(adapter):
    string = fault_of(post(adapter.wl1_url, nested(10_000)))[1]
    assert string == "message nested deeper than 32 levels"


def test_push_endpoint_refuses_deep_nesting(adapter, companies):
    doc = envelope("<x>" * 50 + "</x>" * 50)
    r = post(f"{adapter.url}/wl2/mutaties", doc)
    assert r.status_code == 500
    code, string = fault_of(r)
    assert code == "soap:Client"
    assert "deeper than 32" in string, string
    assert_still_serving(adapter, companies)


# -- adapter.soap.xmlsafe.parse directly --------------------------------------------------------------------------------

def rejected(data: bytes, limits: Limits = Limits()) -> XmlRejected:
    with pytest.raises(XmlRejected) as info:
        parse(data, limits)
    return info.value


def test_parse_accepts_plain_xml_with_bom_comments_and_pis():
    root = parse(b"\xef\xbb\xbf<?xml version='1.0'?><a><!-- c --><?pi x?><b>t</b></a>")
    assert root.tag == "a"
    assert [c.tag for c in root] == ["b"]  # comments and PIs removed


def test_parse_size_limit_is_exact():
    limits = Limits(max_bytes=100)
    doc = b"<a>" + b"x" * 93 + b"</a>"
    assert len(doc) == 100
    assert parse(doc, limits).text == "x" * 93
    err = rejected(b"<a>" + b"x" * 94 + b"</a>", limits)
    assert err.http_status == 413
    assert "101 bytes" in err.reason and "100" in err.reason


@pytest.mark.parametrize("data", [b"", b"   \n\t "])
def test_parse_empty(data):
    err = rejected(data)
    assert err.http_status == 500
    assert "empty" in err.reason


def test_parse_depth_limit_is_exact():
    limits = Limits(max_depth=5)
    assert parse(b"<a>" * 5 + b"</a>" * 5, limits) is not None
    err = rejected(b"<a>" * 6 + b"</a>" * 6, limits)
    assert err.reason == "message nested deeper than 5 levels"
    assert parse(b"<a>" * 32 + b"</a>" * 32) is not None  # the default limit, 32
    assert rejected(b"<a>" * 33 + b"</a>" * 33).reason == "message nested deeper than 32 levels"


@pytest.mark.parametrize("doc", [
    b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
    b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
    b'<!DOCTYPE a SYSTEM "http://127.0.0.1:1/a.dtd"><a/>',
    b'<!DOCTYPE a><a/>',
    b'<!DOCTYPE a [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><a/>',
    billion_laughs().encode() + b"<a>&lol9;</a>",
])
def test_parse_refuses_every_dtd(doc):
    started = time.monotonic()
    err = rejected(doc)
    assert time.monotonic() - started < 0.5
    assert DTD_REASON.search(err.reason), err.reason
    assert PASSWD_MARKER not in err.reason


def test_parse_undeclared_entity_is_not_well_formed():
    err = rejected(b"<a>&xxe;</a>")
    assert err.reason.startswith("not well-formed XML:") and "xxe" in err.reason


def test_parse_syntax_error_names_the_line():
    err = rejected(b"<a>\n<b></a>")
    assert err.reason.startswith("not well-formed XML:")
    assert "line 2" in err.reason


def test_parse_xinclude_is_not_processed():
    root = parse(b'<a xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/passwd" '
                 b'parse="text"/></a>')
    assert PASSWD_MARKER not in etree.tostring(root).decode()


def test_parse_utf16_internal_subset_refused():
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'
    err = rejected(doc.encode("utf-16"))
    assert DTD_REASON.search(err.reason), err.reason
    assert PASSWD_MARKER not in err.reason


@pytest.mark.parametrize("target", ["file:///etc/passwd", "http://127.0.0.1:1/x.dtd"])
def test_parse_utf16_external_subset_refused_with_the_dtd_reason(target):
    """An existing file must get the same answer as a missing one (else the fault tells which files exist)."""
    doc = f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a SYSTEM "{target}"><a/>'
    err = rejected(doc.encode("utf-16"))
    assert DTD_REASON.search(err.reason), err.reason


def test_parse_utf16_external_subset_missing_file_refused():
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a SYSTEM "/nonexistent/x.dtd"><a/>'
    err = rejected(doc.encode("utf-16"))
    assert DTD_REASON.search(err.reason), err.reason


def test_parse_utf16_billion_laughs_refused_with_the_dtd_reason():
    doc = billion_laughs().replace('version="1.0"', 'version="1.0" encoding="UTF-16"') + "<a>&lol9;</a>"
    started = time.monotonic()
    err = rejected(doc.encode("utf-16"))
    assert time.monotonic() - started < 0.5
    assert DTD_REASON.search(err.reason), err.reason


def test_parse_does_not_touch_the_local_file_system(tmp_path):
    """A DTD naming a local file: refused before the file is opened (its access time does not move)."""
    dtd = tmp_path / "x.dtd"
    dtd.write_text('<!ENTITY e "SECRET">')
    os.utime(dtd, (1_000_000, 1_000_000))
    err = rejected(f'<!DOCTYPE a SYSTEM "{dtd}"><a>&e;</a>'.encode())
    assert DTD_REASON.search(err.reason)
    assert "SECRET" not in err.reason
    assert dtd.stat().st_atime == 1_000_000
