"""End-to-end benchmark: the adapter (WL 1.0 -> WL 2.0 -> WL 1.0) against calling the simulator directly.

Both servers run here on loopback; the figures that matter are the ratios, measured in the same run:
  adapter throughput / direct throughput, and adapter latency - direct latency (the adapter's own cost).
Usage: .venv/bin/python bench/run.py [--seconds 5] [--leerbedrijven 2000] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: tests.support
sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import run  # noqa: E402

from adapter.simulator import DEFAULT_OIN  # noqa: E402
from tests.support.servers import LICENCE, SCHOOL_OIN, AdapterServer, start_simulator_process  # noqa: E402

WL2_BODY = """<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:wsa="http://www.w3.org/2005/08/addressing"><soap:Header>
<wsa:Action>urn:sbb:whitelabel:2.0/VerifieerAccreditatie</wsa:Action>
<wsa:MessageID>urn:uuid:{msgid}</wsa:MessageID>
<wsa:To>{url}?oin={sbb}</wsa:To>
<wsa:From><wsa:Address>http://www.w3.org/2005/08/addressing/anonymous?oin={school}</wsa:Address></wsa:From>
</soap:Header><soap:Body><VerifieerAccreditatieRequest xmlns="urn:sbb:whitelabel:2.0">
<BerichtID>{msgid}</BerichtID><LeerbedrijfId>{lid}</LeerbedrijfId><Crebonummer>{crebo}</Crebonummer>
<Startdatum>2026-11-29</Startdatum></VerifieerAccreditatieRequest></soap:Body></soap:Envelope>"""

WL1_BODY = """<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<VerifieerAccreditatie xmlns="urn:sbb:whitelabel:1.0"><request><Licentie>{licence}</Licentie>
<CodeLeerbedrijf>{lid}</CodeLeerbedrijf><Crebonummer>{crebo}</Crebonummer><Peildatum>2026-11-29</Peildatum>
</request></VerifieerAccreditatie></soap:Body></soap:Envelope>"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--leerbedrijven", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="wl-bench-"))
    sim = start_simulator_process(tmp / "sim.log", count=args.leerbedrijven)
    adapter = None
    try:
        # subscribe_after_verify off: the benchmark measures the call path, not the subscription side effect
        adapter = AdapterServer(tmp / "adapter", f"{sim.url}/wl2", workers=args.workers,
                                extra="\n[mutations]\nsubscribe_after_verify = false\n",
                                audit_bodies=False)
        with urllib.request.urlopen(f"{sim.url}/admin/leerbedrijven?limit=50") as r:
            company = next(c for c in json.load(r)["leerbedrijven"]
                           if any(e["status"] == "ERKEND" for e in c["erkenningen"]))
        crebo = next(e["crebonummer"] for e in company["erkenningen"] if e["status"] == "ERKEND")
        lid = company["leerbedrijfId"]
        msgid = str(uuid.uuid4())
        wl2 = WL2_BODY.format(msgid=msgid, url=f"{sim.url}/wl2", sbb=DEFAULT_OIN, school=SCHOOL_OIN, lid=lid,
                              crebo=crebo).encode()
        wl1 = WL1_BODY.format(licence=LICENCE, lid=lid, crebo=int(crebo)).encode()
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        # warm up both
        run(f"{sim.url}/wl2", wl2, headers, 2, 1.0, b"Signaalcode>0<")
        run(adapter.wl1_url, wl1, headers, 2, 1.0, b"Signaalcode>0<")
        rows = []
        for c in (1, 16):
            direct = run(f"{sim.url}/wl2", wl2, headers, c, args.seconds, b"Signaalcode>0<")
            via = run(adapter.wl1_url, wl1, headers, c, args.seconds, b"Signaalcode>0<")
            rows.append((c, direct, via))
        print(f"VerifieerAccreditatie, {args.seconds:g} s per run, adapter workers={args.workers}, "
              f"simulator {args.leerbedrijven} companies, loopback, one machine")
        print(f"{'conc':>4} | {'direct req/s':>12} {'p50 ms':>7} {'p99 ms':>7} | {'adapter req/s':>13} {'p50 ms':>7} "
              f"{'p99 ms':>7} | {'thru ratio':>10} {'p50 +ms':>8} {'errors':>6}")
        figures = []
        for c, d, a in rows:
            ratio = a.rps / d.rps if d.rps else float("nan")
            print(f"{c:>4} | {d.rps:>12.0f} {d.p50:>7.2f} {d.pct(99):>7.2f} | {a.rps:>13.0f} {a.p50:>7.2f} "
                  f"{a.pct(99):>7.2f} | {ratio:>9.2f}x {a.p50 - d.p50:>8.2f} {d.errors + a.errors:>6}")
            figures.append({"concurrency": c, "direct_rps": d.rps, "direct_p50_ms": d.p50, "direct_p99_ms": d.pct(99),
                            "adapter_rps": a.rps, "adapter_p50_ms": a.p50, "adapter_p99_ms": a.pct(99),
                            "throughput_ratio": ratio, "errors": d.errors + a.errors})
        if args.json:
            print(json.dumps(figures, indent=1))
    finally:
        if adapter:
            adapter.stop()
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
