"""``wl-adapter serve --config FILE``: the adapter under gunicorn."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile


def _serve(args: argparse.Namespace) -> int:
    from adapter.config import load_config
    from adapter.errors import ConfigError
    from adapter.serve.runner import ServerOptions, run

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"wl-adapter: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    s = config.server
    if s.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # several workers: metrics are aggregated across them through files in this directory
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="wl-adapter-metrics-")
    options = ServerOptions(host=s.host, port=s.port, workers=s.workers, threads=s.threads)

    built = []

    def factory():
        from adapter.serve.build import Adapter

        built.append(Adapter(config))
        return built[0].wsgi

    run(factory, options, post_fork=lambda: built[0].after_fork())
    return 0


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the adapter (WL 1.0 face in front of WL 2.0)")
    p.add_argument("--config", required=True, metavar="FILE", help="TOML configuration (see docs/configuration.md)")
    p.set_defaults(func=_serve)
