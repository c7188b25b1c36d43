"""Pushing MutatieLeerbedrijf to subscribers' Afleveradres, retried with exponential back-off until acknowledged.

One background thread (started on the first push, so never before gunicorn forks) with its own requests.Session.
Per subscription the pushes go strictly in order: the next is sent only once the one before is final
(acknowledged, or failed for good). A ``soap:Server`` fault, a refused connection, a timeout, an HTTP error or an
unreadable answer is retried; signaalcode 0 acknowledges; signaalcode 20 or 90 and a ``soap:Client`` fault are final.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import requests
from lxml import etree

from adapter.contracts import WL2
from adapter.errors import SoapFault
from adapter.simulator import xmlout as x
from adapter.soap import addressing
from adapter.soap.envelope import CONTENT_TYPE, ENV, envelope, parse_envelope, to_bytes

OPERATION = "MutatieLeerbedrijf"
BACKOFF_CAP_S = 30.0
FINAL_SIGNAALCODES = frozenset({20, 90})
PENDING, ACKNOWLEDGED, FAILED = "pending", "acknowledged", "failed"


@dataclass
class Mutation:
    """What changed; one Mutation is pushed to every matching subscription."""

    soort: str
    leerbedrijf_id: str
    ingangsdatum: dt.date
    oud_leerbedrijf_id: str | None = None
    crebo: str | None = None
    toelichting: str | None = None


@dataclass
class Push:
    mutatie_id: str
    abonnement_id: str
    school_oin: str
    afleveradres: str
    mutation: Mutation
    message: bytes
    state: str = PENDING
    attempts: int = 0
    last_error: str | None = None
    queued_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    finished_at: dt.datetime | None = None
    next_attempt: float = 0.0  # time.monotonic()

    def as_json(self) -> dict:
        m = self.mutation
        return {
            "mutatieId": self.mutatie_id, "abonnementId": self.abonnement_id, "schoolOin": self.school_oin,
            "afleveradres": self.afleveradres, "soort": m.soort, "leerbedrijfId": m.leerbedrijf_id,
            "oudLeerbedrijfId": m.oud_leerbedrijf_id, "crebonummer": m.crebo,
            "ingangsdatum": m.ingangsdatum.isoformat(), "toelichting": m.toelichting, "state": self.state,
            "attempts": self.attempts, "lastError": self.last_error, "queuedAt": _iso(self.queued_at),
            "finishedAt": _iso(self.finished_at),
        }


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds")


def build_message(mutatie_id: str, abonnement_id: str, m: Mutation, to: str, sim_oin: str) -> bytes:
    body = etree.Element(x.NS + OPERATION + "Request", nsmap=x.NSMAP)
    x.sub(body, "BerichtID", x.guid())
    x.sub(body, "MutatieId", mutatie_id)
    x.sub(body, "AbonnementId", abonnement_id)
    x.sub(body, "Soort", m.soort)
    x.sub(body, "LeerbedrijfId", m.leerbedrijf_id)
    x.opt(body, "OudLeerbedrijfId", m.oud_leerbedrijf_id)
    x.opt(body, "Crebonummer", m.crebo)
    x.sub(body, "Ingangsdatum", m.ingangsdatum)
    x.opt(body, "Toelichting", m.toelichting)
    problems = WL2.validate(body)
    if problems:  # a bug in the simulator, not in the receiver
        raise ValueError("push would not be valid: " + "; ".join(map(str, problems)))
    headers = addressing.request_headers(OPERATION, to, sim_oin)
    return to_bytes(envelope(body, headers))


class PushSender:
    def __init__(self, sim_oin: str, max_attempts: int = 50, backoff_s: float = 0.2,
                 client_cert: tuple[str, str] | None = None, verify: str | bool = True, timeout_s: float = 10.0):
        self.sim_oin = sim_oin
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.client_cert = client_cert
        self.verify = verify
        self.timeout_s = timeout_s
        self.pushes: list[Push] = []
        self.journal: Any = None  # the simulator's MessageLog: every attempt and its acknowledgement is recorded there
        self._queues: dict[str, deque[Push]] = {}
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._generation = 0  # bumped by reset(): an attempt in flight during a reset is forgotten

    def reset(self) -> None:
        """Forget every push, pending or not (POST /admin/reset)."""
        with self._wake:
            self.pushes.clear()
            self._queues.clear()
            self._generation += 1

    def enqueue(self, abonnement_id: str, school_oin: str, afleveradres: str, mutation: Mutation) -> Push:
        mutatie_id = str(uuid.uuid4())
        to = addressing.with_oin(afleveradres, school_oin)
        push = Push(mutatie_id, abonnement_id, school_oin, afleveradres, mutation,
                    build_message(mutatie_id, abonnement_id, mutation, to, self.sim_oin))
        with self._wake:
            self.pushes.append(push)
            self._queues.setdefault(abonnement_id, deque()).append(push)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="push-sender", daemon=True)
                self._thread.start()
            self._wake.notify()
        return push

    def listing(self) -> list[dict]:
        with self._wake:
            return [p.as_json() for p in self.pushes]

    def _next_due(self) -> tuple[Push | None, float | None]:
        """The first queue head that is due, else (None, seconds until the earliest one)."""
        now = time.monotonic()
        earliest = None
        for queue in self._queues.values():
            if queue:
                head = queue[0]
                if head.next_attempt <= now:
                    return head, None
                earliest = head.next_attempt if earliest is None else min(earliest, head.next_attempt)
        return None, None if earliest is None else earliest - now

    def _run(self) -> None:
        session = requests.Session()
        # the environment (REQUESTS_CA_BUNDLE, proxies, .netrc) must not override --push-ca: with trust_env
        # requests merges REQUESTS_CA_BUNDLE over session.verify; cert and verify are also passed per request
        session.trust_env = False
        session.cert = self.client_cert
        session.verify = self.verify
        while True:
            with self._wake:
                push, wait = self._next_due()
                while push is None:
                    self._wake.wait(wait)
                    push, wait = self._next_due()
                generation = self._generation
            outcome, error, response, status = self._attempt(session, push)
            with self._wake:
                if generation != self._generation:
                    continue  # reset while it was on its way
                push.attempts += 1
                push.last_error = error
                if outcome == PENDING and push.attempts >= self.max_attempts:
                    outcome = FAILED
                    push.last_error = f"gave up after {push.attempts} attempts; last: {error}"
                if outcome == PENDING:
                    delay = min(self.backoff_s * 2 ** (push.attempts - 1), BACKOFF_CAP_S)
                    push.next_attempt = time.monotonic() + delay
                else:
                    push.state = outcome
                    push.finished_at = dt.datetime.now(dt.timezone.utc)
                    queue = self._queues[push.abonnement_id]
                    queue.popleft()
                    if not queue:
                        del self._queues[push.abonnement_id]
                if self.journal is not None:
                    self.journal.record_push(push, push.attempts, outcome, response, push.last_error, status)

    def _attempt(self, session: requests.Session, push: Push) -> tuple[str, str | None, bytes | None, int | None]:
        """(outcome, error, the receiver's answer, its HTTP status): PENDING means try again later."""
        try:
            r = session.post(push.afleveradres, data=push.message, timeout=(3.0, self.timeout_s),
                             verify=self.verify, cert=self.client_cert, headers={
                "Content-Type": CONTENT_TYPE, "SOAPAction": f'"{addressing.action(OPERATION)}"'})
        except Exception as exc:  # noqa: BLE001 - refused, timeout, TLS, ...: never let the sender thread die
            return PENDING, f"{type(exc).__name__}: {exc}", None, None
        outcome, error = self._judge(r)
        return outcome, error, r.content, r.status_code

    @staticmethod
    def _judge(r: requests.Response) -> tuple[str, str | None]:
        try:
            _, _, body = parse_envelope(r.content)
        except SoapFault as exc:
            return PENDING, f"HTTP {r.status_code}, unreadable answer: {exc.string}"
        if body.tag == ENV + "Fault":
            code = (body.findtext("faultcode") or "").strip()
            text = (body.findtext("faultstring") or "").strip()
            final = code.endswith(":Client") or code == "Client"
            return (FAILED if final else PENDING), f"HTTP {r.status_code}, fault {code}: {text}"
        problems = WL2.validate(body)
        if r.status_code != 200 or problems or etree.QName(body).localname != OPERATION + "Response":
            detail = "; ".join(map(str, problems)) or etree.QName(body).localname
            return PENDING, f"HTTP {r.status_code}, not a valid {OPERATION}Response: {detail}"
        code = int(body.findtext(f"{x.NS}Signalering/{x.NS}Signaalcode"))
        if code == 0:
            return ACKNOWLEDGED, None
        text = body.findtext(f"{x.NS}Signalering/{x.NS}Signaaltekst")
        return (FAILED if code in FINAL_SIGNAALCODES else PENDING), f"signaalcode {code}: {text}"
