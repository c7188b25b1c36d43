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


# -- the answer's check: a large one is read without a tree, a small one as a tree; both find the same ------------
@pytest.fixture
def search_answer(in_process, monkeypatch) -> str:
    """The message element of a real 25-result Zoeken answer, as ``serialize`` checks it (``Answer.texts``)."""
    seen: list[str] = []
    checked = service._checked
    monkeypatch.setattr(service, "_checked", lambda alone, validate: seen.append(alone) or checked(alone, validate))
    wsgi_call(in_process.wsgi, EXAMPLE_CALLS["Zoeken"].encode())
    monkeypatch.setattr(service, "_checked", checked)
    assert len(seen) == 1 and len(seen[0]) > service.READ_WITHOUT_TREE and seen[0].count("<Resultaat>") == 25
    return seen[0]


BROKEN = {  # what a writer's mistake could do to an answer
    "a value of the wrong type": ("<Signaalcode>0<", "<Signaalcode>nul<"),
    "an element left out": ("<Signaalcode>0</Signaalcode>", ""),
    "an element too many": ("</Signaalcode>", "</Signaalcode><Signaalcode>0</Signaalcode>"),
    "an element of another namespace": ("<Signaalcode>0</Signaalcode>",
                                        '<Signaalcode xmlns="urn:other">0</Signaalcode>'),
}


@pytest.mark.parametrize("name", BROKEN)
def test_both_ways_of_checking_an_answer_find_the_same_problems(search_answer, monkeypatch, name):
    old, new = BROKEN[name]
    broken = search_answer.replace(old, new, 1)
    assert broken != search_answer
    found = {}
    for way, threshold in (("without a tree", 0), ("as a tree", 10**9)):
        monkeypatch.setattr(service, "READ_WITHOUT_TREE", threshold)
        assert service._checked(search_answer, True) == []
        found[way] = [(p.element, p.reason) for p in service._checked(broken, True)]
        assert service._checked(broken, False) == []  # validation off: only read
    assert found["without a tree"] == found["as a tree"] != []


@pytest.mark.parametrize("threshold", [0, 10**9], ids=["without a tree", "as a tree"])
@pytest.mark.parametrize("bad", ["\x01", "\ud800", "</Resultaat>"], ids=["control character", "lone surrogate",
                                                                              "not well-formed"])
def test_an_answer_that_is_not_xml_is_refused_either_way(search_answer, monkeypatch, threshold, bad):
    monkeypatch.setattr(service, "READ_WITHOUT_TREE", threshold)
    broken = search_answer.replace("<Signaalcode>0", f"<Signaalcode>0{bad}", 1)
    for validate in (True, False):
        with pytest.raises(ValueError):
            service._checked(broken, validate)


def test_a_large_answer_that_violates_the_xsd_is_a_server_fault(in_process, monkeypatch, caplog):
    """End to end, in this process: a 25-result answer (checked without a tree) that the XSD refuses never leaves
    (``wl1_response = "enforce"``, the default)."""
    texts = service.Answer.texts

    def broken(self, version):
        return tuple(text.replace("<Signaalcode>0<", "<Signaalcode>nul<", 1) for text in texts(self, version))
    monkeypatch.setattr(service.Answer, "texts", broken)
    answer = wsgi_call(in_process.wsgi, EXAMPLE_CALLS["Zoeken"].encode())
    assert b"<faultcode>soap:Server</faultcode>" in answer and b"Resultaat" not in answer
    assert "WL 1.0 Zoeken answer violates the XSD (enforce): Signaalcode:" in caplog.text
