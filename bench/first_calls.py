"""What a worker's first calls cost, against its later ones: the calls a freshly started or replaced worker makes
while it warms up, which show in the tail latency of whatever load it joins.

gunicorn loads the adapter once in its master (``preload_app``) and forks each worker from it; a worker replaced
after ``max_requests`` calls is forked from the same master, so it starts as cold as the first ones did. This script
does what that master and worker do, in one process: it builds the adapter from the default configuration (as
compare.py's, against the stand-in replaying the simulator's answers), freezes what it made as the master does, then
forks a child per trial that makes each operation's call a few times in a row and prints each call's wall time in
ms. The parent never calls, so each child's first call of an operation is a fresh worker's (docs/figures.md, tenth
round).

Usage: .venv/bin/python bench/first_calls.py [--trials 3] [--calls 4] [--profile GeefBedrijfsgegevens]
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402
from profile_calls import call, upstream  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=3, help="fresh workers, one after the other")
    ap.add_argument("--calls", type=int, default=4, help="calls of each operation per worker")
    ap.add_argument("--profile", default="", help="cProfile the first trial's first call of this operation")
    a = ap.parse_args()
    with upstream("wl-first-") as (tmp, sim_url, replay):
        from adapter.config import load_config
        from adapter.serve.build import Adapter

        ops, _data = compare.build_ops(sim_url)
        in_child(lambda: [call(Adapter(load_config(tmp / "adapter.toml")).wsgi, op.wl1) for op in ops])  # record
        replay()
        adapter = Adapter(load_config(tmp / "adapter.toml"))
        gc.collect()
        gc.freeze()  # as the master does before it forks (serve/runner.py)
        print(f"{'ms per call, in order':24s} " + " ".join(f"{i + 1:>6d}" for i in range(a.calls)))
        for trial in range(a.trials):
            in_child(lambda trial=trial: worker(adapter, ops, a.calls, a.profile if trial == 0 else ""))
            print()


def in_child(work) -> None:
    """``work`` in a forked child, as a gunicorn worker; this process waits for it."""
    pid = os.fork()
    if pid == 0:
        try:
            work()
        finally:
            sys.stdout.flush()
            os._exit(0)
    os.waitpid(pid, 0)


def worker(adapter, ops, calls: int, profile: str) -> None:
    adapter.after_fork()  # as gunicorn's post_fork hook: its own connections, its subscriber thread
    time.sleep(0.2)  # what a worker does before its first call (gevent's patching, the listening socket)
    for op in ops:
        times = []
        for i in range(calls):
            prof = cProfile.Profile() if op.name == profile and i == 0 else None
            started = time.perf_counter()
            if prof:
                prof.runcall(call, adapter.wsgi, op.wl1)
            else:
                call(adapter.wsgi, op.wl1)
            times.append((time.perf_counter() - started) * 1000)
            if prof:
                out = io.StringIO()
                pstats.Stats(prof, stream=out).sort_stats("cumtime").print_stats(40)
                print(out.getvalue())
        print(f"{op.name:24s} " + " ".join(f"{t:6.2f}" for t in times))


if __name__ == "__main__":
    main()
