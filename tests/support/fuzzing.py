"""What the property-based test modules share: hypothesis settings and note/event helpers (their SOAP answers are
tests.support.soap.SoapAnswer)."""
from hypothesis import HealthCheck, settings
from hypothesis import event as _event
from hypothesis import note as _note
from hypothesis.errors import InvalidArgument

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
