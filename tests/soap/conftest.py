"""The safe parser's tests run with each twin of its look at the raw bytes (``xmlsafe.SCANS``: the Python one and
the compiled one, adapter/soap/_scan.pyx): a module that says ``pytestmark = pytest.mark.usefixtures("scan")`` gets
each of its tests twice, except those against a running adapter or another process (which use the twin they were
started with) and those marked ``one_scan``."""
from __future__ import annotations

import pytest

from adapter.soap import xmlsafe

TWINS = ["python", "compiled"]  # not xmlsafe.SCANS: a build without the compiled twin must fail here, not skip it


def pytest_configure(config):
    config.addinivalue_line("markers", "one_scan: the test parses in another process; run it with one twin")


def pytest_generate_tests(metafunc):
    if "scan" in metafunc.fixturenames:
        one = "adapter" in metafunc.fixturenames or metafunc.definition.get_closest_marker("one_scan")
        metafunc.parametrize("scan", TWINS[-1:] if one else TWINS, indirect=True)


@pytest.fixture
def scan(request, monkeypatch) -> str:
    monkeypatch.setattr(xmlsafe, "SCAN", request.param)
    return request.param
