"""Which WSGI server to run the adapter under: the same adapter application, against the same simulator, under
gunicorn (gthread and gevent, 1 and 2 workers) and waitress (1 process), measured in one run. Prints req/s and
p50/p99 at concurrency 1 and 16, as ratios against gunicorn gthread with 1 worker.
Usage: .venv/bin/python bench/wsgi_servers.py [--seconds 4]   (needs waitress: pip install waitress)
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # the project root (tests.support) and bench/

from loadgen import run  # noqa: E402
from run import WL1_BODY  # noqa: E402

from tests.support.servers import LICENCE, ROOT, free_port, start_simulator_process, write_config  # noqa: E402

WAITRESS = """
import sys, waitress
from adapter.config import load_config
from adapter.serve.build import Adapter
a = Adapter(load_config(sys.argv[1])); a.after_fork()
waitress.serve(a.wsgi, host="127.0.0.1", port=int(sys.argv[2]), threads=32, _quiet=True)
"""


def _wait(url: str, proc) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not ready")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=4.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wl-wsgi-"))
    sim = start_simulator_process(tmp / "sim.log", count=2000)
    try:
        with urllib.request.urlopen(f"{sim.url}/admin/leerbedrijven?limit=50") as r:
            company = next(c for c in json.load(r)["leerbedrijven"]
                           if any(e["status"] == "ERKEND" for e in c["erkenningen"]))
        crebo = next(e["crebonummer"] for e in company["erkenningen"] if e["status"] == "ERKEND")
        body = WL1_BODY.format(licence=LICENCE, lid=company["leerbedrijfId"], crebo=int(crebo)).encode()
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        setups = {  # the test configuration's [server] has threads = 16
            "gunicorn gthread, 1 worker x 16 threads": ("serve", 1, 'worker = "gthread"'),
            "gunicorn gthread, 2 workers x 16 threads": ("serve", 2, 'worker = "gthread"'),
            "gunicorn gevent, 1 worker": ("serve", 1, 'worker = "gevent"'),
            "gunicorn gevent, 2 workers": ("serve", 2, 'worker = "gevent"'),
            "waitress, 1 process x 32 threads": ("waitress", 1, ""),
        }
        results: dict[str, dict] = {}
        for name, (kind, workers, server) in setups.items():
            port = free_port()
            config = write_config(tmp / f"{kind}{workers}{len(results)}.toml", f"{sim.url}/wl2",
                                  f"sqlite:///{tmp}/s{port}.db", port,
                                  "\n[mutations]\nsubscribe_after_verify = false\n", workers, audit_bodies=False,
                                  server=server)
            cmd = ([sys.executable, "-m", "adapter", "serve", "--config", str(config)] if kind == "serve"
                   else [sys.executable, "-c", WAITRESS, str(config), str(port)])
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                _wait(f"http://127.0.0.1:{port}/healthz", proc)
                url = f"http://127.0.0.1:{port}/wl1"
                run(url, body, headers, 2, 1.0, b"Signaalcode>0<")
                results[name] = {c: run(url, body, headers, c, args.seconds, b"Signaalcode>0<") for c in (1, 16)}
            finally:
                proc.terminate()
                proc.wait(10)
        base = next(iter(results.values()))
        print(f"adapter VerifieerAccreditatie under each WSGI server, {args.seconds:g} s per run, same simulator")
        print(f"{'server':<42} {'conc':>4} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'vs first':>8} {'errors':>6}")
        for name, per_c in results.items():
            for c, r in per_c.items():
                print(f"{name:<42} {c:>4} {r.rps:>7.0f} {r.p50:>7.2f} {r.pct(99):>7.2f} "
                      f"{r.rps / base[c].rps:>7.2f}x {r.errors:>6}")
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
