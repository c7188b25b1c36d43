"""``wl-adapter mutations list`` and ``mutations digest``: the mutations waiting in the store, made visible to people.

A withdrawal reaches a legacy system only when it calls GeefMutaties; these commands show what waits (``list``) and
mail each school's BPV office a daily digest (``digest``, run from cron or a timer; it sends at most one mail per
school per day). Exit codes: 0 done; 1 a mail could not be sent (the next run tries again); 2 the configuration or
the school cannot be used; 3 the store cannot be opened.
"""
from __future__ import annotations

import argparse
import functools
import sys
from datetime import date, datetime, timezone

from adapter.cli.common import CliExit, open_store

EXIT_SEND, EXIT_UNUSABLE = 1, 2  # EXIT_STORE (3): cli/common.py


def _config(path: str):
    from adapter.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise CliExit(EXIT_UNUSABLE, f"configuration: {exc}") from None


def _schools(config, name: str | None) -> list:
    chosen = [t for t in config.tenants if name in (None, t.name, t.oin)]
    if name and not chosen:
        known = ", ".join(t.name for t in config.tenants) or "none"
        raise CliExit(EXIT_UNUSABLE, f"--school: no configured school is named '{name}' (known: {known})")
    return chosen


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _age(received: datetime, now: datetime) -> str:
    seconds = int((now - received).total_seconds())
    if seconds >= 86400:
        return f"{seconds // 86400}d {seconds % 86400 // 3600}h"
    return f"{seconds // 3600}h {seconds % 3600 // 60}m"


def _cmd_list(args: argparse.Namespace) -> int:
    config = _config(args.config)
    (school,) = _schools(config, args.school)
    store = open_store(config.store.url)
    try:
        rows = store.list_mutations(school.oin, undelivered_only=args.undelivered)
    finally:
        store.close()
    now = datetime.now(timezone.utc)
    table = [("volgnummer", "soort", "leerbedrijf_id", "oud_id", "crebo", "ingangsdatum", "received", "delivered",
              "toelichting")]
    for r in rows:
        m = r.mutation
        table.append((str(r.volgnummer), m.soort, m.leerbedrijf_id, m.oud_leerbedrijf_id or "", m.crebo or "",
                      m.ingangsdatum.isoformat(), r.received_at.isoformat(timespec="seconds"),
                      r.delivered_at.isoformat(timespec="seconds") if r.delivered_at
                      else f"waiting {_age(r.received_at, now)}", m.toelichting or ""))
    for line in _table(table):
        print(line)
    waiting = [r for r in rows if r.delivered_at is None]
    what = "undelivered " if args.undelivered else ""
    print(f"{school.name}: {len(rows)} {what}mutation(s)"
          + (f"; {len(waiting)} not yet fetched with GeefMutaties, the oldest since "
             f"{min(r.received_at for r in waiting).isoformat(timespec='seconds')}" if waiting else ""))
    return 0


def _cmd_digest(args: argparse.Namespace) -> int:
    from adapter.ops import digest

    config = _config(args.config)
    if not config.notify.smtp_host and not args.dry_run:
        raise CliExit(EXIT_UNUSABLE, "configuration: [notify] smtp_host is not set: no mail can be sent")
    schools = [t for t in _schools(config, args.school) if t.bpv_email]
    if not schools:
        print("no school has a bpv_email: nothing to send", file=sys.stderr)
        return 0
    day = date.fromisoformat(args.day) if args.day else date.today()
    store = open_store(config.store.url)
    failed = 0
    try:
        for school in schools:
            since = store.last_digest(school.oin)
            rows = digest.news(store.list_mutations(school.oin, received_after=since))
            if not rows:
                print(f"{school.name}: nothing new since {since.isoformat(timespec='seconds') if since else 'ever'}")
                continue
            sender = config.notify.from_address or "wl-adapter@localhost"
            placements = digest.read_last_check(school.placement_check)
            message = digest.compose(school.name, school.bpv_email, sender, day, rows, placements,
                                     school.placement_check)
            if args.dry_run:
                print(message.as_string())
                continue
            try:
                send = functools.partial(digest.send, config.notify, message)
                sent = store.send_digest_once(school.oin, day, len(rows), send)
            except OSError as exc:  # smtplib's errors are OSErrors too
                print(f"wl-adapter: {school.name}: the digest could not be sent to {school.bpv_email}: {exc}",
                      file=sys.stderr)
                failed += 1
                continue
            print(f"{school.name}: " + (f"digest of {len(rows)} mutation(s) sent to {school.bpv_email}" if sent
                                        else f"today's digest was already sent ({day.isoformat()})"))
    finally:
        store.close()
    return EXIT_SEND if failed else 0


def _run(args: argparse.Namespace) -> int:
    try:
        return args.command_func(args)
    except CliExit as exc:
        print(f"wl-adapter: {exc}", file=sys.stderr)
        return exc.code


def register(sub) -> None:
    mutations = sub.add_parser("mutations", help="mutations SBB pushed for the schools: list them, mail a digest")
    mutations_sub = mutations.add_subparsers(dest="mutations_command", required=True)
    p = mutations_sub.add_parser("list", help="a school's stored mutations, delivered or waiting")
    p.add_argument("--config", metavar="FILE", required=True, help="the adapter's TOML configuration")
    p.add_argument("--school", metavar="NAME", required=True, help="the school (its name or OIN)")
    p.add_argument("--undelivered", action="store_true", help="only those its system has not fetched yet")
    p.set_defaults(func=_run, command_func=_cmd_list)
    p = mutations_sub.add_parser("digest", help="mail each school's BPV office its new withdrawals and code changes "
                                                "(at most once a day per school)")
    p.add_argument("--config", metavar="FILE", required=True, help="the adapter's TOML configuration ([notify])")
    p.add_argument("--school", metavar="NAME", help="only this school")
    p.add_argument("--day", metavar="YYYY-MM-DD", help="the digest's day (default today)")
    p.add_argument("--dry-run", action="store_true", help="print the mails instead of sending them")
    p.set_defaults(func=_run, command_func=_cmd_digest)
