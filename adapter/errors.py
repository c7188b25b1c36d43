"""Every exception the adapter raises on purpose, in one tree (after httpx's ``_exceptions.py``).

Three branches, because a WL 1.0 client sees three kinds of failure:

* ``Outcome``: a business outcome. It is not a failure of the call: the school gets a WL 1.0 answer whose
  ``Signaalcode`` the exception carries (3 unknown company, 4 invalid input, 998 WL 2.0 unreachable, ...), so
  the pipeline maps every outcome in one place (``translate.to_wl1.outcome_of``).
* ``SoapFault``: the request itself is refused with a SOAP fault (``Client``: the sender's mistake; ``Server``:
  ours, or a limit of ours).
* the rest: start-up, store and import problems that stop a command or a process with one clear line, and the
  WL 2.0 line's ``TransportError``s, which the WL 2.0 client turns into ``UpstreamUnavailable`` (998).

The simulator plays SBB and keeps its own small exceptions (``adapter/simulator/errors.py``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapter.contracts import Problem
    from adapter.store.model import LineProblem


class AdapterError(Exception):
    """The root: ``except AdapterError`` catches everything the adapter means to raise."""


# -- business outcomes: answered with a signaalcode, never a fault ------------------------------------------------
class Outcome(AdapterError):
    """A WL 1.0 answer other than success; ``signaalcode`` and ``melding`` are what the school is told."""

    signaalcode: int = 999

    @property
    def melding(self) -> str | None:
        return None


class UnknownCode(Outcome, LookupError):
    """The CodeLeerbedrijf cannot be resolved to exactly one LeerbedrijfId."""

    signaalcode = 3


class InvalidInput(Outcome, ValueError):
    """Input the XSD allows but that makes no sense; the Melding names the element."""

    signaalcode = 4

    def __init__(self, element: str, reason: str):
        super().__init__(f"{element}: {reason}")
        self.element = element
        self.reason = reason

    @property
    def melding(self) -> str:
        return f"{self.element}: {self.reason}"


class RequestNotExpressible(Outcome):
    """The translated WL 2.0 request violates the WL 2.0 XSD (WL 1.0 signaalcode 4): nothing was sent. The
    problems name WL 2.0 elements; ``to_wl1.outcome_of`` renames them to the WL 1.0 ones the school sent."""

    signaalcode = 4

    def __init__(self, operation: str, problems: list[Problem]):
        super().__init__("; ".join(map(str, problems)))
        self.operation = operation
        self.problems = problems


class Wl2Refused(Outcome):
    """WL 2.0 answered a helper call (the old-code search) with an error: that error's WL 1.0 code and text."""

    def __init__(self, signaalcode: int, melding: str | None = None):
        super().__init__(f"{signaalcode}: {melding}")
        self.signaalcode = signaalcode
        self._melding = melding

    @property
    def melding(self) -> str | None:
        return self._melding


class UpstreamUnavailable(Outcome):
    """WL 2.0 could not be reached in time (timeout, refused, 5xx without a SOAP answer, circuit open): nothing
    was changed."""

    signaalcode = 998


class CircuitOpen(UpstreamUnavailable):
    """The circuit breaker refuses calls for now: WL 2.0 failed too often in a row."""


class UpstreamError(Outcome):
    """WL 2.0 answered, but not with a usable answer (a fault, an answer that violates its XSD, unreadable)."""

    signaalcode = 999


# -- the WL 2.0 leg's line: no HTTP answer was read (adapter/wl2/transport.py; the client makes them 998) ------------
class TransportError(AdapterError):
    """The request could not be made or its answer not read; ``kind`` is what the metrics count it as."""

    kind = "connection"


class ConnectError(TransportError):
    """No connection: refused, unreachable, or a host name that does not resolve."""

    kind = "refused"


class ConnectTimeout(TransportError):
    """No connection (or TLS handshake) within the connect timeout."""

    kind = "timeout"


class TlsError(TransportError):
    """The TLS handshake failed (an untrusted server, a client certificate refused or unreadable)."""

    kind = "tls"


class ReadTimeout(TransportError):
    """The whole answer did not arrive within the attempt's time. Not retried: asking a slow upstream again only
    makes it slower."""

    kind = "timeout"


class ReadError(TransportError):
    """The connection was reset or closed while the request was sent or before its answer was complete."""

    kind = "reset"


class RemoteProtocolError(TransportError):
    """What came back is not HTTP."""

    kind = "reset"


class AnswerTooLarge(TransportError):
    """The answer is larger than ``max_response_bytes``: not read further (not retried: it would come again)."""

    kind = "too_large"


# -- faults: the request is refused -------------------------------------------------------------------------------
class SoapFault(AdapterError):
    """A fault to answer with: ``code`` is ``Client`` or ``Server`` (SOAP 1.1 names), ``string`` plain words."""

    code = "Server"

    def __init__(self, code: str, string: str, http_status: int = 500):
        super().__init__(string)
        self.code = code
        self.string = string
        self.http_status = http_status


class XmlRejected(SoapFault, ValueError):
    """The bytes are not a document we will parse (malformed, DTD, too large or too deep)."""

    def __init__(self, reason: str, http_status: int = 500):
        super().__init__("Client", reason, http_status)
        self.reason = reason


class RequestInvalid(SoapFault):
    """The WL 1.0 request violates the frozen XSD; ``problems`` name the elements."""

    def __init__(self, problems: list[Problem]):
        super().__init__("Client", "the request does not match the WL 1.0 schema: "
                         + "; ".join(str(p) for p in problems))
        self.problems = problems


class RateLimited(SoapFault):
    """The school's rate limit is exceeded. A fault, not a signaalcode: WL 1.0 has no code for "slow down", and
    998 would claim WL 2.0 was unreachable."""

    def __init__(self, string: str):
        super().__init__("Server", string)


class PushRefused(SoapFault):
    """A push whose sender is not authenticated as SBB (``mutations/auth.py``): HTTP 403, the message unread."""

    def __init__(self, reason: str):
        super().__init__("Client", reason, 403)
        self.reason = reason


# -- set-up, store and import problems ----------------------------------------------------------------------------
class ConfigError(AdapterError, ValueError):
    """The configuration cannot be used; the message names the key."""


class StartupCheckFailed(ConfigError):
    """A start-up check found what the configuration names unusable (a key file that does not match its
    certificate, a store that does not answer): ``serve`` stops with this one line (``serve/checks.py``)."""


class InvalidSubject(AdapterError, ValueError):
    """A text that is not an RFC 4514 distinguished name (``[pushes] sbb_subject``, a proxy's subject header)."""


class StoreUnavailable(AdapterError, RuntimeError):
    """The store cannot be reached or written: the caller answers so that the other side retries."""


class SchemaTooNew(AdapterError, RuntimeError):
    """The store was migrated by a newer wl-adapter than this one."""


class UnreadableFile(AdapterError):
    """An input file (CSV) cannot be read or decoded."""


class ImportRejected(AdapterError, ValueError):
    """A file with bad rows: every problem by line number; nothing was loaded."""

    def __init__(self, what: str, problems: list[LineProblem]):
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__(f"{what}: {len(self.problems)} bad line(s), nothing loaded: "
                         + "; ".join(f"line {p.line}: {p.reason}" for p in self.problems))


class MappingImportError(ImportRejected):
    def __init__(self, problems: list[LineProblem]):
        super().__init__("code mapping import", problems)


class SubscriptionImportError(ImportRejected):
    def __init__(self, problems: list[LineProblem]):
        super().__init__("subscription import", problems)


class SyncError(AdapterError):
    """WL 2.0 answered ``subscriptions sync`` for one school, but not usefully (a signaalcode other than 0, or an
    unusable answer)."""
