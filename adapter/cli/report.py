"""``wl-adapter report``: the chain report (calls, signaalcodes, error and 998 rates, latency, mutations and their
delay, per school and operation) from the audit trail and the store, as one self-contained HTML page.

Exit codes: 0 written; 2 the configuration, a log or --since cannot be used; 3 the store cannot be opened.
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(_fail(2, f"--since: '{text}' is not a date YYYY-MM-DD (or a time)"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _fail(code: int, message: str) -> int:
    print(f"wl-adapter: {message}", file=sys.stderr)
    return code


def _records(logs: list[str], since):
    from adapter.ops.chain import read_audit

    for name in logs:
        if name == "-":
            yield from read_audit(sys.stdin, since)
            continue
        with open(name, encoding="utf-8", errors="replace") as f:
            yield from read_audit(f, since)


def _run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from adapter.config import ConfigError, load_config
    from adapter.ops import chain
    from adapter.store import Store

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _fail(2, f"configuration: {exc}")
    since = _since(args.since)
    logs = args.audit or ([] if sys.stdin.isatty() else ["-"])
    try:
        calls = chain.call_figures(_records(logs, since))
    except OSError as exc:
        return _fail(2, f"audit trail: {exc.filename}: {exc.strerror}")
    try:
        store = Store(config.store.url)
        store.migrate()
        rows = {t.name: store.list_mutations(t.oin) for t in config.tenants}
        store.close()
    except (ValueError, SQLAlchemyError, RuntimeError) as exc:
        return _fail(3, f"store: {getattr(exc, 'orig', None) or exc}")
    now = datetime.now(timezone.utc)
    mutations = chain.mutation_figures(rows, now, since)
    page = chain.render(calls, mutations, since.isoformat() if since else "the start of the audit trail",
                        now.isoformat(timespec="seconds"), [("standard input" if n == "-" else Path(n).name)
                                                            for n in logs] or ["none"])
    out = Path(args.out)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    print(f"{sum(f.calls for f in calls.values())} call(s), "
          f"{sum(m.received for m in mutations.values())} mutation(s); written: {out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("report", help="the chain report: calls, signaalcodes, errors, latency and mutations per "
                                      "school, as an HTML page")
    p.add_argument("--config", metavar="FILE", required=True, help="the adapter's TOML configuration (its store)")
    p.add_argument("--audit", metavar="LOG", action="append",
                   help="the adapter's log with the audit trail (repeatable; '-' = standard input, the default "
                        "when it is not a terminal)")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only calls and mutations from then on (UTC)")
    p.add_argument("--out", metavar="FILE.html", default="chain-report.html", help="default: chain-report.html")
    p.set_defaults(func=_run)
