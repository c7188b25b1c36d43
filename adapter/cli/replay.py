"""``wl-adapter replay RECORDINGS --target URL [--compare-with URL] --licences FILE``: send recorded WL 1.0
requests again and report the answers that changed (see adapter/ops/replay.py and docs/integration-testing.md)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _run(args: argparse.Namespace) -> int:
    from adapter.ops.replay import Options, ReplayError, read_licences, read_recordings, replay, summary, write_report

    options = Options(args.target, args.compare_with, args.timeout, args.operation, args.limit)
    try:
        licences = read_licences(Path(args.licences))
        recordings = list(read_recordings(Path(args.recordings)))
    except ReplayError as exc:
        print(f"wl-adapter replay: {exc}", file=sys.stderr)
        return 2
    if not recordings:
        print(f"wl-adapter replay: no recorded requests in {args.recordings} (record them with [audit] "
              "record_requests = true, or give an audit log with bodies)", file=sys.stderr)
        return 2
    outcomes = replay(recordings, licences, options)
    json_path, html_path = write_report(outcomes, options, Path(args.report))
    info = summary(outcomes, options)
    for o in outcomes:
        if o.result != "unchanged":
            print(f"{o.result:9} {o.correlation_id} {o.tenant or '-'} {o.operation or '-'}"
                  + (f": {o.reason}" if o.reason else ""))
    print(f"{info['replayed']} replayed: {info['changed']} changed, {info['unchanged']} unchanged, "
          f"{info['errors']} errors, {info['skipped']} skipped; report {html_path} and {json_path}")
    return 1 if info["changed"] or info["errors"] else 0


def register(sub) -> None:
    p = sub.add_parser("replay", help="send recorded WL 1.0 requests again and report answers that changed")
    p.add_argument("recordings", metavar="RECORDINGS",
                   help="a recording file or directory ([audit] record_dir), or an audit log with bodies")
    p.add_argument("--target", required=True, metavar="URL", help="where to send them, e.g. http://127.0.0.1:8080")
    p.add_argument("--compare-with", metavar="URL",
                   help="also send each to this endpoint (e.g. the old WL 1.0 service) and compare the two answers")
    p.add_argument("--licences", required=True, metavar="FILE",
                   help='TOML: "School name" = "licence" per school (licences are never taken from logs)')
    p.add_argument("--report", default="replay-report", metavar="DIR", help="where the HTML and JSON report go")
    p.add_argument("--operation", metavar="NAME", help="only this WL 1.0 operation")
    p.add_argument("--limit", type=int, metavar="N", help="at most N requests")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="per request (default 30)")
    p.set_defaults(func=_run)
