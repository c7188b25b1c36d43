"""A small closed-loop load generator: N threads, each with its own keep-alive HTTP connection, posting one body.

Client CPU per request is kept low (raw http.client), so on a 2-core box the servers get most of the machine.
"""
from __future__ import annotations

import http.client
import statistics
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(len(data) * p / 100))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")


def run(url: str, body: bytes, headers: dict, concurrency: int, duration_s: float, check: bytes) -> Result:
    parts = urlsplit(url)
    stop = time.monotonic() + duration_s
    lock = threading.Lock()
    latencies: list[float] = []
    counts = {"ok": 0, "err": 0}

    def worker():
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine: list[float] = []
        ok = err = 0
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                conn.request("POST", parts.path, body, headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.status == 200 and check in data:
                    ok += 1
                    mine.append((time.perf_counter() - t0) * 1000)
                else:
                    err += 1
            except (OSError, http.client.HTTPException):
                err += 1
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        conn.close()
        with lock:
            latencies.extend(mine)
            counts["ok"] += ok
            counts["err"] += err

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Result(counts["ok"], counts["err"], time.monotonic() - started, latencies)
