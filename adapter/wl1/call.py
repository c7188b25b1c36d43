"""One record per WL 1.0 call, from the bytes that came in to the bytes that went out.

Like spyne's one context object per request: every stage writes what it learned into the ``Call`` (the router the
bytes and the correlation id, the pipeline the tenant, the problems and the signaalcode, the WL 2.0 client its
exchanges), and once the answer is complete, just before the server sends it, the router hands the finished record
to the listeners (the audit trail, the metrics). No stage calls the audit or the metrics itself, so the bookkeeping
has one path. (Telling them after the answer was sent, from the WSGI iterable's ``close``, was measured in the tenth
round of issue 10 and gained nothing measurable at one client: docs/figures.md.)
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from adapter.config import Tenant
from adapter.contracts import Problem
from adapter.wl2.client import Exchange

log = logging.getLogger("wl_adapter.call")

ENVIRON_KEY = "wl_adapter.call"  # where the router leaves the Call for the service in the WSGI environ


@dataclass
class Call:
    """What one WL 1.0 call did. ``operation`` stays None for a request that never reached one (malformed XML,
    unknown operation, too large)."""

    correlation_id: str
    path: str = ""
    soap_action: str | None = None  # the HTTP headers as the school sent them (for recording and replay)
    content_type: str | None = None
    soap_version: str = "1.1"  # as the request's Content-Type chose
    refusal: str | None = None  # why the request was refused before any operation saw it
    started: float = field(default_factory=time.monotonic)
    request: bytes = b""
    operation: str | None = None
    tenant: Tenant | None = None
    request_problems: list[Problem] = field(default_factory=list)
    rate_limited: bool = False
    exchanges: list[Exchange] = field(default_factory=list)
    signaalcode: int | None = None
    response_problems: list[Problem] = field(default_factory=list)  # of the WL 1.0 answer
    response: bytes = b""
    http_status: int = 0

    @property
    def fault(self) -> str | None:
        """``Client`` or ``Server`` when the answer was a SOAP fault."""
        if self.http_status < 400:
            return None
        client = b"soap:Client" in self.response or b"soap:Sender" in self.response  # SOAP 1.2 says Sender
        return "Client" if client else "Server"

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started


Listener = Callable[[Call], None]


class CallListeners:
    """Who is told of every finished call. A listener that fails is logged; it never breaks an answer."""

    def __init__(self, *listeners: Listener):
        self._listeners = list(listeners)

    def add(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def done(self, call: Call) -> None:
        for listener in self._listeners:
            try:
                listener(call)
            except Exception:  # noqa: BLE001 - observing must never break an answer
                log.exception("call listener %r failed", listener)
