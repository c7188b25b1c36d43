"""Serving the frozen contract files: the WSDL unchanged but for soap:address, and the XSDs it imports."""
from __future__ import annotations

import re
from functools import lru_cache
from xml.sax.saxutils import escape

from adapter.contracts import XSD_FILES, wsdl_path, xsd_path

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


def wsdl_for(name: str, location: str, service: str | None = None) -> bytes:
    """The frozen WSDL with its soap:address pointing at ``location``: every address, or only those of the
    ``wsdl:service`` named ``service`` (wl2.wsdl also describes the school's push receiver, which stays as is)."""
    loc = escape(location, {'"': "&quot;"}).encode()
    data = _wsdl_bytes(name)
    start, end = 0, len(data)
    if service is not None:
        start = data.index(b'<wsdl:service name="%s"' % service.encode())
        end = data.index(b"</wsdl:service>", start)
    return data[:start] + _ADDRESS.sub(lambda m: m.group(1) + loc + m.group(2), data[start:end]) + data[end:]


def xsd_name_for(path: str) -> str | None:
    """'/wl1/../xsd/wl1.xsd' style paths: anything ending in /xsd/<known file>."""
    head, sep, name = path.rpartition("/xsd/")
    return name if sep and name in XSD_FILES else None
