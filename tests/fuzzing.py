"""What the property-based test modules share: hypothesis settings, note/event helpers, a SOAP answer."""
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import event as _event
from hypothesis import note as _note
from hypothesis.errors import InvalidArgument
from lxml import etree

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"

COMMON = settings(deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                         HealthCheck.data_too_large])


def note(text: str) -> None:
    """hypothesis.note, also usable from the explicit (non-hypothesis) tests that share the helpers."""
    try:
        _note(text)
    except InvalidArgument:
        pass


def event(text: str) -> None:
    try:
        _event(text)
    except InvalidArgument:
        pass


@dataclass
class SoapAnswer:
    """An HTTP answer carrying a SOAP envelope: its one body message, and the fault (QName, string) if it is one."""

    status: int
    root: etree._Element
    raw: bytes

    @property
    def message(self) -> etree._Element:
        return next(c for c in self.root.find(f"{{{SOAP_NS}}}Body") if isinstance(c.tag, str))

    @property
    def fault(self) -> tuple[str, str] | None:
        msg = self.message
        if msg.tag != f"{{{SOAP_NS}}}Fault":
            return None
        code = (msg.findtext("faultcode") or "").strip()
        prefix, _, local = code.rpartition(":")
        return f"{{{msg.nsmap.get(prefix or None)}}}{local}", (msg.findtext("faultstring") or "").strip()
