"""``wl-adapter check-placements``: a school's BPV administrator checks a placement export against WL 2.0.

Exit codes: 0 every placement was checked (whatever the outcomes); 1 some placements could not be checked because
WL 2.0 was unavailable (run the same command again: it checks only those); 2 the file, the configuration or the
school cannot be used; 3 the store cannot be opened; 130 interrupted (run it again to continue).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from collections import Counter
from datetime import date
from pathlib import Path

from adapter.cli.common import CliExit, open_store

EXIT_UNAVAILABLE, EXIT_UNUSABLE, EXIT_INTERRUPTED = 1, 2, 130  # EXIT_STORE (3): cli/common.py


def _tenant(config, name: str):
    for t in config.tenants:
        if name in (t.name, t.oin):
            return t
    known = ", ".join(t.name for t in config.tenants) or "none"
    raise CliExit(EXIT_UNUSABLE, f"--school: no configured school is named '{name}' (known: {known})")


def _day(text: str | None) -> date:
    if not text:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliExit(EXIT_UNUSABLE, f"--date: '{text}' is not a date YYYY-MM-DD") from None


def _interrupt_on_sigterm() -> None:
    """SIGTERM stops the check like Ctrl-C: what was decided is already in the state file."""
    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)


def _progress(total: int, done: int, enabled: bool):
    from tqdm import tqdm

    # disable=None: a bar only on a terminal, never in a log file or a pipe
    return tqdm(total=total, initial=done, unit="placement", disable=None if enabled else True, file=sys.stderr,
                dynamic_ncols=True)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _cmd_check(args: argparse.Namespace) -> int:
    from adapter.bpv import check, report
    from adapter.bpv.placements import UnreadableExport, parse_column_map, read_export
    from adapter.config import ConfigError, load_config
    from adapter.wl2.clients import Wl2Clients

    _interrupt_on_sigterm()
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise CliExit(EXIT_UNUSABLE, f"configuration: {exc}") from None
    tenant = _tenant(config, args.school)
    day = _day(args.date)
    try:
        columns = parse_column_map(args.columns)
        export = read_export(args.file, columns)
    except UnreadableExport as exc:
        raise CliExit(EXIT_UNUSABLE, f"{args.file}: {exc}") from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    identity = check.run_identity(export, tenant.oin, day)
    keys = {row.key for row in export.rows}
    kept = {} if args.fresh else {k: d for k, d in check.load_state(out, identity).items() if k in keys}
    if kept:
        print(f"resuming: {len(kept)} of {len(export.rows)} placement(s) were checked by an earlier run",
              file=sys.stderr)
    todo = [row for row in export.rows if row.key not in kept]
    settings = check.Settings(rate=args.rate, workers=args.workers, retries=args.retries, backoff_s=args.retry_backoff)
    store = open_store(config.store.url)
    state = check.StateWriter(out, identity, kept)
    progress = _progress(len(export.rows), len(kept), not args.no_progress)
    try:
        client = Wl2Clients(config.upstream, policy=config.validation).for_tenant(tenant)
        checker = check.Checker(store, client, tenant.oin, settings)
        decided = check.check_rows(checker, todo, state, progress)
    except KeyboardInterrupt:
        raise CliExit(EXIT_INTERRUPTED, f"interrupted; what was checked is kept in {out / check.STATE_FILE}: "
                                      "run the same command again to continue") from None
    finally:
        progress.close()
        state.close()
        store.close()
    decisions = {**kept, **decided}
    check.write_results(out / check.RESULT_FILE, export, decisions)
    check.write_meta(out, export, columns, identity)
    _write_atomic(out / check.REPORT_FILE, report.render(export, decisions, tenant.name, day, Path(args.file).name))
    counts = Counter(d.outcome for d in decisions.values())
    print(f"{len(export.rows)} placement(s): " + ", ".join(f"{code} {n}" for code, n in sorted(counts.items())))
    print(f"checked {len(todo)} placement(s) now with {checker.calls} WL 2.0 call(s); "
          f"written: {out / check.RESULT_FILE}, {out / check.REPORT_FILE}")
    if counts["unavailable"]:
        print(f"wl-adapter: {counts['unavailable']} placement(s) could not be checked (WL 2.0 unavailable); "
              "run the same command again to check only those", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        return args.command_func(args)
    except KeyboardInterrupt:  # before the check started: nothing to keep
        print("wl-adapter: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except CliExit as exc:
        print(f"wl-adapter: {exc}", file=sys.stderr)
        return exc.code


def register(sub) -> None:
    p = sub.add_parser("check-placements", help="check a school's placement export (CSV) against WL 2.0")
    p.add_argument("file", metavar="FILE.csv", help="columns student, code_leerbedrijf, crebonummer, leerweg, "
                                                    "begindatum, einddatum; UTF-8 or Windows-1252; ',' or ';'")
    p.add_argument("--config", metavar="FILE", required=True, help="the adapter's TOML configuration")
    p.add_argument("--school", metavar="NAME", required=True, help="the school (its name or OIN in the configuration)")
    p.add_argument("--out", metavar="DIR", default="placement-check",
                   help="where placements.csv, report.html and the resume state go (default: ./placement-check)")
    p.add_argument("--date", metavar="YYYY-MM-DD", help="the check's date, shown in the report (default: today)")
    p.add_argument("--columns", metavar="NAME=HEADER,...",
                   help="headers of your file for our column names, e.g. student=Leerling,code_leerbedrijf=Bedrijf")
    p.add_argument("--rate", type=float, default=10.0, metavar="N",
                   help="WL 2.0 calls per second for this check, leaving room for live traffic "
                        "(default 10; 0 = no limit)")
    p.add_argument("--workers", type=int, default=4, metavar="N", help="calls in flight at once (default 4)")
    p.add_argument("--retries", type=int, default=3, metavar="N",
                   help="extra attempts when WL 2.0 is unavailable (998), with back-off (default 3)")
    p.add_argument("--retry-backoff", type=float, default=1.0, metavar="S",
                   help="first pause before such a retry, doubling (default 1 s)")
    p.add_argument("--fresh", action="store_true", help="ignore an earlier interrupted run in DIR; check everything")
    p.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    p.set_defaults(func=_run, command_func=_cmd_check)
