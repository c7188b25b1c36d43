"""Simulator start-up time, memory and per-operation latency at 2,000 and 250,000 companies, in one run.

    .venv/bin/python bench/bench_simulator.py [--sizes 2000 250000] [--repeat 200]

Each size is a real ``wl-adapter simulate`` process on loopback; latency is the client-side round trip of raw
SOAP requests over one keep-alive requests.Session (so it includes ~0.5 ms of HTTP client cost). The last table
gives the ratio large/small per figure, measured in the same run on the same machine.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
SIM_OIN = "00000003273462010000"
SCHOOL_OIN = "0000000700025BE00000"
NS = "urn:sbb:whitelabel:2.0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def envelope(operation: str, fields: str) -> bytes:
    return f"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:w="{NS}"><soap:Header>
<wsa:Action>{NS}/{operation}</wsa:Action><wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>
<wsa:To>http://127.0.0.1/wl2?oin={SIM_OIN}</wsa:To>
<wsa:From><wsa:Address>http://www.w3.org/2005/08/addressing/anonymous?oin={SCHOOL_OIN}</wsa:Address></wsa:From>
</soap:Header><soap:Body><w:{operation}Request><w:BerichtID>{uuid.uuid4()}</w:BerichtID>{fields}
</w:{operation}Request></soap:Body></soap:Envelope>""".encode()


def scenarios(company: dict) -> dict[str, bytes]:
    a = company["vestigingsadres"]
    crebo = company["erkenningen"][0]["crebonummer"]
    word = company["naam"].split()[0]
    return {
        "IdentificeerLeerbedrijf": envelope("IdentificeerLeerbedrijf",
                                            f"<w:Naam>{company['naam'].lower()}</w:Naam><w:Postcode>{a['postcode']}"
                                            "</w:Postcode>"),
        "VerifieerAccreditatie": envelope("VerifieerAccreditatie",
                                          f"<w:LeerbedrijfId>{company['leerbedrijfId']}</w:LeerbedrijfId>"
                                          f"<w:Crebonummer>{crebo}</w:Crebonummer>"
                                          "<w:Startdatum>2026-01-01</w:Startdatum>"),
        "Details": envelope("OpvragenDetailgegevensLeerbedrijf",
                            f"<w:LeerbedrijfId>{company['leerbedrijfId']}</w:LeerbedrijfId>"),
        "Zoeken old code (postcode+nr)": envelope(
            "ZoekenLeerbedrijfOfLeerplaats", f"<w:Soort>LEERBEDRIJF</w:Soort><w:Huisnummer>{a['huisnummer']}"
            f"</w:Huisnummer><w:PostcodeVan>{a['postcode']}</w:PostcodeVan><w:PostcodeTot>{a['postcode']}"
            "</w:PostcodeTot><w:Pagina>1</w:Pagina><w:AantalPerPagina>25</w:AantalPerPagina>"),
        "Zoeken name+town": envelope(
            "ZoekenLeerbedrijfOfLeerplaats", f"<w:Soort>LEERBEDRIJF</w:Soort><w:Naam>{word}</w:Naam>"
            f"<w:Plaats>{a['plaats']}</w:Plaats><w:Pagina>1</w:Pagina><w:AantalPerPagina>25</w:AantalPerPagina>"),
        "Zoeken crebo+range (LEERPLAATS)": envelope(
            "ZoekenLeerbedrijfOfLeerplaats", f"<w:Soort>LEERPLAATS</w:Soort><w:PostcodeVan>3500AA</w:PostcodeVan>"
            f"<w:PostcodeTot>3599ZZ</w:PostcodeTot><w:Crebonummer>{crebo}</w:Crebonummer>"
            "<w:Pagina>1</w:Pagina><w:AantalPerPagina>25</w:AantalPerPagina>"),
        "Zoeken name only (broad)": envelope(
            "ZoekenLeerbedrijfOfLeerplaats", f"<w:Soort>LEERBEDRIJF</w:Soort><w:Naam>{word}</w:Naam>"
            "<w:Pagina>2</w:Pagina><w:AantalPerPagina>25</w:AantalPerPagina>"),
    }


def rss_mb(pid: int) -> float:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for p in [pid, *map(int, children)]:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total = max(total, int(line.split()[1]))
    return total / 1024


def measure(size: int, repeat: int) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "adapter", "simulate", "--port", str(port), "--leerbedrijven",
                             str(size), "--today", "2026-11-29"], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if requests.get(f"{url}/admin/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.05)
            if proc.poll() is not None:
                raise SystemExit(f"simulator with {size} companies exited with {proc.returncode}")
        figures = {"start-up (s)": time.perf_counter() - started, "memory RSS (MB)": rss_mb(proc.pid)}
        page = requests.get(f"{url}/admin/leerbedrijven?offset={size // 2}&limit=50", timeout=10).json()
        company = next(c for c in page["leerbedrijven"] if c["erkenningen"][0]["status"] == "ERKEND")
        session = requests.Session()
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        for name, data in scenarios(company).items():
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                r = session.post(f"{url}/wl2", data=data, headers=headers, timeout=30)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200 and re.search(rb"<wl2:Signaalcode>[01]<", r.content), r.content[:500]
            times.sort()
            figures[f"{name} median (ms)"] = statistics.median(times)
            figures[f"{name} p95 (ms)"] = times[int(len(times) * 0.95) - 1]
        return figures
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[2000, 250000])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    small, large = (measure(size, args.repeat) for size in args.sizes)
    width = max(map(len, small))
    print(f"{'figure':<{width}}  {args.sizes[0]:>10}  {args.sizes[1]:>10}  {'ratio':>7}")
    for key in small:
        print(f"{key:<{width}}  {small[key]:>10.2f}  {large[key]:>10.2f}  {large[key] / small[key]:>6.1f}x")


if __name__ == "__main__":
    main()
