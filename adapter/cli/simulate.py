"""``wl-adapter simulate``: serve the WL 2.0 simulator, or write the old-code mapping of its data set."""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys

from adapter.simulator import DEFAULT_OIN


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date YYYY-MM-DD") from None


def _oin(text: str) -> str:
    from adapter.soap.oin import is_oin

    if not is_oin(text):
        raise argparse.ArgumentTypeError(f"'{text}' is not an OIN (20 letters or digits)")
    return text


def register(subparsers) -> None:
    p = subparsers.add_parser("simulate", help="serve a WL 2.0 simulator that plays SBB (see docs/simulator.md)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument("--admin-port", type=int, metavar="PORT",
                   help="also serve the admin API on this port (it stays reachable while the SOAP port refuses)")
    p.add_argument("--seed", type=int, default=1, help="the data set is a function of the seed (default 1)")
    p.add_argument("--leerbedrijven", type=int, default=2000, metavar="N", help="number of companies (default 2000)")
    p.add_argument("--oin", type=_oin, default=DEFAULT_OIN, help=f"SBB's OIN as simulated (default {DEFAULT_OIN})")
    p.add_argument("--today", type=_date, metavar="YYYY-MM-DD", help="fixed 'today' (default: the real date)")
    p.add_argument("--tls-cert", metavar="FILE", help="server certificate (PEM); also the client certificate of pushes")
    p.add_argument("--tls-key", metavar="FILE")
    p.add_argument("--tls-client-ca", metavar="FILE", help="require client certificates signed by this CA")
    p.add_argument("--push-ca", metavar="FILE", help="CA bundle to verify push receivers (default: system store)")
    p.add_argument("--push-max-attempts", type=int, default=50, metavar="N")
    p.add_argument("--push-backoff-s", type=float, default=0.2, metavar="S", help="first retry delay, doubling to 30 s")
    p.add_argument("--threads", type=int, default=16, help="request threads (one process)")
    p.add_argument("--export-mapping", metavar="FILE.csv",
                   help="write code_leerbedrijf,leerbedrijf_id of the data set and exit")
    p.set_defaults(func=run)


def export_mapping(seed: int, count: int, path: str) -> int:
    from adapter.simulator.generate import generate

    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["code_leerbedrijf", "leerbedrijf_id"])
        rows = [(c.old_code, c.leerbedrijf_id) for c in generate(seed, count) if c.old_code]
        writer.writerows(rows)
    print(f"{path}: {len(rows)} codes", file=sys.stderr)
    return 0


def build(args: argparse.Namespace):
    """The simulator state for these options (also used by the benchmark and tests)."""
    from adapter.simulator.pushes import PushSender
    from adapter.simulator.register import Register
    from adapter.simulator.scenarios import Scenarios
    from adapter.simulator.state import Simulator

    client_cert = (args.tls_cert, args.tls_key) if args.tls_cert and args.tls_key else None
    pushes = PushSender(args.oin, args.push_max_attempts, args.push_backoff_s, client_cert, args.push_ca or True)
    return Simulator(Register.generated(args.seed, args.leerbedrijven), pushes, Scenarios(args.seed), args.oin,
                     args.today, admin_port=getattr(args, "admin_port", None))


def run(args: argparse.Namespace) -> int:
    if args.leerbedrijven < 1:
        print("--leerbedrijven must be at least 1", file=sys.stderr)
        return 2
    if args.export_mapping:
        return export_mapping(args.seed, args.leerbedrijven, args.export_mapping)
    if bool(args.tls_cert) != bool(args.tls_key):
        print("--tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    if args.admin_port is not None and args.admin_port == args.port:
        print("--admin-port must differ from --port", file=sys.stderr)
        return 2
    from adapter.serve.runner import ServerOptions
    from adapter.serve.runner import run as serve
    from adapter.simulator.app import make_app
    from adapter.simulator.netfaults import ServerSockets

    options = ServerOptions(host=args.host, port=args.port, workers=1, threads=args.threads,
                            certfile=args.tls_cert, keyfile=args.tls_key, client_ca=args.tls_client_ca,
                            extra_ports=(args.admin_port,) if args.admin_port else ())
    sockets = ServerSockets(args.port)

    def factory():
        sim = build(args)
        sim.sockets = sockets
        return make_app(sim)

    # one worker: the state lives in its memory, and it owns every connection (network faults act on them)
    serve(factory, options, on_worker=sockets.attach)
    return 0
