"""`wl-adapter audit`: an integration tester reads one call's four messages from the adapter's log."""
from tests.support.servers import LICENCE, wl_adapter
from tests.support.soap import post, wl1_request


def _audit(*args: str):
    return wl_adapter("audit", *args, timeout=60)


def test_one_line_per_call_and_one_call_in_full(adapter, companies):
    company = companies[3]
    request = wl1_request("GeefDetails", f"<w:CodeLeerbedrijf>{company['leerbedrijfId']}</w:CodeLeerbedrijf>",
                          prolog="")
    r = post(adapter.wl1_url, request, {"Content-Type": "text/xml"}, timeout=10)
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
