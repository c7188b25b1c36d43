"""``wl-adapter serve --config FILE``: the adapter under gunicorn.

With ``[pushes] listen`` the adapter has two listeners with different TLS settings — the WL 1.0 face (plain HTTP
or TLS without client certificates) and the push listener (TLS, SBB's client certificate required). gunicorn's TLS
settings hold for every address one gunicorn binds, so each listener is a gunicorn of its own, and ``serve`` runs
both as child processes (``--listener main`` and ``--listener pushes``): a signal to ``serve`` reaches both, and
when one of them ends the other is stopped too, so the adapter never runs with half its listeners unnoticed (a
service manager restarts the whole). Without ``listen`` there is one listener, served in this process.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time

log = logging.getLogger("wl_adapter.server")
LISTENERS = ("main", "pushes")


def _serve(args: argparse.Namespace) -> int:
    from adapter.config import load_config
    from adapter.errors import ConfigError, StartupCheckFailed

    try:
        config = load_config(args.config)
        if args.listener == "pushes" and config.pushes.way != "listen":
            raise ConfigError("pushes.listen: --listener pushes needs a push listener configured")
        warnings = [] if args.checked else _check(config, args.listener)
    except StartupCheckFailed as exc:
        print(f"wl-adapter: cannot start: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"wl-adapter: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for warning in warnings:
        log.warning("wl-adapter: warning: %s", warning)
    two = config.pushes.way == "listen"
    if (config.server.workers > 1 or two) and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # several processes: metrics are aggregated across them through files in this directory
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="wl-adapter-metrics-")
    if two and args.listener is None:
        return _supervise(args.config)
    if args.listener == "pushes":
        return _run_push_listener(config)
    return _run_main_listener(config)


def _check(config, listener: str | None) -> list[str]:
    """The start-up checks (``serve/checks.py``) for the listeners this process (or its children) will open."""
    from adapter.serve import checks

    addresses = []
    if listener in (None, "main"):
        addresses.append(("server.port", config.server.host, config.server.port))
    if listener in (None, "pushes") and config.pushes.way == "listen":
        addresses.append(("pushes.listen", *config.pushes.listen_address))
    return checks.run_all(config, addresses)


def _run_main_listener(config) -> int:
    from adapter.serve.build import start_line
    from adapter.serve.runner import ServerOptions, run

    s = config.server
    built = []

    def factory():
        from adapter.serve.build import Adapter

        built.append(Adapter(config))
        return built[0].wsgi

    if s.malloc_arena_max:
        from adapter.serve.memory import tune

        tune(s.malloc_arena_max)  # before the workers are forked, so each has it
    run(factory, ServerOptions(host=s.host, port=s.port, workers=s.workers, threads=s.threads, worker=s.worker,
                               connections=s.connections, max_requests=s.max_requests,
                               max_requests_jitter=s.max_requests_jitter),
        post_fork=lambda: built[0].after_fork(), on_ready=lambda: log.info("%s", start_line(config)))
    return 0


def _run_push_listener(config) -> int:
    from adapter.serve.runner import ServerOptions, run

    p = config.pushes
    host, port = p.listen_address
    built = []

    def factory():
        from adapter.serve.build import PushListener

        built.append(PushListener(config))
        return built[0].wsgi

    run(factory, ServerOptions(host=host, port=port, workers=1, threads=p.threads, certfile=p.certfile,
                               keyfile=p.keyfile, client_ca=p.client_ca, name="wl-adapter-pushes"),
        post_fork=lambda: built[0].after_fork())
    return 0


def _supervise(config_path: str) -> int:
    """Both listeners as child processes until a signal or one of them ends; then both stop."""
    # the checks ran here, before the children start: they need not run them again
    command = [sys.executable, "-m", "adapter", "serve", "--config", config_path, "--checked", "--listener"]
    children = {name: subprocess.Popen([*command, name]) for name in LISTENERS}
    stopping: list[int] = []

    def forward(signum, _frame):
        if signum != signal.SIGHUP:  # SIGHUP: gunicorn reloads its workers, nothing stops
            stopping.append(signum)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    while all(child.poll() is None for child in children.values()):
        time.sleep(0.2)
    name, ended = next((n, c) for n, c in children.items() if c.returncode is not None)
    if not stopping:
        log.error("the %s listener ended (exit %s); stopping the adapter", name, ended.returncode)
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    for child in children.values():
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return 0 if stopping else (ended.returncode or 1)


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the adapter (WL 1.0 face in front of WL 2.0)")
    p.add_argument("--config", required=True, metavar="FILE", help="TOML configuration (see docs/configuration.md)")
    p.add_argument("--listener", choices=LISTENERS,
                   help="run only this listener (with [pushes] listen, serve runs both; see docs/operations.md)")
    p.add_argument("--checked", action="store_true", help=argparse.SUPPRESS)  # the supervisor ran the checks
    p.set_defaults(func=_serve)
