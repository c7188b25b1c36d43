"""The spyne host of the WL 1.0 face (adapter/wl1/service.py), in this process: what it changes of spyne's own
classes leaves every answer as spyne's unchanged classes give it."""
from __future__ import annotations

import pytest
from spyne.context import MethodContext

from adapter.wl1 import service
from tests.support.servers import wsgi_call
from tests.support.soap import EXAMPLE_CALLS


@pytest.mark.parametrize("name", EXAMPLE_CALLS)
def test_answers_are_the_same_with_spynes_context_guard(in_process, monkeypatch, name):
    """spyne's ``MethodContext.__setattr__`` refuses an attribute a context did not have after its ``__init__``;
    the service drops that guard for speed. With the guard back, the same requests get the same answers: no code
    on the way sets an attribute spyne does not define (it would be refused, and the answer would be a fault)."""
    body = EXAMPLE_CALLS[name].encode()
    wsgi_call(in_process.wsgi, body)  # first-call work (mapping caches, subscriptions) out of the comparison
    lean = wsgi_call(in_process.wsgi, body)
    monkeypatch.setattr(MethodContext, "__setattr__", service.GUARDED_SETATTR)
    assert wsgi_call(in_process.wsgi, body) == lean
    assert b"Envelope" in lean


def test_the_guard_refuses_what_it_should_when_back():
    """The negative control: spyne's guard, once back, does refuse a new attribute on a finished context."""
    ctx = MethodContext.__new__(MethodContext)
    object.__setattr__(ctx, "frozen", True)
    with pytest.raises(ValueError, match="udc"):
        service.GUARDED_SETATTR(ctx, "not_spynes", 1)
