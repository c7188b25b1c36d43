"""A worker replaced after ``max_requests`` calls is succeeded, not just stopped: its successor accepts before it stops
(``adapter/serve/runner.py``, ``Succession``). gunicorn on its own stops the worker first and starts the next one
after, and in between the worker's clients had nowhere to go but the other workers (at 256 clients the p99 doubled).

A tiny WSGI application that answers with its worker's pid, served through the project's runner in a process of its
own, with each kind of worker and a single worker: every answer is in the order the clients got it.
"""
from __future__ import annotations

import http.client
import threading
import time

import pytest

from tests.support.servers import serve_app

APP = """
import os, sys, time
from adapter.serve import runner

def app(environ, start_response):
    time.sleep(0.2 if environ["PATH_INFO"] == "/slow" else 0.001)  # a call in flight for a while, or a moment
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

options = runner.ServerOptions(port=int(sys.argv[1]), workers=1, threads=8, worker=sys.argv[2], max_requests=150,
                               keepalive_s=15)  # more than a slow machine may take to start a successor
if sys.argv[3] == "plain":  # gunicorn's own arbiter, which knows nothing of successions
    from gunicorn.arbiter import Arbiter

    runner.SUCCESSOR_WAIT_S = 0.3

    class Plain(runner._Gunicorn):
        def run(self):
            Arbiter(self).run()

    Plain(lambda: app, options).run()
else:
    runner.run(lambda: app, options)
"""

WORKERS = ["gthread", "gevent"]


def answers(port: int, kept_alive: int, fresh: int, calls: int, path: str = "/") -> tuple[list[int], list[str]]:
    """The pids that answered, in the order they did: ``fresh`` clients make ``calls`` quick calls each, on a new
    connection per call (these find whichever worker accepts), while ``kept_alive`` clients call ``path`` on a
    connection each, back to back until the others are done."""
    order: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def call(connection, path: str, keep: bool) -> None:
        try:
            connection.request("GET", path, headers={} if keep else {"Connection": "close"})
            pid = int(connection.getresponse().read())
            with lock:
                order.append(pid)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            failures.append(repr(exc))
            connection.close()

    def fresh_client() -> None:
        for _ in range(calls):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            call(connection, "/", False)
            connection.close()

    def kept_alive_client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not done.is_set():
            call(connection, path, True)
        connection.close()

    others = [threading.Thread(target=kept_alive_client) for _ in range(kept_alive)]
    clients = [threading.Thread(target=fresh_client) for _ in range(fresh)]
    for t in others + clients:
        t.start()
    for t in clients:
        t.join(120)
    done.set()
    for t in others:
        t.join(30)
    return order, failures


def successions(order: list[int]) -> list[tuple[int, int, bool]]:
    """(worker, successor, overlapped) for each worker that had a successor: overlapped when the successor answered
    a call before the worker answered its last one."""
    pids = list(dict.fromkeys(order))  # in the order each first answered
    last = {pid: i for i, pid in enumerate(order)}
    first = {pid: order.index(pid) for pid in pids}
    return [(old, new, first[new] < last[old]) for old, new in zip(pids, pids[1:])]


@pytest.mark.parametrize("worker", WORKERS)
def test_the_successor_accepts_before_the_worker_it_succeeds_stops(worker):
    """Four kept-alive clients keep 0.2 s calls in flight, so a worker that stops answers one of those last. With
    gunicorn's own replacement the successor only starts once the worker has stopped (those calls answered): it
    never answers first. Here it starts while the worker still serves, and answers the quick calls on new
    connections while the worker finishes its slow ones."""
    proc, port = serve_app(APP, worker, "succession")
    try:
        order, failures = answers(port, kept_alive=4, fresh=2, calls=300, path="/slow")
    finally:
        proc.terminate()
        proc.wait(10)
    assert failures == [] and len(order) >= 600
    replaced = successions(order)
    assert len(replaced) >= 3  # a successor asked for after every 150 calls, and only one worker at a time
    # the last may have come when the quick calls were done: nothing left for it to answer first
    assert all(overlapped for _, _, overlapped in replaced[:-1]), replaced


@pytest.mark.parametrize("worker", WORKERS)
def test_without_an_arbiter_that_starts_successors_a_worker_still_stops_after_max_requests(worker):
    """The memory safety net holds also where nothing answers the request for a successor: the worker stops by
    itself ``SUCCESSOR_WAIT_S`` later, and gunicorn's arbiter replaces it as it always did."""
    proc, port = serve_app(APP, worker, "plain")
    try:
        order: list[int] = []
        deadline = time.monotonic() + 30
        while len(set(order)) < 2 and time.monotonic() < deadline:  # more calls until a second worker answers
            more, failures = answers(port, kept_alive=2, fresh=4, calls=25)
            assert failures == []
            order += more
    finally:
        proc.terminate()
        proc.wait(10)
    assert len(successions(order)) >= 1


def test_a_succeeded_worker_answers_the_next_request_of_a_connection_that_was_idle():
    """A worker whose successor serves already leaves its kept-alive connections to end as any does: the next
    request on one is answered (``Connection: close``), however long its client took to send it within the
    keep-alive time. Closing those idle for 0.1 s raced with clients that were themselves held up that long: wrk,
    stopped for 0.25 s now and then at 256 clients, lost 23-87 requests in four of five runs (serve/greenlets.py)."""
    proc, port = serve_app(APP, "gevent", "succession")
    try:
        idle = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        idle.request("GET", "/")
        first = int(idle.getresponse().read())  # kept alive, then idle while the worker is succeeded
        order: list[int] = []
        deadline = time.monotonic() + 30
        while first in order[-5:] or len(order) < 5:  # new connections until only the successor answers
            assert time.monotonic() < deadline, "no successor answered"
            more, failures = answers(port, kept_alive=0, fresh=4, calls=25)
            assert failures == []
            order += more
        time.sleep(1.0)  # idle ten times longer than a stopping worker used to wait
        idle.request("GET", "/")
        response = idle.getresponse()
        assert int(response.read()) == first and response.getheader("Connection") == "close"
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_new_worker_gets_a_slot_that_no_live_worker_holds():
    """Slots in the memory the workers share are chosen by the arbiter before each fork. By ``age`` modulo the
    slots, as they were, a worker that outlived eight replacements of the others shared its slot with a newer one:
    its connections went uncounted, and its successor's start went unseen."""
    from types import SimpleNamespace

    from adapter.serve.runner import slot_for

    cfg = SimpleNamespace(workers=2)  # what slot_for reads of gunicorn's workers: their configuration, age and slot
    live = [SimpleNamespace(cfg=cfg, age=2, slot=2), SimpleNamespace(cfg=cfg, age=9, slot=0)]
    assert slot_for(SimpleNamespace(cfg=cfg, age=10), live) == 1  # not 10 % 8: the worker of age 2 holds slot 2
    live.append(SimpleNamespace(cfg=cfg, age=10, slot=1))
    del live[1]  # the worker in slot 0 has gone
    assert slot_for(SimpleNamespace(cfg=cfg, age=11), live) == 0
