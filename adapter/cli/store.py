"""Store tools: ``mapping import``, ``subscriptions import``, ``subscriptions list`` and ``subscriptions sync``.

Exit codes: 0 done; 1 the file has bad rows (each printed as FILE:LINE: reason; nothing was loaded), or (sync)
WL 2.0 is unreachable or answered unusably for a school; 2 the file or the configuration cannot be read;
3 the store cannot be opened or migrated.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from adapter.cli.common import CliExit
from adapter.cli.common import open_store as _open_store

EXIT_BAD_ROWS, EXIT_UNREADABLE = 1, 2  # EXIT_STORE (3): cli/common.py


def add_store_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", metavar="FILE", help="the adapter's TOML configuration (its [store] url)")
    where.add_argument("--store-url", metavar="URL", help="sqlite:///PATH or postgresql+psycopg://...")


def store_url(args: argparse.Namespace) -> str:
    if args.store_url:
        return args.store_url
    from adapter.config import load_config
    from adapter.errors import ConfigError

    try:
        return load_config(args.config).store.url
    except ConfigError as exc:
        raise CliExit(EXIT_UNREADABLE, f"configuration: {exc}") from None


def open_store(args: argparse.Namespace):
    """The store named by --store-url or --config, migrated to the newest schema."""
    return _open_store(store_url(args))


def _run(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except CliExit as exc:
            print(f"wl-adapter: {exc}", file=sys.stderr)
            return exc.code
    return run


def _import(args: argparse.Namespace, columns: tuple[str, ...], load) -> int:
    """Read FILE, hand its rows to ``load(store, rows)``, report the counts or every bad line."""
    from adapter.errors import ImportRejected, UnreadableFile
    from adapter.store.csvfile import read_rows

    try:
        rows = read_rows(args.file, columns)
    except UnreadableFile as exc:
        raise CliExit(EXIT_UNREADABLE, f"{args.file}: {exc}") from None
    store = open_store(args)
    try:
        result = load(store, rows)
    except ImportRejected as exc:
        for problem in exc.problems:
            print(f"{args.file}:{problem.line}: {problem.reason}")
        print(f"{args.file}: {len(exc.problems)} bad line(s); nothing was loaded", file=sys.stderr)
        return EXIT_BAD_ROWS
    finally:
        store.close()
    print(result)
    return 0


def _cmd_mapping_import(args: argparse.Namespace) -> int:
    from adapter.store.mappings import MAPPING_COLUMNS

    return _import(args, MAPPING_COLUMNS, lambda store, rows: store.import_mappings(rows))


def _cmd_subscriptions_import(args: argparse.Namespace) -> int:
    from adapter.store.subscriptions import SUBSCRIPTION_COLUMNS

    return _import(args, SUBSCRIPTION_COLUMNS, lambda store, rows: store.import_subscription_intents(rows))


def _cmd_subscriptions_list(args: argparse.Namespace) -> int:
    store = open_store(args)
    try:
        active = store.list_subscriptions(args.tenant)
        pending = store.list_subscription_intents(args.tenant)
    finally:
        store.close()
    table = [("tenant_oin", "leerbedrijf_id", "crebo", "status", "abonnement_id", "since")]
    table += [(s.tenant_oin, s.leerbedrijf_id, s.crebo or "(all)", "active", s.abonnement_id,
               s.since.isoformat(timespec="seconds")) for s in active]
    table += [(i.tenant_oin, i.leerbedrijf_id, i.crebo or "(all)",
               f"pending, {i.attempts} attempt(s)" + (f", last error: {i.last_error}" if i.last_error else ""),
               "-", i.created_at.isoformat(timespec="seconds")) for i in pending]
    widths = [max(len(row[col]) for row in table) for col in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if len(table) == 1:
        print("(no subscriptions)")
    return 0


def _cmd_subscriptions_sync(args: argparse.Namespace) -> int:
    from adapter.config import load_config
    from adapter.errors import ConfigError, UpstreamUnavailable
    from adapter.mutations.sync import sync_subscriptions
    from adapter.wl2.clients import Wl2Clients

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise CliExit(EXIT_UNREADABLE, f"configuration: {exc}") from None
    tenants = [t for t in config.tenants if args.tenant in (None, t.oin)]
    if not tenants:
        raise CliExit(EXIT_UNREADABLE, f"no configured school has OIN {args.tenant}" if args.tenant
                    else "the configuration has no schools ([[tenants]])")
    store = open_store(args)
    try:
        results = sync_subscriptions(store, Wl2Clients(config.upstream), tenants, config.afleveradres)
    except UpstreamUnavailable as exc:
        raise CliExit(EXIT_BAD_ROWS, f"WL 2.0 at {config.upstream.url} is unreachable ({exc}); "
                                   "nothing more was changed, run the sync again later") from None
    finally:
        store.close()
    for result in results:
        for line in result.lines():
            print(line)
    failed = [r for r in results if r.error]
    if failed:
        print(f"wl-adapter: subscriptions sync failed for {len(failed)} school(s)", file=sys.stderr)
        return EXIT_BAD_ROWS
    return 0


def register(subparsers) -> None:
    mapping = subparsers.add_parser("mapping", help="the CodeLeerbedrijf → LeerbedrijfId mapping table")
    mapping_sub = mapping.add_subparsers(dest="mapping_command", required=True)
    p = mapping_sub.add_parser("import", help="load a CSV code_leerbedrijf,leerbedrijf_id (all or nothing)")
    p.add_argument("file", metavar="FILE.csv")
    add_store_options(p)
    p.set_defaults(func=_run(_cmd_mapping_import))

    subscriptions = subparsers.add_parser("subscriptions", help="the schools' mutation subscriptions")
    subscriptions_sub = subscriptions.add_subparsers(dest="subscriptions_command", required=True)
    p = subscriptions_sub.add_parser("import", help="record intents from a CSV tenant_oin,code_leerbedrijf,crebonummer")
    p.add_argument("file", metavar="FILE.csv")
    add_store_options(p)
    p.set_defaults(func=_run(_cmd_subscriptions_import))
    p = subscriptions_sub.add_parser("list", help="subscriptions and pending intents as a table")
    p.add_argument("--tenant", metavar="OIN", help="only this school")
    add_store_options(p)
    p.set_defaults(func=_run(_cmd_subscriptions_list))
    p = subscriptions_sub.add_parser(
        "sync", help="reconcile with WL 2.0 OverzichtLopendeAbonnementen: end unwanted, re-subscribe missing ones")
    p.add_argument("--config", metavar="FILE", required=True, help="the adapter's TOML configuration")
    p.add_argument("--tenant", metavar="OIN", help="only this school")
    p.set_defaults(func=_run(_cmd_subscriptions_sync), store_url=None)
