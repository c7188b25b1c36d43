"""What the tests of the WL 2.0 leg share (wl2/test_resilience.py, simulator/test_sim_network_faults.py): an adapter
with extra lines in its [upstream] table, one GeefDetails with how long it took, and one metric's value."""
from __future__ import annotations

import re
import time
from pathlib import Path

import requests
from lxml import etree

from tests.support.servers import LICENCE, Server, free_port, write_config
from tests.support.soap import WL1_NS, post, wl1_request

COMPANY = "100001"  # all digits: used as LeerbedrijfId as is, one WL 2.0 call per GeefDetails


def geef_details(adapter_url: str, licence: str = LICENCE, timeout: float = 15) -> tuple[int, float, requests.Response]:
    """One GeefDetails over HTTP; (signaalcode, seconds, response)."""
    request = wl1_request("GeefDetails", f"<w:CodeLeerbedrijf>{COMPANY}</w:CodeLeerbedrijf>", licence, prolog="")
    started = time.monotonic()
    r = post(f"{adapter_url}/wl1", request, timeout=timeout)
    elapsed = time.monotonic() - started
    assert r.status_code == 200, r.text[:500]
    code = etree.fromstring(r.content).findtext(f".//{{{WL1_NS}}}Signaalcode")
    return int(code), elapsed, r


def metric(adapter_url: str, name: str) -> float | None:
    """The value of the metric's only series (whatever its labels, e.g. the breaker's instance)."""
    text = requests.get(f"{adapter_url}/metrics", timeout=5).text
    m = re.search(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else None


def custom_adapter(workdir: Path, upstream_url: str, upstream_lines: str = "", tenant_lines: str = "",
                   timeout_s: float = 3.0) -> Server:
    """An adapter with the shared test configuration plus lines in [upstream] and in the first tenant (ROC Test);
    TOML cannot reopen a table, so ``start_adapter(extra=...)`` cannot express these."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = write_config(workdir / "adapter.toml", upstream_url, f"sqlite:///{workdir / 'adapter.sqlite'}", port,
                          timeout_s=timeout_s)
    text = config.read_text()
    text = text.replace("[upstream]\n", "[upstream]\n" + upstream_lines, 1)
    text = text.replace('name = "ROC Test"\n', 'name = "ROC Test"\n' + tenant_lines, 1)
    config.write_text(text)
    server = Server(["serve", "--config", str(config)], port, "/healthz", log=workdir / "adapter.log")
    return server
