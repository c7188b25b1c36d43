"""A stand-in WL 2.0 upstream for bench/compare.py: replays captured answers, costs little CPU, optional latency.

Why it exists: bench/compare.py measures the adapter against a byte pass-through proxy, and both need an upstream
that answers the same thing every time, fast, without taking the two cores from the servers under test (the real
simulator spends ~1.5 ms of CPU per call). This is one process, one asyncio loop, stdlib only: it reads a request,
looks up the recorded answer, rewrites what must echo the request and writes it back.

Modes:
  record  every POST is forwarded to ``--record-from`` (a real ``wl-adapter simulate``); request and answer are kept
  replay  every POST is answered from what was kept (the default once ``/_standin/mode?replay`` was called)

An answer is found by the request with its per-call identifiers blanked (``MessageID``, ``BerichtID``), else by its
``wsa:Action`` (the last answer recorded for that operation; an ``AbonnementId`` in it is then replaced by one derived
from the request, so that two subscriptions never share one). Per answer, ``wsa:RelatesTo`` becomes the request's
``wsa:MessageID``, ``wsa:Action`` becomes the request's Action + ``Response`` and the answer gets a fresh
``wsa:MessageID``: the adapter checks the first two (adapter/wl2/client.py).

``--latency-ms N`` (or ``POST /_standin/latency?ms=N`` at run time) answers N ms late without holding CPU: each
connection is a coroutine that sleeps, so any number of calls can wait at once.

Control endpoints (JSON): ``GET /_standin/stats``, ``GET /_standin/captures``, ``POST /_standin/mode?record|replay``,
``POST /_standin/latency?ms=N``, ``POST /_standin/add`` (body: JSON {"request", "answer", "status", "content_type"}).

Usage: python bench/standin.py --port 8091 [--latency-ms 0] [--record-from http://127.0.0.1:8081/wl2]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

_VOLATILE = re.compile(rb"<((?:[\w.-]+:)?(?:MessageID|BerichtID))(?:\s[^>]*)?>[^<]*</\1\s*>")
_ACTION = re.compile(rb"<(?:[\w.-]+:)?Action(?:\s[^>]*)?>\s*([^<\s]*)\s*</")
_MESSAGE_ID = re.compile(rb"<(?:[\w.-]+:)?MessageID(?:\s[^>]*)?>\s*([^<\s]*)\s*</")
# the parts of a recorded answer that change per request: (pattern, placeholder)
_TEMPLATE = (
    (re.compile(rb"(<(?:[\w.-]+:)?RelatesTo(?:\s[^>]*)?>)[^<]*(</)"), b"\x00RELATES\x00"),
    (re.compile(rb"(<(?:[\w.-]+:)?Action(?:\s[^>]*)?>)[^<]*(</)"), b"\x00ACTION\x00"),
    (re.compile(rb"(<(?:[\w.-]+:)?MessageID(?:\s[^>]*)?>)[^<]*(</)"), b"\x00MSGID\x00"),
)
_ABONNEMENT_ID = re.compile(rb"(<(?:[\w.-]+:)?AbonnementId(?:\s[^>]*)?>)([^<]*)(</)")


def fingerprint(request: bytes) -> bytes:
    """The request without what differs per call."""
    return _VOLATILE.sub(b"", request)


@dataclass
class Answer:
    status: int
    content_type: bytes
    template: bytes  # the answer with placeholders for RelatesTo, Action and MessageID

    @classmethod
    def of(cls, status: int, content_type: str, body: bytes) -> "Answer":
        for pattern, placeholder in _TEMPLATE:
            def fill(m: re.Match, placeholder: bytes = placeholder) -> bytes:
                return m.group(1) + placeholder + m.group(2)
            body = pattern.sub(fill, body, count=1)
        return cls(status, content_type.encode("latin-1"), body)

    def render(self, request: bytes, exact: bool = True) -> bytes:
        body = self.template
        if not exact and b"AbonnementId>" in body:
            # an answer recorded for another request: a subscription must not get that request's AbonnementId
            # (the adapter keeps one subscription per AbonnementId); the same request gets the same id again
            fresh = str(uuid.uuid5(uuid.NAMESPACE_URL, fingerprint(request).decode("utf-8", "replace"))).encode()
            body = _ABONNEMENT_ID.sub(lambda m: m.group(1) + fresh + m.group(3), body)
        if b"\x00" not in body:
            return body
        m = _MESSAGE_ID.search(request)
        body = body.replace(b"\x00RELATES\x00", m.group(1) if m else b"")
        a = _ACTION.search(request)
        if a:
            action = a.group(1)
            body = body.replace(b"\x00ACTION\x00", action if action.endswith(b"Response") else action + b"Response")
        return body.replace(b"\x00MSGID\x00", b"urn:uuid:" + str(uuid.uuid4()).encode())


class StandIn:
    def __init__(self, latency_ms: float = 0.0, record_from: str | None = None):
        self.latency_s = latency_ms / 1000
        self.record_from = record_from
        self.mode = "record" if record_from else "replay"
        self.by_request: dict[bytes, Answer] = {}
        self.by_action: dict[bytes, Answer] = {}
        self.captures: list[dict] = []
        self.stats = {"requests": 0, "misses": 0}

    # -- recording ------------------------------------------------------------------------------------------
    def keep(self, request: bytes, status: int, content_type: str, answer: bytes) -> None:
        a = Answer.of(status, content_type, answer)
        self.by_request[fingerprint(request)] = a
        action = _ACTION.search(request)
        if action:
            self.by_action[action.group(1)] = a
        self.captures.append({"action": action.group(1).decode() if action else None,
                              "request": request.decode("utf-8"), "status": status, "content_type": content_type,
                              "answer": answer.decode("utf-8")})

    def _forward(self, request: bytes, headers: dict[bytes, bytes]) -> tuple[int, str, bytes]:
        req = urllib.request.Request(self.record_from, data=request, method="POST", headers={
            "Content-Type": headers.get(b"content-type", b"text/xml; charset=utf-8").decode("latin-1"),
            **({"SOAPAction": headers[b"soapaction"].decode("latin-1")} if b"soapaction" in headers else {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers.get("Content-Type", "text/xml; charset=utf-8"), r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", "text/xml; charset=utf-8"), exc.read()

    # -- answering ------------------------------------------------------------------------------------------
    async def answer(self, request: bytes, headers: dict[bytes, bytes]) -> tuple[int, bytes, bytes]:
        self.stats["requests"] += 1
        if self.mode == "record":
            status, ctype, body = await asyncio.get_running_loop().run_in_executor(
                None, self._forward, request, headers)
            self.keep(request, status, ctype, body)
            return status, ctype.encode("latin-1"), body
        a = self.by_request.get(fingerprint(request))
        exact = a is not None
        if a is None:
            action = _ACTION.search(request)
            a = self.by_action.get(action.group(1)) if action else None
            self.stats["misses"] += 1
            if a is None:
                return 500, b"text/plain", b"stand-in: no answer recorded for this request"
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        return a.status, a.content_type, a.render(request, exact)

    def control(self, method: bytes, target: bytes, body: bytes) -> tuple[int, bytes]:
        path, _, query = target.decode("latin-1").partition("?")
        if path == "/_standin/stats":
            return 200, json.dumps({**self.stats, "mode": self.mode, "latency_ms": self.latency_s * 1000,
                                    "answers": len(self.by_request)}).encode()
        if path == "/_standin/captures":
            return 200, json.dumps(self.captures).encode()
        if path == "/_standin/mode" and method == b"POST" and query in ("record", "replay"):
            if query == "record" and not self.record_from:
                return 400, b'{"error": "started without --record-from"}'
            self.mode = query
            return 200, json.dumps({"mode": self.mode}).encode()
        if path == "/_standin/latency" and method == b"POST" and query.startswith("ms="):
            self.latency_s = float(query[3:]) / 1000
            return 200, json.dumps({"latency_ms": self.latency_s * 1000}).encode()
        if path == "/_standin/add" and method == b"POST":
            d = json.loads(body)
            self.keep(d["request"].encode("utf-8"), d.get("status", 200),
                      d.get("content_type", "text/xml; charset=utf-8"), d["answer"].encode("utf-8"))
            return 200, b'{"added": true}'
        if path == "/_standin/reset" and method == b"POST":
            self.stats = {"requests": 0, "misses": 0}
            return 200, b"{}"
        return 404, b'{"error": "unknown control path"}'

    # -- HTTP/1.1 with keep-alive ---------------------------------------------------------------------------
    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.split(b"\r\n")
                method, target, version = (lines[0].split(b" ", 2) + [b"", b""])[:3]
                headers = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(b":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get(b"content-length", b"0") or 0)
                body = await reader.readexactly(length) if length else b""
                close = headers.get(b"connection", b"").lower() == b"close" or version == b"HTTP/1.0"
                if target.startswith(b"/_standin/"):
                    status, payload = self.control(method, target, body)
                    ctype = b"application/json"
                elif method == b"POST":
                    status, ctype, payload = await self.answer(body, headers)
                else:  # a GET (readiness probe, wsdl): any answer says the line is up
                    status, ctype, payload = 200, b"text/plain", b"stand-in WL 2.0 upstream\n"
                reason = b"OK" if status == 200 else b"Internal Server Error" if status == 500 else b"Other"
                writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n"
                             % (status, reason, ctype, len(payload), b"Connection: close\r\n" if close else b"")
                             + payload)
                await writer.drain()
                if close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()


async def serve(host: str, port: int, standin: StandIn) -> None:
    server = await asyncio.start_server(standin.connection, host, port, backlog=1024, reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        print(f"stand-in WL 2.0 upstream on http://{host}:{port}/wl2 ({standin.mode})", flush=True)
        await stop.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8091)
    ap.add_argument("--latency-ms", type=float, default=0.0, help="answer this many ms late (no CPU held)")
    ap.add_argument("--record-from", metavar="URL", help="start in record mode, forwarding to this WL 2.0 URL")
    args = ap.parse_args()
    asyncio.run(serve(args.host, args.port, StandIn(args.latency_ms, args.record_from)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
