"""The memory measures of a worker (adapter/serve/memory.py): glibc tuned in the serving process, and a trim once
large requests pause. What they achieve is measured by bench/memory.py (docs/figures.md, "Worker memory"); here,
that they are in place and act when they should."""
from __future__ import annotations

import ctypes
import gc
import io
import time

import pytest

from adapter.serve import memory
from adapter.serve.routes import Router
from tests.support.servers import wsgi_call
from tests.support.soap import EXAMPLE_CALLS

glibc = pytest.mark.skipif(memory._LIBC is None, reason="glibc only")


def _app(environ, start_response):
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _post(router: Router, size: int) -> bytes:
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/wl2/mutaties", "CONTENT_LENGTH": str(size),
               "wsgi.input": io.BytesIO(b"x" * size)}
    return b"".join(router(environ, lambda status, headers, exc_info=None: None))


@glibc
def test_tune_is_accepted_by_glibc():
    assert memory.tune(2) is True


@glibc
def test_a_large_request_is_followed_by_one_trim_once_they_pause(monkeypatch):
    trimmer = memory.Trimmer(delay_s=0.2)
    monkeypatch.setattr(memory, "TRIMMER", trimmer)
    monkeypatch.setattr("adapter.serve.routes.TRIMMER", trimmer)
    router = Router(_app, 2 * 1024 * 1024, mutaties=_app, trim_memory=True)
    assert _post(router, 1000) == b"ok"
    time.sleep(0.5)
    assert trimmer.trims == 0  # small requests: nothing to give back
    for _ in range(3):
        assert _post(router, memory.LARGE_BODY) == b"ok"
        time.sleep(0.05)
    assert trimmer.trims == 0  # not while they keep coming (within the delay)
    time.sleep(0.6)
    assert trimmer.trims == 1  # one trim for the three


@glibc
def test_a_burst_of_calls_in_flight_is_followed_by_one_trim_once_the_worker_is_quiet(monkeypatch):
    """With gevent a worker holds hundreds of calls at once; what they held is handed back when they are done."""
    trimmer = memory.Trimmer(delay_s=0.2)
    monkeypatch.setattr("adapter.serve.routes.TRIMMER", trimmer)
    router = Router(_app, 2 * 1024 * 1024, trim_memory=True)
    held = []

    def inner(environ, start_response):  # each call returns only when the next has started: all in flight at once
        if len(held) < memory.BUSY_CALLS - 1:
            held.append(1)
            return nested(environ, start_response)
        return _app(environ, start_response)

    def nested(environ, start_response):
        _wl1(router, 10)
        return _app(environ, start_response)

    router.wl1 = inner
    _wl1(router, 10)
    assert len(held) == memory.BUSY_CALLS - 1  # 64 calls were in flight at once
    time.sleep(0.6)
    assert trimmer.trims == 1
    for _ in range(memory.BUSY_CALLS):  # one after another: never busy
        _wl1(router, 10)
    time.sleep(0.4)
    assert trimmer.trims == 1


def _wl1(router: Router, size: int) -> bytes:
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/wl1", "CONTENT_LENGTH": str(size),
               "wsgi.input": io.BytesIO(b"x" * size)}
    return b"".join(router(environ, lambda status, headers, exc_info=None: None))


@glibc
def test_no_trim_when_the_allocator_is_left_alone(monkeypatch):
    trimmer = memory.Trimmer(delay_s=0.1)
    monkeypatch.setattr("adapter.serve.routes.TRIMMER", trimmer)
    router = Router(_app, 2 * 1024 * 1024, mutaties=_app, trim_memory=False)
    _post(router, memory.LARGE_BODY * 4)
    time.sleep(0.4)
    assert trimmer.trims == 0


@glibc
def test_trim_gives_freed_memory_back():
    """What a trim is for: pages freed between live blocks go back to the system."""
    libc = ctypes.CDLL(None)
    blocks = [ctypes.create_string_buffer(1000) for _ in range(50_000)]  # ~50 MB of small blocks
    keep = blocks[::100]
    del blocks
    before = _rss_kib()
    libc.malloc_trim(0)
    assert _rss_kib() < before - 10_000, (before, _rss_kib())
    assert len(keep) == 500


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_a_finished_call_lets_go_of_its_request():
    """spyne keeps the environ in a reference cycle until Python's next full collection: once the call is done,
    the environ holds neither the request's bytes nor its call record."""
    kept = []

    def cyclic_app(environ, start_response):
        environ["wsgi.input"].read()
        context = {"environ": environ}
        context["self"] = context  # as spyne's method context does
        kept.append(environ)
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [b"<answer/>"]

    router = Router(cyclic_app, 2 * 1024 * 1024)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/wl1", "CONTENT_LENGTH": str(memory.LARGE_BODY),
               "CONTENT_TYPE": "text/xml", "wsgi.input": io.BytesIO(b"x" * memory.LARGE_BODY)}
    assert b"".join(router(environ, lambda status, headers, exc_info=None: None)) == b"<answer/>"
    (env,) = kept
    assert not any(isinstance(v, bytes) and len(v) >= memory.LARGE_BODY for v in env.values())
    assert env["wsgi.input"].read() == b""
    assert "wl_adapter.call" not in env and not any(type(v).__name__ == "Call" for v in env.values())


@glibc
def test_a_trim_collects_what_reference_cycles_hold_first():
    trimmer = memory.Trimmer(delay_s=0.1)
    gc.disable()  # as between a worker's rare full collections
    try:
        cycle = {"data": bytearray(60 * 1024 * 1024)}
        cycle["self"] = cycle
        del cycle
        before = _rss_kib()
        trimmer.large()
        time.sleep(0.6)
        assert trimmer.trims == 1
        assert _rss_kib() < before - 40_000, (before, _rss_kib())
    finally:
        gc.enable()


# requests that are no SOAP call: (method, path, query)
OTHER = {"the WSDL": ("GET", "/wl1", "wsdl"), "an XSD": ("GET", "/xsd/wl1.xsd", ""), "GET /wl1": ("GET", "/wl1", ""),
         "PUT /wl1": ("PUT", "/wl1", ""), "metrics": ("GET", "/metrics", ""), "unknown path": ("GET", "/nothing", "")}


def _left_in_cycles(one_call) -> tuple[list, list[str]]:
    """Ten calls with the collector off: their answers, and what a full collection then finds."""
    for _ in range(3):
        one_call()  # caches, pools and first-call work are not what is measured
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        answers = [one_call() for _ in range(10)]
        gc.collect()
        return answers, [type(o).__qualname__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@pytest.mark.parametrize("name", EXAMPLE_CALLS)
def test_a_call_leaves_nothing_in_reference_cycles(in_process, name):
    """What a call leaves in reference cycles waits for a full collection, which stops the worker: with a hundred
    calls in flight that was 0.1-0.2 s at a time (spyne's contexts and events, the WL 2.0 answer's parser)."""
    answers, left = _left_in_cycles(lambda: wsgi_call(in_process.wsgi, EXAMPLE_CALLS[name].encode()))
    assert all(b"Envelope" in a for a in answers)
    assert left == []


@pytest.mark.parametrize("name", OTHER)
def test_other_requests_leave_nothing_in_reference_cycles(in_process, name):
    method, path, query = OTHER[name]
    answers, left = _left_in_cycles(lambda: wsgi_call(in_process.wsgi, b"", method, path, query))
    assert all(answers)  # each was answered with a body (a WSDL, a schema, metrics, or why not)
    if name in ("the WSDL", "an XSD"):
        assert all(b"<xs:schema" in a or b"definitions" in a for a in answers)
    assert left == []
