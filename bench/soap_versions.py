"""In-process cost of one WL 1.0 call on the face, per SOAP version: what serving SOAP 1.2 next to 1.1 (and the
xsi:type tolerance) costs a SOAP 1.1 caller. No network, no WL 2.0 and no store: GeefMutaties with a licence no
school has is answered 996 by the pipeline, so what is measured is routing, content negotiation, spyne, parsing,
the xsi:type pass, the licence check, serialisation and the answer's validation (a store write would dominate and
drown the difference in noise).

Figures are µs per call and ratios against plain SOAP 1.1 in the same run. Run it against another checkout's code
to compare before/after: PYTHONPATH=/path/to/other/checkout .venv/bin/python bench/soap_versions.py (the SOAP 1.2
rows are skipped where that code has no SOAP 1.2).
Usage: .venv/bin/python bench/soap_versions.py [--calls 3000] [--rounds 5]
"""
from __future__ import annotations

import argparse
import gc
import io
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: tests.support

from adapter.config import load_config  # noqa: E402
from adapter.serve.build import Adapter  # noqa: E402
from tests.support.servers import write_config  # noqa: E402

WL1 = "urn:sbb:whitelabel:1.0"
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'


def body(env_ns: str, typed: bool) -> bytes:
    t = (' xsi:type="xsd:string"', ' xsi:type="xsd:long"', ' xsi:type="xsd:int"') if typed else ("", "", "")
    return (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{env_ns}" {XSI}><soap:Body>'
            f'<GeefMutaties xmlns="{WL1}"><request><Licentie{t[0]}>bench-no-such-licence</Licentie>'
            f"<VanafVolgnummer{t[1]}>1000000</VanafVolgnummer><MaximumAantal{t[2]}>10</MaximumAantal></request>"
            f"</GeefMutaties></soap:Body></soap:Envelope>").encode()


CASES = {
    "SOAP 1.1": ("text/xml; charset=utf-8", body("http://schemas.xmlsoap.org/soap/envelope/", False)),
    "SOAP 1.1 + xsi:type": ("text/xml; charset=utf-8", body("http://schemas.xmlsoap.org/soap/envelope/", True)),
    "SOAP 1.2": ('application/soap+xml; charset=utf-8; action="urn:sbb:whitelabel:1.0/GeefMutaties"',
                 body("http://www.w3.org/2003/05/soap-envelope", False)),
}


def call(app, content_type: str, data: bytes) -> str:
    seen: dict[str, str] = {}
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/wl1", "QUERY_STRING": "", "CONTENT_TYPE": content_type,
               "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data), "wsgi.url_scheme": "http",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "HTTP_HOST": "127.0.0.1:8080"}
    b"".join(app(environ, lambda status, headers, exc=None: seen.setdefault("status", status)))
    return seen["status"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as tmp:  # no fsync cost
        path = write_config(Path(tmp) / "a.toml", "http://127.0.0.1:9/wl2", f"sqlite:///{tmp}/s.sqlite", 8080)
        config = load_config(path)
        adapter = Adapter(config)
        logging.getLogger("wl_adapter.audit").setLevel(logging.WARNING)  # the audit line is not what we measure
        gc.collect()
        gc.freeze()  # as `wl-adapter serve` does before forking its workers
        cases = {name: c for name, c in CASES.items() if call(adapter.wsgi, *c).startswith("200")}
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, (content_type, data) in cases.items():
                started = time.perf_counter()
                for _ in range(args.calls):
                    call(adapter.wsgi, content_type, data)
                samples[name].append((time.perf_counter() - started) / args.calls * 1e6)
        # the fastest round: on a shared machine the others measure the neighbours as much as the code
        base = min(samples["SOAP 1.1"])
        print(f"adapter code: {sys.modules['adapter'].__file__}")
        for name, values in samples.items():
            us = min(values)
            print(f"{name:22s} {us:7.0f} µs/call  ({us / base:.2f}× SOAP 1.1)  rounds: "
                  + " ".join(f"{v:.0f}" for v in values))


if __name__ == "__main__":
    main()
