"""One record per push to /wl2/mutaties, as ``wl1/call.py`` is for a WL 1.0 call.

The receiver writes into the ``Push`` what it learned (who sent it, for which school, what it said, what became of
it) and, once the answer is made, hands the record to the listeners: the audit trail (``ops/audit.py``, type
``wl2_push``) and the metrics. The receiver calls neither itself, so the bookkeeping has one path.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from adapter.config import Tenant
from adapter.store import Mutation

log = logging.getLogger("wl_adapter.receiver")


@dataclass
class Push:
    peer: str  # REMOTE_ADDR: the TCP peer (SBB, or the proxy in front)
    started: float = field(default_factory=time.monotonic)
    subject: str | None = None  # the authenticated sender; None when refused
    refused: str | None = None  # why the sender was not accepted as SBB (HTTP 403)
    message_id: str | None = None
    fault: str | None = None  # "Client: ..." or "Server: ...": answered with a SOAP fault
    signaalcode: int | None = None
    foutmelding: str | None = None
    tenant: Tenant | None = None
    mutation: Mutation | None = None
    created: bool | None = None  # stored now (True) or before (False: a repeat or a fan-out copy)

    @property
    def outcome(self) -> str:
        """In one word: ``refused``, ``fault`` (SBB retries), ``rejected`` (signaalcode 20 or 90), ``stored`` or
        ``duplicate`` (acknowledged, stored before)."""
        if self.refused is not None:
            return "refused"
        if self.fault is not None:
            return "fault"
        if self.signaalcode != 0:
            return "rejected"
        return "stored" if self.created else "duplicate"

    @property
    def http_status(self) -> int:
        return 403 if self.refused is not None else 500 if self.fault is not None else 200

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started


Listener = Callable[[Push], None]


class PushListeners:
    """Who is told of every push answered. A listener that fails is logged; it never breaks an answer."""

    def __init__(self, *listeners: Listener):
        self._listeners = list(listeners)

    def done(self, push: Push) -> None:
        for listener in self._listeners:
            try:
                listener(push)
            except Exception:  # noqa: BLE001 - observing must never break an answer
                log.exception("push listener %r failed", listener)
