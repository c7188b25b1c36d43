"""``wl-adapter audit [LOG]``: the audit trail made readable — one line per call, or one call in full."""
from __future__ import annotations

import argparse
import sys

from lxml import etree

from adapter.ops.audit import read_records


def records(lines, correlation_id: str | None = None, operation: str | None = None, tenant: str | None = None):
    for rec in read_records(lines):
        if correlation_id and rec.get("correlation_id") != correlation_id:
            continue
        if operation and rec.get("operation") != operation:
            continue
        if tenant and tenant not in (rec.get("tenant"), rec.get("tenant_oin")):
            continue
        yield rec


def summary(rec: dict) -> str:
    legs = ", ".join(f"{leg['operation']} {leg['elapsed_ms']:.0f} ms"
                     + (f" [{leg['error']}]" if leg.get("error") else "")
                     for leg in rec.get("wl2", []))
    problems = "; ".join(rec.get("wl1_request_problems") or [])
    answer = "; ".join(rec.get("wl1_response_problems") or [])
    return (f"{rec['time']} {rec['correlation_id']} {rec.get('tenant') or '-'} {rec.get('operation') or '-'} "
            f"HTTP {rec['http_status']} signaalcode {rec.get('signaalcode')} {rec['total_ms']:.0f} ms"
            + (f" | WL 2.0: {legs}" if legs else "") + (f" | invalid request: {problems}" if problems else "")
            + (f" | invalid answer: {answer}" if answer else ""))


def _pretty(xml: str) -> str:
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
        return etree.tostring(etree.fromstring(xml.encode(), parser), pretty_print=True, encoding="unicode")
    except etree.XMLSyntaxError:
        return xml  # truncated or malformed: as logged


def full(rec: dict) -> str:
    out = [summary(rec)]
    messages = rec.get("messages")
    if not messages:
        out.append("(no message bodies: set [audit] bodies = true to log them)")
        return "\n".join(out)
    out += ["", "--- 1. WL 1.0 request (from the school) ---", _pretty(messages["wl1_request"])]
    for i, (leg, ex) in enumerate(zip(rec.get("wl2", []), messages.get("wl2", []), strict=False), start=1):
        out += [f"--- 2.{i} WL 2.0 request {leg['operation']} (wsa:MessageID {leg['message_id']}) ---",
                _pretty(ex["request"]), f"--- 3.{i} WL 2.0 response ---", _pretty(ex["response"])]
    out += ["--- 4. WL 1.0 answer (to the school) ---", _pretty(messages["wl1_response"])]
    return "\n".join(out)


def _run(args: argparse.Namespace) -> int:
    stream = open(args.log, encoding="utf-8", errors="replace") if args.log != "-" else sys.stdin
    with stream:
        found = list(records(stream, args.correlation_id, args.operation, args.tenant))
    if args.last:
        found = found[-args.last:]
    for rec in found:
        print(full(rec) if args.correlation_id else summary(rec))
    return 0 if found else 1


def register(sub) -> None:
    p = sub.add_parser("audit", help="read the adapter's audit trail (JSON lines on its stderr)")
    p.add_argument("log", nargs="?", default="-", help="the adapter's log file (default: standard input)")
    p.add_argument("--correlation-id", metavar="ID", help="show this call in full: its four messages")
    p.add_argument("--operation", metavar="NAME")
    p.add_argument("--tenant", metavar="NAME_OR_OIN")
    p.add_argument("--last", type=int, metavar="N", help="only the last N calls")
    p.set_defaults(func=_run)
