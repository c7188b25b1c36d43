"""Playing recorded WL 1.0 requests again, and what changed in the answers.

Sources: the opt-in recordings (``[audit] record_requests``: whole requests, licence removed) or an audit trail
with bodies (masked and possibly truncated: names are sent as ``***``, truncated requests are skipped). Licences
are re-supplied from a file the tester keeps (school name -> licence), never taken from any log.

Answers are compared after normalising what is meant to vary: GUIDs (BerichtID-like ids), VoordrachtId,
correlation ids, and the date of the day an answer was made. A difference is reported per call, with both answers'
lines, in a JSON and an HTML report.
"""
from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests
from jinja2 import Environment, select_autoescape
from lxml import etree

from adapter.ops.audit import mask
from adapter.ops.recording import RECORD_TYPE, REPLAY_PREFIX, with_licence, without_licence
from adapter.soap.xmlsafe import Limits, XmlRejected, parse

UNKNOWN_LICENCE = "REPLAY-UNKNOWN-LICENCE"  # for calls that had no valid licence: they answer 996 again
VARYING_ELEMENTS = frozenset({"BerichtID", "VoordrachtId", "MessageID", "RelatesTo", "CorrelationId",
                              "CorrelatieId"})
_GUID = re.compile(r"^(urn:uuid:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TRUNCATED = re.compile(r"\.\.\.\[\d+ more\]$")
_LIMITS = Limits(max_bytes=64 * 1024 * 1024, max_depth=128)


class ReplayError(Exception):
    """Input the replay cannot use (a missing file, a bad licences file): named, nothing sent."""


@dataclass
class Recorded:
    correlation_id: str
    time: str
    path: str
    operation: str | None
    tenant: str | None
    request: str
    response: str | None
    http_status: int | None
    soap_action: str | None = None
    content_type: str | None = None
    from_audit: bool = False  # masked names; answers compared masked

    @property
    def day(self) -> str:
        return self.time[:10]


@dataclass
class Answer:
    status: int | None
    body: str
    day: str
    error: str | None = None


@dataclass
class Outcome:
    correlation_id: str
    operation: str | None
    tenant: str | None
    path: str
    result: str  # unchanged | changed | error | skipped
    reason: str = ""
    before: dict = field(default_factory=dict)  # {"label", "status"}
    after: dict = field(default_factory=dict)
    diff: list[str] = field(default_factory=list)


# -- reading recordings -------------------------------------------------------------------------------------------
def _files(source: Path) -> list[Path]:
    if source.is_dir():  # a record_dir: its recordings; else every JSON-lines or log file in it
        found = sorted(source.glob("requests-*.jsonl"))
        return found or sorted(p for p in source.iterdir() if p.suffix in (".jsonl", ".log", ".json"))
    if source.is_file():
        return [source]
    raise ReplayError(f"{source}: no such file or directory")


def _from_line(line: str) -> Recorded | None:
    start = line.find("{")
    if start < 0:
        return None
    try:
        rec = json.loads(line[start:])
    except ValueError:
        return None
    if not isinstance(rec, dict):
        return None
    if rec.get("type") == RECORD_TYPE:
        return Recorded(rec["correlation_id"], rec["time"], rec.get("path") or "/wl1", rec.get("operation"),
                        rec.get("tenant"), rec["request"], rec.get("response"), rec.get("http_status"),
                        rec.get("soap_action"), rec.get("content_type"))
    if rec.get("type") == "wl1_call" and (rec.get("messages") or {}).get("wl1_request"):
        messages = rec["messages"]
        return Recorded(rec["correlation_id"], rec["time"], rec.get("path") or "/wl1", rec.get("operation"),
                        rec.get("tenant"), without_licence(messages["wl1_request"]), messages.get("wl1_response"),
                        rec.get("http_status"), from_audit=True)
    return None


def read_recordings(source: Path) -> Iterator[Recorded]:
    for path in _files(source):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                found = _from_line(line)
                if found is not None:
                    yield found


def read_licences(path: Path) -> dict[str, str]:
    """A TOML file of ``"School name" = "licence"`` lines (optionally under [licences])."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ReplayError(f"{path}: not valid TOML: {exc}") from None
    table = raw.get("licences", raw)
    bad = [k for k, v in table.items() if not isinstance(v, str) or not v]
    if bad:
        raise ReplayError(f"{path}: {bad[0]}: expected a licence string")
    return dict(table)


# -- normalising and comparing ------------------------------------------------------------------------------------
def _norm_text(text: str, day: str) -> str:
    text = text.strip()
    if _GUID.match(text):
        return "<guid>"
    return text.replace(day, "<today>") if day else text


def normalised_lines(body: str, day: str) -> list[str]:
    """One line per element and attribute, ``path: text``, prefixes replaced by local names; what varies neutral."""
    try:
        root = parse(body.encode("utf-8"), _LIMITS)
    except (XmlRejected, ValueError):
        return [_norm_text(line, day) for line in body.splitlines()]
    lines = []

    def walk(el: etree._Element, path: str) -> None:
        name = etree.QName(el).localname
        here = f"{path}/{name}" if path else name
        for attr, value in sorted(el.attrib.items()):
            lines.append(f"{here}/@{etree.QName(attr).localname}: {_norm_text(value, day)}")
        children = [c for c in el if isinstance(c.tag, str)]
        if name in VARYING_ELEMENTS:
            lines.append(f"{here}: <varies>")
        elif not children:
            lines.append(f"{here}: {_norm_text(el.text or '', day)}")
        for child in children:
            walk(child, here)

    walk(root, "")
    return lines


def compare(before: Answer, after: Answer) -> list[str]:
    """A unified diff of the normalised answers; [] when they are the same."""
    a = [f"HTTP {before.status}"] + normalised_lines(before.body, before.day)
    b = [f"HTTP {after.status}"] + normalised_lines(after.body, after.day)
    return list(difflib.unified_diff(a, b, "before", "after", lineterm="", n=2))


# -- sending ------------------------------------------------------------------------------------------------------
def endpoint(base: str, path: str) -> str:
    """``base`` with the recorded path, unless ``base`` names a path itself."""
    from urllib.parse import urlsplit

    return base if urlsplit(base).path not in ("", "/") else base.rstrip("/") + path


def send(session: requests.Session, url: str, rec: Recorded, body: str, timeout: float) -> Answer:
    headers = {"Content-Type": rec.content_type or "text/xml; charset=utf-8",
               "X-Correlation-ID": f"{REPLAY_PREFIX}{rec.correlation_id}"[:64]}
    if rec.soap_action is not None:
        headers["SOAPAction"] = rec.soap_action
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    try:
        r = session.post(endpoint(url, rec.path), data=body.encode("utf-8"), headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        return Answer(None, "", today, f"{type(exc).__name__}: {exc}")
    return Answer(r.status_code, r.content.decode("utf-8", "replace"), today)


@dataclass
class Options:
    target: str
    compare_with: str | None = None
    timeout: float = 30.0
    operation: str | None = None
    limit: int | None = None


def replay(recordings: Iterable[Recorded], licences: dict[str, str], options: Options) -> list[Outcome]:
    outcomes = []
    session = requests.Session()
    for n, rec in enumerate(r for r in recordings if not options.operation or r.operation == options.operation):
        if options.limit is not None and n >= options.limit:
            break
        outcomes.append(_one(session, rec, licences, options))
    return outcomes


def _one(session: requests.Session, rec: Recorded, licences: dict[str, str], options: Options) -> Outcome:
    out = Outcome(rec.correlation_id, rec.operation, rec.tenant, rec.path, "unchanged")
    if rec.tenant is not None and rec.tenant not in licences:
        out.result, out.reason = "skipped", f"no licence for school '{rec.tenant}' in the licences file"
        return out
    if _TRUNCATED.search(rec.request):
        out.result, out.reason = "skipped", "the request was truncated in the audit trail"
        return out
    body = with_licence(rec.request, licences[rec.tenant] if rec.tenant is not None else UNKNOWN_LICENCE)
    after = send(session, options.target, rec, body, options.timeout)
    if options.compare_with:
        before = send(session, options.compare_with, rec, body, options.timeout)
        out.before, out.after = {"label": options.compare_with, "status": before.status}, \
            {"label": options.target, "status": after.status}
    else:
        if rec.response is None or _TRUNCATED.search(rec.response):
            out.result, out.reason = "skipped", "no whole recorded answer to compare with"
            return out
        before = Answer(rec.http_status, rec.response, rec.day)
        out.before, out.after = {"label": f"recorded {rec.time}", "status": rec.http_status}, \
            {"label": options.target, "status": after.status}
        if rec.from_audit:
            after.body = mask(after.body)
    for answer in (before, after):
        if answer.error:
            out.result, out.reason = "error", answer.error
            return out
    out.diff = compare(before, after)
    out.result = "changed" if out.diff else "unchanged"
    return out


# -- the report ---------------------------------------------------------------------------------------------------
REPORT_HTML = """<!DOCTYPE html>
<html lang="nl"><head><meta charset="utf-8"><title>wl-adapter replay report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em; } table { border-collapse: collapse; }
td, th { border: 1px solid #ddd; padding: .2em .5em; text-align: left; } pre { background: #f6f6f6; padding: .5em; }
.add { color: #1b6e20; } .del { color: #b00020; } .changed { background: #fff4e0; } .error { background: #fdecea; }
</style></head><body>
<h1>Replay report</h1>
<p>{{ summary.replayed }} calls replayed against {{ summary.target }}{% if summary.compare_with %}, compared with
{{ summary.compare_with }}{% else %}, compared with the recorded answers{% endif %} on {{ summary.when }}:
<strong>{{ summary.changed }} changed</strong>, {{ summary.unchanged }} unchanged, {{ summary.errors }} errors,
{{ summary.skipped }} skipped. Ignored as meant to vary: GUIDs (BerichtID and the like), VoordrachtId, correlation
ids, the date of the day each answer was made.</p>
<table><tr><th>result</th><th>correlation id</th><th>school</th><th>operation</th><th>before</th><th>after</th>
<th>why</th></tr>
{% for o in outcomes %}<tr class="{{ o.result }}"><td>{{ o.result }}</td>
<td><a href="#{{ o.correlation_id }}">{{ o.correlation_id }}</a></td>
<td>{{ o.tenant or "-" }}</td><td>{{ o.operation or "-" }}</td><td>{{ o.before.label }} {{ o.before.status }}</td>
<td>{{ o.after.label }} {{ o.after.status }}</td><td>{{ o.reason }}</td></tr>
{% endfor %}</table>
{% for o in outcomes if o.diff %}
<h2 id="{{ o.correlation_id }}">{{ o.operation or "-" }} — {{ o.tenant or "-" }} — {{ o.correlation_id }}</h2>
<pre>{% for line in o.diff %}<span class="{{ {'+': 'add', '-': 'del'}.get(line[:1], '') }}">{{ line }}</span>
{% endfor %}</pre>
{% endfor %}
</body></html>
"""


def summary(outcomes: list[Outcome], options: Options) -> dict:
    counts = {k: sum(o.result == k for o in outcomes) for k in ("changed", "unchanged", "error", "skipped")}
    return {"target": options.target, "compare_with": options.compare_with, "replayed": len(outcomes),
            "changed": counts["changed"], "unchanged": counts["unchanged"], "errors": counts["error"],
            "skipped": counts["skipped"], "when": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def write_report(outcomes: list[Outcome], options: Options, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    info = summary(outcomes, options)
    json_path, html_path = directory / "replay-report.json", directory / "replay-report.html"
    reported = [asdict(o) for o in outcomes if o.result != "unchanged"]
    json_path.write_text(json.dumps({"summary": info, "differences": reported}, indent=1, ensure_ascii=False),
                         encoding="utf-8")
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    html_path.write_text(env.from_string(REPORT_HTML).render(summary=info, outcomes=outcomes), encoding="utf-8")
    return json_path, html_path
