"""Where one WL 1.0 call spends its CPU, in one process, without gunicorn or load: profile before optimising.

bench/compare.py says how far the adapter is from the pass-through; this says why. It starts the simulator and the
stand-in upstream (bench/standin.py, recording, then replaying), builds the adapter's WSGI application in this
process from the same default configuration compare.py uses, and calls it directly (a WSGI environ, no socket on the
WL 1.0 side) N times per operation: first timed (µs per call, wall and this process's CPU), then under cProfile.
The stand-in still answers over loopback, so the WL 2.0 round trip (its wait included) is in the wall time.

With ``--garbage`` it counts what each call leaves in reference cycles instead (objects only the garbage collector
frees, in a full collection that stops the worker: with a hundred calls in flight such a collection took 0.1 s).

With ``--sample`` the calls are sampled by py-spy (this process, only the thread holding the GIL) instead of
cProfile, which inflates functions that make many small Python calls: the shares are then CPU as it is spent.

With ``--steps`` it times each step of the answer's way back on the messages of one call, each step alone and
repeated (best of 5): the safe parse of the WL 2.0 answer and libxml2's part of it, its validation, reading it into
dicts (by the walk in use, then by the Python walk, and lxml's own part of the latter: an element object, its tag
and its text per element), the translation, writing the WL 1.0 answer, and libxml2 parsing and validating that
(docs/figures.md, sixth and seventh rounds).

With ``--in-call`` it times the same steps (and those of the request's way out) inside real calls instead: each
step's function is wrapped with a clock, and the calls are made as usual. A step costs 2-7x more there than alone
(its code and data are no longer in the processor's caches, least of all after the wait for WL 2.0's answer), so
this says what a step is worth to a call (docs/figures.md, eighth round).

With ``--layers`` it measures the CPU of each layer a call passes through (the WSGI router, spyne's application,
the pipeline, the WL 2.0 call, ...) inside real calls, by this thread's CPU clock: a layer's figure less those of
the layers inside it is what the layer itself costs (docs/figures.md, twelfth round).

With ``--twins`` it measures what the compiled parts are worth, A/B in one process: blocks of calls alternate
between the Python twins and the compiled ones (``reader.WALK``, ``xmlbuild.WRITER`` and ``xmlsafe.SCAN``), and it
prints the median CPU per call of each and the median of their paired differences (one block of each, side by
side, which cancels most of a shared machine's drift).

Usage: .venv/bin/python bench/profile_calls.py [--calls 2000] [--ops VerifieerAccreditatie,Zoeken-E25]
       [--top 30] [--sort tottime|cumtime] [--sample] [--garbage] [--steps] [--in-call] [--layers] [--twins]
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (bench/compare.py: the operations, the processes, the captured answers)


def _environ(body: bytes) -> dict:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": "/wl1", "QUERY_STRING": "", "CONTENT_TYPE": compare.XML,
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1",
            "wsgi.errors": sys.stderr, "SERVER_PROTOCOL": "HTTP/1.1"}


def call(app, body: bytes) -> bytes:
    status = []
    out = b"".join(app(_environ(body), lambda s, h, e=None: status.append(s)))
    if not status or not status[0].startswith("200"):
        raise RuntimeError(f"{status}: {out[:300]!r}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--ops", default="VerifieerAccreditatie,Zoeken-E25,GeefDetails-leerplaats")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--sort", default="tottime")
    ap.add_argument("--sample", action="store_true", help="py-spy (sampling) instead of cProfile")
    ap.add_argument("--time-only", action="store_true", help="only the timed calls, no profile")
    ap.add_argument("--garbage", action="store_true", help="what each call leaves in reference cycles, by type")
    ap.add_argument("--steps", action="store_true", help="each step of the answer's way back, timed alone")
    ap.add_argument("--in-call", action="store_true", help="each step timed inside real calls")
    ap.add_argument("--layers", action="store_true", help="the CPU of each layer around the pipeline, in real calls")
    ap.add_argument("--twins", action="store_true", help="A/B: the Python twins against the compiled parts")
    a = ap.parse_args()
    with upstream("wl-profile-") as (tmp, sim_url, replay):
        from adapter.config import load_config
        from adapter.serve.build import Adapter

        adapter = Adapter(load_config(tmp / "adapter.toml"))
        ops, _data = compare.build_ops(sim_url)
        wanted = [o.strip() for o in a.ops.split(",")]
        ops = [o for o in ops if o.name in wanted]
        for op in ops:  # recorded from the simulator once, then replayed
            call(adapter.wsgi, op.wl1)
        replay()
        for op in ops:
            for _ in range(200):
                call(adapter.wsgi, op.wl1)
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(a.calls):
                call(adapter.wsgi, op.wl1)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"{op.name:24s} {wall * 1e6 / a.calls:7.0f} µs wall/call  {cpu * 1e6 / a.calls:7.0f} µs CPU/call")
            if a.time_only:
                continue
            if a.garbage:
                garbage(lambda body=op.wl1: call(adapter.wsgi, body), min(a.calls, 200), a.top)
                continue
            if a.steps:
                steps(lambda body=op.wl1: call(adapter.wsgi, body))
                continue
            if a.in_call:
                in_call(lambda body=op.wl1: call(adapter.wsgi, body), a.calls)
                continue
            if a.layers:
                layers(lambda body=op.wl1: call(adapter.wsgi, body), a.calls)
                continue
            if a.twins:
                twins(lambda body=op.wl1: call(adapter.wsgi, body), a.calls)
                continue
            if a.sample:
                sample(lambda body=op.wl1: call(adapter.wsgi, body), a.calls, tmp / f"spy-{op.name}.txt", a.top)
                continue
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(a.calls):
                call(adapter.wsgi, op.wl1)
            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).strip_dirs().sort_stats(a.sort).print_stats(a.top)
            print(out.getvalue())


@contextlib.contextmanager
def upstream(prefix: str):
    """The simulator and the stand-in recording from it, and an adapter configuration (the default one, as
    compare.py's) that calls the stand-in. Yields (a scratch directory holding that configuration as adapter.toml,
    the simulator's URL, ``replay``: makes the stand-in replay what it recorded, and stops the simulator)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    cli = compare.wl_adapter_cli()
    sim_port, standin_port = compare.free_port(), compare.free_port()
    sim = compare.Proc("simulator", [*cli, "simulate", "--port", str(sim_port), "--seed", "1", "--leerbedrijven",
                                     "2000", "--today", compare.TODAY, "--oin", compare.SBB_OIN], tmp / "sim.log")
    standin_url = f"http://127.0.0.1:{standin_port}"
    standin = compare.Proc("stand-in", [sys.executable, str(compare.BENCH / "standin.py"), "--port",
                                        str(standin_port), "--record-from", f"http://127.0.0.1:{sim_port}/wl2"],
                           tmp / "standin.log")

    def replay() -> None:
        compare.post(f"{standin_url}/_standin/mode?replay", b"", "application/json")
        sim.stop()
    try:
        sim.wait_http(f"http://127.0.0.1:{sim_port}/admin/health")
        standin.wait_http(f"{standin_url}/_standin/stats")
        (tmp / "adapter.toml").write_text(f"""[upstream]
url = "{standin_url}/wl2"
oin = "{compare.SBB_OIN}"
[store]
url = "sqlite:///{tmp / 'adapter.sqlite'}"
[[tenants]]
name = "ROC Bench"
oin = "{compare.SCHOOL_OIN}"
licence_sha256 = "{hashlib.sha256(compare.LICENCE.encode()).hexdigest()}"
""")
        yield tmp, f"http://127.0.0.1:{sim_port}", replay
    finally:
        standin.stop()
        if sim.proc.poll() is None:
            sim.stop()


def garbage(one_call, calls: int, top: int) -> None:
    """Make the calls with the collector off, then collect, keeping what it found: objects per call, by type."""
    import collections
    import gc

    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(calls):
            one_call()
        gc.collect()
        found = collections.Counter(type(o).__qualname__ for o in gc.garbage)
        if os.environ.get("WL_CYCLES"):
            ids = {id(o): i for i, o in enumerate(gc.garbage)}
            for i, o in enumerate(gc.garbage[: len(gc.garbage) // calls]):
                refs = [ids[id(r)] for r in gc.get_referents(o) if id(r) in ids]
                desc = type(o).__qualname__
                if isinstance(o, dict):
                    desc += " keys=" + ",".join(map(str, list(o)[:6]))
                elif hasattr(o, "__qualname__"):
                    desc += " " + o.__qualname__
                elif isinstance(o, list):
                    desc += f" len={len(o)} " + ",".join(type(x).__name__ for x in o[:4])
                print(f"    #{i} {desc[:110]} -> {refs}")
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    print(f"  {sum(found.values()) / calls:.1f} objects per call in reference cycles")
    for name, n in found.most_common(top):
        print(f"    {n / calls:8.1f}  {name}")


def steps(one_call) -> None:
    """One call with its messages caught on the way (the WL 2.0 answer's bytes, the dict the translation got and
    the WL 1.0 result it made), then each step on them alone: µs per step, best of 5 rounds."""
    import timeit
    from unittest.mock import patch

    from lxml import etree

    from adapter.contracts import WL1, WL2
    from adapter.soap import xmlbuild, xmlsafe
    from adapter.soap.envelope import SOAP11
    from adapter.translate import to_wl1
    from adapter.wl1.service import Answer
    from adapter.wl2 import client, reader

    caught: dict = {}
    answer, texts = client.Wl2Client._answer, Answer.texts
    translations = {name: getattr(to_wl1, name) for name in ("identificeer", "verifieer", "zoeken", "details")}

    def catch_answer(self, operation, exchange, status, content):
        caught["wl2"] = content
        return answer(self, operation, exchange, status, content)

    def catch_translation(name):
        def translate(*args):
            caught["translation"] = (translations[name], args)
            return translations[name](*args)
        return translate

    def catch_result(self, version):
        caught["wl1"] = self
        return texts(self, version)

    with patch.object(client.Wl2Client, "_answer", catch_answer), patch.object(Answer, "texts", catch_result), \
            patch.multiple(to_wl1, **{name: catch_translation(name) for name in translations}):
        one_call()
    if "wl2" not in caught or "translation" not in caught:
        print("  (no WL 2.0 answer to time: this operation is answered from the store)")
        return
    wl2 = caught["wl2"]
    message = client._message(xmlsafe.parse(wl2, client.ANSWER_LIMITS))
    translate, args = caught["translation"]
    text, alone = caught["wl1"].texts(SOAP11)
    wl1_message = xmlbuild.parse_own(text)[0][0]

    def lxml_only() -> None:
        for element in message.iter():
            element.tag, element.text  # noqa: B018 - the access is what is timed

    timed = [
        (f"WL 2.0 answer, safe parse ({len(wl2):,} bytes)", lambda: xmlsafe.parse(wl2, client.ANSWER_LIMITS)),
        ("... of which libxml2's parse", lambda: etree.fromstring(wl2, xmlsafe._parser())),
        ("WL 2.0 answer, validate", lambda: WL2.validate(message)),
        (f"WL 2.0 answer, read into dicts ({sum(1 for _ in message.iter())} elements)", lambda: reader.read(message)),
        (f"... the same by the Python walk (in use: the {reader.WALK} one)", lambda: reader.read(message, "python")),
        ("... lxml's element objects alone (element, tag, text)", lxml_only),
        (f"translate ({translate.__name__})", lambda: translate(*args)),
        (f"WL 1.0 answer, write ({len(text):,} characters)", lambda: caught["wl1"].texts(SOAP11)),
        ("WL 1.0 answer, libxml2 parse", lambda: xmlbuild.parse_own(text)),
        ("WL 1.0 answer, validate that tree", lambda: WL1.validate(wl1_message)),
        ("WL 1.0 answer, read and validated without a tree", lambda: WL1.check(alone.encode())),
    ]
    for label, step in timed:
        rounds = timeit.repeat(step, number=200, repeat=5)
        print(f"    {label:58s} {min(rounds) / 200 * 1e6:8.1f} µs")


# (module, attribute path) of each step in_call times; parse is timed where each caller looks it up
IN_CALL = [
    ("adapter.soap.envelope", "parse", "WL 1.0 request, safe parse"),
    ("adapter.contracts", "Contract.validate", "validations of trees (all but a large answer's)"),
    ("adapter.wl2.client", "Wl2Client._envelope", "WL 2.0 request, built by zeep"),
    ("adapter.wl2.client", "Wl2Client._header", "WL 2.0 request, its header"),
    ("adapter.wl2.transport", "Upstream.request", "WL 2.0 round trip (wall: the stand-in's time too)"),
    ("adapter.wl2.client", "parse", "WL 2.0 answer, safe parse"),
    ("adapter.wl2.client", "reader.read", "WL 2.0 answer, read into dicts"),
    *[("adapter.translate.to_wl1", name, "translate back")
      for name in ("identificeer", "verifieer", "zoeken", "details")],
    ("adapter.wl1.service", "Answer.texts", "WL 1.0 answer, write"),
    ("adapter.wl1.service", "xmlbuild.parse_own", "WL 1.0 answer, libxml2 parse (a small one)"),
    ("adapter.contracts", "Contract.check", "WL 1.0 answer, checked without a tree (a large one)"),
    ("adapter.ops.audit", "record", "audit record"),
]


# (module, attribute path, label) of each layer ``layers`` times, outermost first: each layer's CPU less that of the
# layers inside it is what the layer itself costs (the WSGI router and the call's listeners, spyne's handling of
# the request around the pipeline, the pipeline around the WL 2.0 call)
LAYERS = [
    ("adapter.serve.routes", "Router.__call__", "the router (the whole call)"),
    ("adapter.wl1.call", "CallListeners.done", "... the call's listeners (audit, metrics)"),
    ("adapter.wl1.service", "_WsgiApplication.__call__", "... spyne's WSGI application"),
    ("adapter.wl1.service", "_take_apart", "    ... taking spyne's contexts apart"),
    ("spyne.server._base", "ServerBase.generate_contexts", "    ... the request's contexts (with its safe parse)"),
    ("adapter.wl1.service", "_Hardened.create_in_document", "        ... the request's safe parse"),
    ("spyne.application", "Application.process_request", "    ... spyne calling the operation"),
    ("adapter.wl1.pipeline", "Pipeline.handle", "        ... the pipeline"),
    ("adapter.wl2.client", "Wl2Client.call", "            ... the WL 2.0 call (its wait not counted)"),
    ("adapter.wl1.service", "_Hardened.serialize", "    ... writing the answer (with its check)"),
]


def _clocked(steps: list[tuple[str, str, str]], clock, one_call, calls: int) -> tuple[float, float, dict[str, float]]:
    """Each of ``steps`` wrapped with ``clock``, then ``calls`` calls: (wall, CPU, seconds per label) per call."""
    import importlib

    spent: dict[str, float] = dict.fromkeys([label for *_, label in steps], 0.0)
    undo = []
    for module, path, label in steps:
        owner = importlib.import_module(module)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        original = getattr(owner, name)

        def timed(*args, _original=original, _label=label, **kwargs):
            started = clock()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_label] += clock() - started

        setattr(owner, name, timed)
        undo.append((owner, name, original))
    try:
        for _ in range(100):
            one_call()
        spent.update(dict.fromkeys(spent, 0.0))
        wall, cpu = time.perf_counter(), time.thread_time()
        for _ in range(calls):
            one_call()
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    finally:
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)
    return wall / calls, cpu / calls, {label: seconds / calls for label, seconds in spent.items()}


def in_call(one_call, calls: int) -> None:
    """Each step of IN_CALL wrapped with a clock, then ``calls`` calls: µs per call spent in each (wall)."""
    wall, cpu, spent = _clocked(IN_CALL, time.perf_counter, one_call, calls)
    print(f"    {'the whole call (with the clocks)':58s} {wall * 1e6:8.1f} µs wall, {cpu * 1e6:.1f} CPU")
    for label, seconds in spent.items():
        if seconds:
            print(f"    {label:58s} {seconds * 1e6:8.1f} µs")


def layers(one_call, calls: int) -> None:
    """Each of LAYERS wrapped with a clock of this thread's CPU, then ``calls`` calls: µs of CPU per call in each."""
    _wall, _cpu, spent = _clocked(LAYERS, time.thread_time, one_call, calls)
    for label, seconds in spent.items():
        print(f"    {label:58s} {seconds * 1e6:8.1f} µs CPU")


def twins(one_call, calls: int) -> None:
    """Blocks of calls alternating between the Python twins and the compiled parts (the order swapped every other
    round): median CPU per call of each, and the median of the paired differences."""
    import statistics

    from adapter.soap import xmlbuild, xmlsafe
    from adapter.wl2 import reader

    def use(twin: str) -> None:
        reader.WALK = xmlbuild.WRITER = xmlsafe.SCAN = twin

    block, rounds = 50, max(2, calls // 100)
    cpu: dict[str, list[float]] = {"python": [], "compiled": []}
    try:
        for _ in range(100):
            one_call()
        for n in range(rounds):
            for twin in (("python", "compiled") if n % 2 == 0 else ("compiled", "python")):
                use(twin)
                started = time.process_time()
                for _ in range(block):
                    one_call()
                cpu[twin].append((time.process_time() - started) / block * 1e6)
    finally:
        use("compiled")
    for twin, values in cpu.items():
        print(f"    {twin + ' twins':20s} median {statistics.median(values):8.1f} µs CPU per call")
    differences = [c - p for c, p in zip(cpu["compiled"], cpu["python"], strict=True)]
    print(f"    compiled - python    median {statistics.median(differences):+8.1f} µs "
          f"({rounds} rounds of {block} calls each)")


def sample(one_call, calls: int, raw: Path, top: int) -> None:
    """Make the calls while py-spy samples this process; print self and total shares (compare.summarise_profile)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    spy_proc = subprocess.Popen([spy, "record", "--pid", str(os.getpid()), "--rate", "500", "--format", "raw",
                                 "--output", str(raw), "--gil", "--nonblocking"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches
    for _ in range(calls):
        one_call()
    spy_proc.send_signal(2)  # SIGINT: py-spy writes what it has
    spy_proc.wait(timeout=60)
    summary = compare.summarise_profile(raw.read_text(), top)
    print(f"  {summary['samples']} samples")
    for kind in ("total", "self"):
        print(f"  {kind}:")
        for frame, pct in summary[kind]:
            print(f"    {pct:5.1f} %  {frame}")


if __name__ == "__main__":
    main()
