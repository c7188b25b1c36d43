"""Serving the frozen contract files. The WL 1.0 face serves them as the original ASMX service did: ``?wsdl`` is
ONE self-contained document (``single_wsdl_for``); the simulator serves wl2.wsdl as the file is (``wsdl_for``).

The files under wsdl/ and xsd/ stay the source of truth (``wl-adapter validate`` and the tests read them). What a
client downloads is built from them once per process: the WSDL with its ``xs:import`` of ``../xsd/wl1.xsd``
replaced by that schema itself, inline in ``wsdl:types``. Some client generators resolve a relative
``schemaLocation`` against the host instead of the WSDL's URL and then cannot find the schema; ASMX never made them
try. Per request only the ``soap:address``/``soap12:address`` locations are filled in (the address the client
used), by joining pre-split bytes, so serving costs no XML work. The XSD files stay available at the relative path
for clients that cached the old two-document form. ``?disco`` answers a DISCO document as ASMX did.
"""
from __future__ import annotations

import re
from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from adapter import ns
from adapter.contracts import WL1_NS, XSD_FILES, wsdl_path, xsd_path

XS_NS = ns.XSD
WSDL_NS = ns.WSDL
SOAP_BINDING_NS = (ns.WSDL_SOAP11, ns.WSDL_SOAP12)
_PLACEHOLDER = "urn:wl-adapter:address-placeholder"
_SAFE = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False, remove_blank_text=False)


def _parse_file(path) -> etree._ElementTree:
    return etree.parse(str(path), _SAFE)


def _inline_imports(types: etree._Element) -> dict[str, bytes]:
    """Replace each ``xs:schema`` that only imports packaged XSDs by a marker; returns marker -> that schema.

    The schemas are spliced in as bytes after serialisation, so each keeps its own namespace declarations: QNames
    in attribute values (``type="tns:Adres"``) need ``tns`` declared on the schema element itself when a client
    cuts the schema out of the WSDL, and lxml would drop declarations that the WSDL root already makes."""
    inlined: dict[str, bytes] = {}
    for schema in list(types):
        if not isinstance(schema.tag, str) or schema.tag != f"{{{XS_NS}}}schema":
            continue
        located = [i for i in schema.findall(f"{{{XS_NS}}}import") if i.get("schemaLocation")]
        if not located or len(located) != len(schema):
            continue  # a schema with content of its own stays as it is
        index = types.index(schema)
        types.remove(schema)
        for offset, imp in enumerate(located):
            name = imp.get("schemaLocation").rpartition("/")[2]
            source = _parse_file(xsd_path(name)).getroot()
            if source.find(f"{{{XS_NS}}}import") is not None or source.find(f"{{{XS_NS}}}include") is not None:
                raise ValueError(f"{name} imports or includes another schema: it cannot be inlined alone")
            marker = f"INLINE-SCHEMA {name}"
            comment = etree.Comment(marker)
            comment.tail = "\n  "
            types.insert(index + offset, comment)
            inlined[f"<!--{marker}-->"] = etree.tostring(source, encoding="utf-8")
    return inlined


def single_document(name: str) -> bytes:
    """The WSDL ``name`` with every imported schema inline, addresses as in the file."""
    root = _parse_file(wsdl_path(name)).getroot()
    types = root.find(f"{{{WSDL_NS}}}types")
    inlined = _inline_imports(types) if types is not None else {}
    data = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    for marker, schema in inlined.items():
        data = data.replace(marker.encode(), schema)
    etree.fromstring(data, _SAFE)  # still well-formed: fail at start, not in a client
    return data


@lru_cache(maxsize=None)
def _wsdl_parts(name: str) -> tuple[bytes, ...]:
    """The served document split at each address location, built once (the files never change at run time)."""
    root = etree.fromstring(single_document(name), _SAFE)
    for binding_ns in SOAP_BINDING_NS:
        for address in root.iter(f"{{{binding_ns}}}address"):
            address.set("location", _PLACEHOLDER)
    data = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return tuple(data.split(_PLACEHOLDER.encode()))


_ADDRESS = re.compile(rb'(<soap:address\s+location=")[^"]*(")')


@lru_cache(maxsize=None)
def _wsdl_bytes(name: str) -> bytes:
    return wsdl_path(name).read_bytes()


@lru_cache(maxsize=None)
def xsd_bytes(name: str) -> bytes | None:
    return xsd_path(name).read_bytes() if name in XSD_FILES else None


_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def request_base_url(environ: dict) -> str:
    """scheme://host[:port] as the client used it, honouring X-Forwarded-Proto / X-Forwarded-Host. A host that is
    not a host name (or IP) and port is ignored, so no header can break the WSDL."""
    scheme = (environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme") or "http").split(",")[0].strip()
    if scheme not in ("http", "https"):
        scheme = environ.get("wsgi.url_scheme") or "http"
    host = (environ.get("HTTP_X_FORWARDED_HOST") or environ.get("HTTP_HOST") or "").split(",")[0].strip()
    if not _HOST.match(host):
        host = ""
    if not host:
        host = environ.get("SERVER_NAME", "localhost")
        port = environ.get("SERVER_PORT", "")
        if port and port not in ("80", "443"):
            host += f":{port}"
    return f"{scheme}://{host}"


def single_wsdl_for(name: str, location: str) -> bytes:
    """The self-contained WSDL with every port's address pointing at ``location``."""
    return escape(location, {'"': "&quot;"}).encode().join(_wsdl_parts(name))


def wsdl_for(name: str, location: str, service: str | None = None) -> bytes:
    """The frozen WSDL file with its soap:address pointing at ``location``: every address, or only those of the
    ``wsdl:service`` named ``service`` (wl2.wsdl also describes the school's push receiver, which stays as is)."""
    loc = escape(location, {'"': "&quot;"}).encode()
    data = _wsdl_bytes(name)
    start, end = 0, len(data)
    if service is not None:
        start = data.index(b'<wsdl:service name="%s"' % service.encode())
        end = data.index(b"</wsdl:service>", start)
    return data[:start] + _ADDRESS.sub(lambda m: m.group(1) + loc + m.group(2), data[start:end]) + data[end:]


def disco_for(location: str) -> bytes:
    """A DISCO document (as ASMX answered ``?disco``): where the WSDL is and both SOAP bindings' address."""
    wsdl, address = quoteattr(location + "?wsdl"), quoteattr(location)
    tns = quoteattr(WL1_NS)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<discovery xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.xmlsoap.org/disco/">\n'
        f'  <contractRef ref={wsdl} docRef={address} xmlns="http://schemas.xmlsoap.org/disco/scl/"/>\n'
        f'  <soap address={address} xmlns:q1={tns} binding="q1:WhiteLabelSoap" '
        'xmlns="http://schemas.xmlsoap.org/disco/soap/"/>\n'
        f'  <soap address={address} xmlns:q2={tns} binding="q2:WhiteLabelSoap12" '
        'xmlns="http://schemas.xmlsoap.org/disco/soap/"/>\n'
        '</discovery>\n'
    ).encode("utf-8")


def xsd_name_for(path: str) -> str | None:
    """'/wl1/../xsd/wl1.xsd' style paths: anything ending in /xsd/<known file>."""
    head, sep, name = path.rpartition("/xsd/")
    return name if sep and name in XSD_FILES else None
