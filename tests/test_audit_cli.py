"""`wl-adapter audit`: an integration tester reads one call's four messages from the adapter's log."""
import subprocess
import sys

import requests
from conftest import LICENCE
from helpers import ROOT


def _audit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "adapter", "audit", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_one_line_per_call_and_one_call_in_full(adapter, companies):
    company = companies[3]
    body = f"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<GeefDetails xmlns="urn:sbb:whitelabel:1.0"><request><Licentie>{LICENCE}</Licentie>
<CodeLeerbedrijf>{company["leerbedrijfId"]}</CodeLeerbedrijf></request></GeefDetails></soap:Body></soap:Envelope>"""
    r = requests.post(adapter.wl1_url, data=body.encode(), headers={"Content-Type": "text/xml"}, timeout=10)
    cid = r.headers["X-Correlation-ID"]
    log = str(adapter.log)

    listing = _audit(log, "--operation", "GeefDetails")
    assert listing.returncode == 0
    line = next(x for x in listing.stdout.splitlines() if cid in x)
    assert "ROC Test GeefDetails HTTP 200 signaalcode 0" in line and "OpvragenDetailgegevensLeerbedrijf" in line

    shown = _audit(log, "--correlation-id", cid)
    assert shown.returncode == 0
    out = shown.stdout
    order = [out.index(h) for h in ("1. WL 1.0 request", "2.1 WL 2.0 request", "3.1 WL 2.0 response",
                                    "4. WL 1.0 answer")]
    assert order == sorted(order)
    assert company["leerbedrijfId"] in out and "wsa:MessageID urn:uuid:" in out
    assert LICENCE not in out and company["naam"] not in out  # masked in the log, so masked here

    assert _audit(log, "--correlation-id", "no-such-call-0000").returncode == 1
