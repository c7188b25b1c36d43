"""Memory of the adapter's workers over many mixed calls, large documents included.

Starts the simulator and an adapter (2 workers by default, as in production), sends N calls (default 20,000;
``--calls 100000`` for the long run) from a few keep-alive clients, a mix of every operation, large valid requests
(~900 KB: a long SOAP header, a long comment), a 25-result search, hostile documents (96,000 attributes) and
oversize ones (2 MiB, refused unread), and prints the resident memory (RSS) of each worker as it goes (requests in
flight included) and once more when the load is over (what the workers keep).

Workers are recycled after ``[server] max_requests`` calls (with jitter), so a row shows the workers alive then.
``--before`` runs the adapter as it was before the memory ceiling: no recycling, glibc's allocator left alone.

Usage: .venv/bin/python bench/memory.py [--calls 20000] [--workers 2] [--concurrency 8] [--before]
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import random
import re
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.servers import LICENCE, Server, free_port, start_simulator_process, write_config  # noqa: E402

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def envelope(operation: str, fields: str, header: str = "", before_body: str = "") -> bytes:
    return (f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Header>{header}</soap:Header><soap:Body>{before_body}'
            f'<{operation} xmlns="urn:sbb:whitelabel:1.0"><request><Licentie>{LICENCE}</Licentie>{fields}</request>'
            f"</{operation}></soap:Body></soap:Envelope>").encode()


def mix(companies: list[dict]) -> list[tuple[str, bytes, int]]:
    """(name, body, weight): what the load is made of."""
    c = next(c for c in companies if any(e["status"] == "ERKEND" for e in c["erkenningen"]))
    lid = c["leerbedrijfId"]
    crebo = int(next(e["crebonummer"] for e in c["erkenningen"] if e["status"] == "ERKEND"))
    adres = c["vestigingsadres"]
    details = f"<CodeLeerbedrijf>{lid}</CodeLeerbedrijf>"
    big_header = "".join(f'<x{i} xmlns="urn:pad">{"p" * 60_000}</x{i}>' for i in range(15))
    return [
        ("GeefDetails", envelope("GeefDetails", details), 20),
        ("VerifieerAccreditatie", envelope("VerifieerAccreditatie", f"<CodeLeerbedrijf>{lid}</CodeLeerbedrijf>"
                                           f"<Crebonummer>{crebo}</Crebonummer><Peildatum>2026-11-29</Peildatum>"), 20),
        ("GeefBedrijfsgegevens", envelope("GeefBedrijfsgegevens", f"<Bedrijfsnaam>{c['naam']}</Bedrijfsnaam>"
                                          f"<Postcode>{adres['postcode']}</Postcode>"), 10),
        ("Zoeken 25 results", envelope("Zoeken", "<AantalResultatenPerPagina>25</AantalResultatenPerPagina>"
                                       "<Pagina>1</Pagina><LeerplaatsErkenningAanduiding>E</LeerplaatsErkenningAanduiding>"
                                       "<LeerbedrijfNaam>%</LeerbedrijfNaam>"), 10),
        ("GeefMutaties", envelope("GeefMutaties", "<VanafVolgnummer>0</VanafVolgnummer>"), 10),
        ("900 KB header", envelope("GeefDetails", details, header=big_header), 10),
        ("900 KB comment", envelope("GeefDetails", details, before_body=f"<!--{'c' * 900_000}-->"), 10),
        ("96,000 attributes", envelope("GeefDetails", details).replace(
            b"<GeefDetails ", b"<GeefDetails " + "".join(f' a{i:x}=""' for i in range(96_000)).encode() + b" "), 5),
        ("2 MiB oversize", envelope("GeefDetails", details, before_body=f"<!--{'o' * 2_100_000}-->"), 5),
    ]


def workers_rss(master: int) -> dict[int, int]:
    """pid -> RSS in KiB of each child of the gunicorn master."""
    out = {}
    children = Path(f"/proc/{master}/task/{master}/children")
    for pid in (int(p) for p in children.read_text().split()) if children.exists() else ():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[pid] = int(line.split()[1])
        except FileNotFoundError:
            pass
    return out


def load(url: str, bodies: list[bytes], total: int, concurrency: int, done: list[int], errors: list[str]) -> None:
    parts = urlsplit(url)
    counter = itertools.count()
    lock = threading.Lock()

    def client():
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        while (n := next(counter)) < total:
            body = bodies[n % len(bodies)]
            try:
                conn.request("POST", parts.path, body, {"Content-Type": "text/xml; charset=utf-8"})
                r = conn.getresponse()
                answer = r.read()
                if b"soap:Server" in answer:
                    with lock:
                        errors.append(f"soap:Server (HTTP {r.status})")
                if r.getheader("Connection", "").lower() == "close" or r.status == 413:
                    conn.close()  # a 413 is answered without reading the body: the connection is closed
            except (OSError, http.client.HTTPException) as exc:
                if len(body) <= 1024 * 1024:  # an oversize body is answered 413 unread: a broken pipe is expected
                    with lock:
                        errors.append(type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            with lock:
                done[0] += 1
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--samples", type=int, default=20, help="RSS rows printed over the run")
    ap.add_argument("--before", action="store_true", help="no worker recycling, glibc's default malloc arenas")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a [server] setting for this run, e.g. --set max_requests=0 (repeatable)")
    ap.add_argument("--small-only", action="store_true", help="only the ordinary calls (no large or hostile ones)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--linger", type=int, default=0, help="seconds to keep the idle adapter up at the end")
    ap.add_argument("--json", metavar="FILE", help="also write the samples as JSON")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="wl-memory-"))
    sim = start_simulator_process(tmp / "sim.log", count=2000)
    adapter = None
    try:
        workdir = tmp / "adapter"
        workdir.mkdir()
        port = free_port()
        config = write_config(workdir / "adapter.toml", f"{sim.url}/wl2", f"sqlite:///{workdir / 'a.sqlite'}", port,
                              extra="\n[mutations]\nsubscribe_after_verify = false\n", workers=args.workers,
                              audit_bodies=False)
        settings = (["max_requests=0", "malloc_arena_max=0"] if args.before else []) + args.set
        text = config.read_text()
        for key, _, value in (s.partition("=") for s in settings):  # replaces the key's line, else adds one
            line = f"{key.strip()} = {value.strip()}\n"
            text, found = re.subn(rf"(?m)^{re.escape(key.strip())} = .*\n", line, text, count=1)
            if not found:
                text = text.replace("[server]\n", "[server]\n" + line, 1)
        config.write_text(text)
        adapter = Server(["serve", "--config", str(config)], port, "/healthz", log=workdir / "adapter.log")
        with urllib.request.urlopen(f"{sim.url}/admin/leerbedrijven?limit=50") as r:
            companies = json.load(r)["leerbedrijven"]
        parts = mix(companies)
        if args.small_only:
            parts = parts[:5]
        rng = random.Random(args.seed)
        bodies = rng.choices([b for _, b, _ in parts], weights=[w for _, _, w in parts], k=1000)
        print(f"{args.calls:,} mixed calls, {args.concurrency} clients, adapter workers={args.workers}, "
              f"{'BEFORE (no recycling, default arenas)' if args.before else 'as shipped'} {' '.join(args.set)}; mix: "
              + ", ".join(f"{name} {w}%" for name, _, w in parts))
        master = adapter.proc.pid
        print(f"{'calls':>8} {'seconds':>8}  RSS per worker (MB)")
        done, errors, samples = [0], [], []
        runner = threading.Thread(target=load, args=(adapter.url + "/wl1", bodies, args.calls, args.concurrency, done,
                                                     errors), daemon=True)
        started = time.monotonic()
        runner.start()
        step = max(1, args.calls // args.samples)
        next_row = 0
        while True:
            finished = not runner.is_alive()
            if done[0] >= next_row or finished:
                rss = workers_rss(master)
                mb = sorted(round(v / 1024, 1) for v in rss.values())
                samples.append({"calls": done[0], "seconds": round(time.monotonic() - started, 1), "rss_mb": mb})
                print(f"{done[0]:>8} {time.monotonic() - started:>8.1f}  {'  '.join(f'{v:6.1f}' for v in mb)}")
                next_row = done[0] + step
            if finished:
                break
            time.sleep(0.2)
        time.sleep(3)  # idle: what a worker keeps once the load is over
        idle = sorted(round(v / 1024, 1) for v in workers_rss(master).values())
        samples.append({"calls": done[0], "seconds": round(time.monotonic() - started, 1), "rss_mb": idle,
                        "idle": True})
        print(f"{'idle':>8} {time.monotonic() - started:>8.1f}  {'  '.join(f'{v:6.1f}' for v in idle)}")
        peak = max(max(s["rss_mb"] or [0]) for s in samples)
        print(f"peak worker RSS under load {peak:.1f} MB (requests in flight included); idle after "
              f"{done[0]:,} calls: {idle} MB; errors {len(errors)} {sorted(set(errors))[:5]}")
        for _ in range(args.linger):  # for looking at the idle workers from outside (gdb, py-spy, smaps)
            time.sleep(1)
            print(f"{'linger':>8} {time.monotonic() - started:>8.1f}  "
                  + "  ".join(f"{pid}:{v / 1024:.1f}" for pid, v in sorted(workers_rss(master).items())), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps({"before": args.before, "calls": args.calls, "samples": samples}))
    finally:
        if adapter:
            adapter.stop()
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
