"""How long ``wl-adapter check-placements`` takes for a large placement export against the simulator.

    .venv/bin/python bench/bench_bpv_check.py [--placements 10000] [--companies 2000] [--rate 10] [--old-codes 0.3]

Starts a simulator with ``--companies`` companies, imports its full old-code mapping into a fresh store (as a school
would before going live), writes an export of ``--placements`` placements spread over the companies (a share of
them under their old WL 1.0 code), and times one check at the given rate. Prints the wall time and the check's own
summary (outcomes, WL 2.0 calls made). A bench, not a test: run it by hand and note the figures in docs/figures.md.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
SCHOOL_OIN = "0000000700025BE00000"
TODAY = "2026-11-29"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wl_adapter(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "adapter", *args], cwd=ROOT, check=True, **kw)


def start_simulator(port: int, companies: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "adapter", "simulate", "--port", str(port), "--seed", "1",
                             "--leerbedrijven", str(companies), "--today", TODAY], cwd=ROOT,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(300):
        try:
            requests.get(f"http://127.0.0.1:{port}/admin/health", timeout=1)
            return proc
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("simulator did not start")


def all_companies(url: str, count: int) -> list[dict]:
    out = []
    for offset in range(0, count, 1000):
        r = requests.get(f"{url}/admin/leerbedrijven", params={"offset": offset, "limit": 1000}, timeout=30)
        out += r.json()["leerbedrijven"]
    return out


def write_export(path: Path, companies: list[dict], n: int, old_share: float, rng: random.Random) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "code_leerbedrijf", "crebonummer", "leerweg", "begindatum", "einddatum"])
        for i in range(n):
            c = rng.choice(companies)
            e = rng.choice(c["erkenningen"])
            code = c["codeLeerbedrijf"] if c["codeLeerbedrijf"] and rng.random() < old_share else c["leerbedrijfId"]
            leerweg = e["leerweg"] if rng.random() < 0.9 else rng.choice(["BOL", "BBL"])
            start = f"{rng.choice([2024, 2025, 2026])}-{rng.choice(['02', '09'])}-01"
            end = "" if rng.random() < 0.2 else f"{int(start[:4]) + 1}-{rng.choice(['01', '06', '08'])}-30"
            w.writerow([f"student {i:05d}", code, e["crebonummer"], leerweg, start, end])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--placements", type=int, default=10_000)
    ap.add_argument("--companies", type=int, default=2000)
    ap.add_argument("--rate", default="10")
    ap.add_argument("--workers", default="4")
    ap.add_argument("--old-codes", type=float, default=0.3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port = free_port()
        sim = start_simulator(port, args.companies, work / "sim.log")
        try:
            config = work / "adapter.toml"
            config.write_text(f'[upstream]\nurl = "http://127.0.0.1:{port}/wl2"\n[store]\n'
                              f'url = "sqlite:///{work / "store.sqlite"}"\n[[tenants]]\nname = "ROC Bench"\n'
                              f'oin = "{SCHOOL_OIN}"\nlicence_sha256 = "{"0" * 64}"\n')
            wl_adapter("simulate", "--seed", "1", "--leerbedrijven", str(args.companies), "--export-mapping",
                       str(work / "mapping.csv"))
            wl_adapter("mapping", "import", str(work / "mapping.csv"), "--config", str(config), capture_output=True)
            export = work / "export.csv"
            write_export(export, all_companies(f"http://127.0.0.1:{port}", args.companies), args.placements,
                         args.old_codes, random.Random(7))
            started = time.monotonic()
            result = subprocess.run([sys.executable, "-m", "adapter", "check-placements", str(export), "--config",
                                     str(config), "--school", "ROC Bench", "--out", str(work / "out"), "--date",
                                     TODAY, "--rate", args.rate, "--workers", args.workers, "--no-progress"],
                                    cwd=ROOT, capture_output=True, text=True)
            elapsed = time.monotonic() - started
            print(json.dumps({"placements": args.placements, "companies": args.companies, "rate": args.rate,
                              "workers": args.workers, "exit": result.returncode, "seconds": round(elapsed, 1),
                              "placements_per_s": round(args.placements / elapsed, 1),
                              "output": result.stdout.splitlines() or result.stderr[-500:]}, indent=1))
        finally:
            os.killpg(sim.pid, signal.SIGTERM)
            sim.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
