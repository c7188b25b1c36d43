"""``wl-adapter demo``: the WL 2.0 simulator and the adapter on loopback, with a demo school, ready to call.

The simulator starts from its seed every time, but the adapter's store survives a restart: its subscriptions would
point at a simulator that no longer knows them, and withdrawals would never arrive. So a restart reconciles them
(``subscriptions sync``), and ``--fresh`` starts the store empty too: both sides in a known state between test runs.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from adapter.tenants import licence_hash

DEMO_LICENCE = "DEMO-ROC-ZADKINE-2026"  # a demo licence for the demo school only; not a secret
DEMO_SCHOOL_OIN = "0000000700025BE00000"
STORE_FILE = "adapter.sqlite"  # in --workdir


def _wait(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"wl-adapter demo: a server exited early (code {proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"wl-adapter demo: {url} not ready after {timeout:.0f}s")


def _config(workdir: Path, port: int, sim_port: int, oin: str) -> Path:
    path = workdir / "adapter.toml"
    path.write_text(f"""# written by `wl-adapter demo`
[server]
host = "127.0.0.1"
port = {port}
workers = 2

[upstream]
url = "http://127.0.0.1:{sim_port}/wl2"
oin = "{oin}"
timeout_s = 5.0

[store]
url = "sqlite:///{(workdir / STORE_FILE).resolve()}"

[pushes]
# the demo on loopback only: the simulator's pushes are accepted without a client certificate.
# Never in production: see docs/configuration.md, [pushes], for mutual TLS or a verifying reverse proxy.
allow_unauthenticated = true

[[tenants]]
name = "Demo ROC"
oin = "{DEMO_SCHOOL_OIN}"
licence_sha256 = "{licence_hash(DEMO_LICENCE)}"
""", encoding="utf-8")
    return path


def example_call(port: int, code: str, crebo: int, peildatum: str) -> str:
    return f"""curl -s http://127.0.0.1:{port}/wl1 -H 'Content-Type: text/xml; charset=utf-8' \\
  -H 'SOAPAction: "urn:sbb:whitelabel:1.0/VerifieerAccreditatie"' --data-binary @- <<'XML'
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <VerifieerAccreditatie xmlns="urn:sbb:whitelabel:1.0">
      <request>
        <Licentie>{DEMO_LICENCE}</Licentie>
        <CodeLeerbedrijf>{code}</CodeLeerbedrijf>
        <Crebonummer>{crebo}</Crebonummer>
        <Peildatum>{peildatum}</Peildatum>
      </request>
    </VerifieerAccreditatie>
  </soap:Body>
</soap:Envelope>
XML"""


def _check(port: int, code: str, crebo: int) -> int:
    """Make the example call (as the printed curl would) and say whether it answered."""
    body = example_call(port, code, crebo, time.strftime("%Y-%m-%d")).split("<<'XML'\n", 1)[1].rsplit("\nXML", 1)[0]
    request = urllib.request.Request(f"http://127.0.0.1:{port}/wl1", data=body.encode(), method="POST",
                                     headers={"Content-Type": "text/xml; charset=utf-8"})
    with urllib.request.urlopen(request, timeout=30) as r:
        answer = r.read().decode()
    code_found = answer.split("Signaalcode>", 1)[1].split("<", 1)[0] if "Signaalcode>" in answer else "?"
    print(f"check: the example call answered signaalcode {code_found}", flush=True)
    return 0 if code_found == "0" else 1


def fresh_store(workdir: Path) -> bool:
    """Remove the demo store (subscriptions, intents, mutations, mapping); True when there was one."""
    found = False
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = workdir / f"{STORE_FILE}{suffix}"
        if path.exists():
            path.unlink()
            found = True
    return found


def _sync(py: list[str], config: Path) -> None:
    """The store's subscriptions against the freshly started simulator: those it no longer knows are asked for
    again (by the adapter's background subscriber), so withdrawals reach the demo school."""
    run = subprocess.run([*py, "subscriptions", "sync", "--config", str(config)], capture_output=True, text=True,
                         timeout=120)
    for line in (run.stdout + run.stderr).splitlines():
        print(f"subscriptions sync: {line}", flush=True)


def _run(args: argparse.Namespace) -> int:
    from adapter.simulator import DEFAULT_OIN
    from adapter.store import Store

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if args.fresh and fresh_store(workdir):
        print(f"fresh: removed the demo store {workdir / STORE_FILE} (subscriptions, intents, mutations)", flush=True)
    py = [sys.executable, "-m", "adapter"]
    sim_args = ["--seed", str(args.seed), "--leerbedrijven", str(args.leerbedrijven)]
    mapping = workdir / "mapping.csv"
    subprocess.run([*py, "simulate", *sim_args, "--export-mapping", str(mapping)], check=True)
    config = _config(workdir, args.port, args.sim_port, DEFAULT_OIN)
    store = Store(f"sqlite:///{(workdir / STORE_FILE).resolve()}")
    store.migrate()
    had_subscriptions = bool(store.list_subscriptions())
    store.close()
    subprocess.run([*py, "mapping", "import", str(mapping), "--config", str(config)], check=True)

    admin = ["--admin-port", str(args.sim_admin_port)] if args.sim_admin_port else []
    procs = [subprocess.Popen([*py, "simulate", "--port", str(args.sim_port), *admin, *sim_args])]
    try:
        _wait(f"http://127.0.0.1:{args.sim_port}/admin/health", procs[0])
        procs.append(subprocess.Popen([*py, "serve", "--config", str(config)]))
        _wait(f"http://127.0.0.1:{args.port}/healthz", procs[1])
        if had_subscriptions:
            _sync(py, config)
        with urllib.request.urlopen(f"http://127.0.0.1:{args.sim_port}/admin/leerbedrijven?limit=50") as r:
            company, erkenning = next((c, e) for c in json.load(r)["leerbedrijven"]
                                      for e in c["erkenningen"] if e["status"] == "ERKEND")
        print(f"""
wl-adapter demo is running.
  WL 1.0 WSDL (give this to the school system): http://127.0.0.1:{args.port}/wl1?wsdl
  demo licence:                                  {DEMO_LICENCE}
  WL 2.0 simulator:                              http://127.0.0.1:{args.sim_port}/wl2?wsdl
  simulator admin (companies, journal, events): http://127.0.0.1:{args.sim_port}/admin/leerbedrijven?limit=5
  simulator admin API description:               http://127.0.0.1:{args.sim_port}/admin/openapi.json
  reset the simulator between test runs:         curl -X POST http://127.0.0.1:{args.sim_port}/admin/reset
  configuration and store:                       {workdir}/

Try it:
{example_call(args.port, company.get("codeLeerbedrijf") or company["leerbedrijfId"], int(erkenning["crebonummer"]),
              time.strftime("%Y-%m-%d"))}

Stop with Ctrl-C.""", flush=True)
        if args.check:
            return _check(args.port, company.get("codeLeerbedrijf") or company["leerbedrijfId"],
                          int(erkenning["crebonummer"]))
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the simulator and the adapter on loopback with a demo school")
    p.add_argument("--port", type=int, default=8080, help="adapter port (default 8080)")
    p.add_argument("--sim-port", type=int, default=8081, help="simulator port (default 8081)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--leerbedrijven", type=int, default=2000)
    p.add_argument("--workdir", default=os.path.join("var", "demo"), help="where the config and SQLite store go")
    p.add_argument("--sim-admin-port", type=int, metavar="PORT",
                   help="also serve the simulator's admin API here (stays reachable while a refuse fault runs)")
    p.add_argument("--fresh", action="store_true",
                   help="start from an empty adapter store (no subscriptions, intents or mutations)")
    p.add_argument("--check", action="store_true",
                   help="start, print the instructions, make the example call, then stop (for tests)")
    p.set_defaults(func=_run)
