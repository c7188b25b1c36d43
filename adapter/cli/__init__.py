"""The ``wl-adapter`` command line: validate, simulate, serve, demo, mapping, subscriptions."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_validate(args: argparse.Namespace) -> int:
    from adapter import contracts
    from adapter.errors import XmlRejected
    from adapter.soap.xmlsafe import Limits, parse

    # captured files may be large answers (a full search result); the limits only keep a broken file from hanging
    _FILE_LIMITS = Limits(max_bytes=64 * 1024 * 1024, max_depth=256, max_elements=10_000_000, max_attributes=1024,
                          max_namespaces=4096, max_name_chars=4096, max_attribute_chars=1024 * 1024,
                          max_text_chars=64 * 1024 * 1024)
    contract = contracts.CONTRACTS[args.contract] if args.contract else None
    worst = 0
    for name in args.files:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            print(f"{name}: cannot read: {exc.strerror}", file=sys.stderr)
            worst = 2
            continue
        try:
            root = parse(data, _FILE_LIMITS)
        except XmlRejected as exc:
            print(f"{name}:0: (document): {exc.reason}")
            worst = max(worst, 2)
            continue
        problems = contracts.validate_document(root, contract)
        for p in problems:
            print(f"{name}:{p.line or 0}: {p.element}: {p.reason}")
        if problems:
            worst = max(worst, 1)
        elif not args.quiet:
            print(f"{name}: valid")
    return worst


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wl-adapter", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="validate captured WL 1.0 / WL 2.0 messages against the frozen XSDs")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--contract", choices=["wl1", "wl2"], help="default: detected from each message's namespace")
    p.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    p.set_defaults(func=_cmd_validate)

    for register in _registrars():
        register(sub)
    return parser


# The other subcommands live with what they run; each of these modules keeps its heavy imports inside its
# command functions, so building the parser stays cheap.
_SUBCOMMAND_MODULES = ("adapter.cli.simulate", "adapter.cli.serve", "adapter.cli.store", "adapter.cli.audit",
                       "adapter.cli.demo", "adapter.cli.bpv", "adapter.cli.mutations",
                       "adapter.cli.report", "adapter.cli.replay")


def _registrars() -> list:
    import importlib

    return [importlib.import_module(name).register for name in _SUBCOMMAND_MODULES]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    raise SystemExit(main())
